// What the forward pass asks of a backend. A backend owns one f32 memory; a Vec is a slice of it
// (offset and length in f32 elements), so the forward pass can cut views (a KV-cache row, one
// position of a batch) with plain arithmetic whatever the backend. Weights are uploaded once and
// then referred to by handle.
import type { RopeStyle } from '../kernels/reference.ts';
import type { TensorRecord } from '../format/kinds.ts';

export interface Vec {
  readonly off: number;
  readonly len: number;
}

export interface Weight {
  readonly name: string;
  readonly kind: TensorRecord['kind'];
  /** [rows, cols] for matrices, [n] for vectors. */
  readonly shape: number[];
}

export interface Backend {
  readonly name: string;
  /** A zeroed f32 buffer of n elements, placed once. */
  alloc(n: number): Vec;
  write(v: Vec, data: Float32Array): void;
  /** A copy of the buffer's contents. */
  read(v: Vec): Float32Array;
  upload(rec: TensorRecord): Weight;

  /** out = row `row` of the (embedding) matrix w, as f32. */
  embed(out: Vec, w: Weight, row: number): void;
  /** out[r] = sum_c W[r, c] x[c]. */
  matvec(out: Vec, w: Weight, x: Vec): void;
  /** n rows at once: x is [n, cols], out [n, rows]. */
  matmul(out: Vec, w: Weight, x: Vec, n: number): void;
  rmsnorm(out: Vec, x: Vec, w: Weight, eps: number): void;
  /** RoPE in place over a vector of heads. */
  rope(v: Vec, headSize: number, pos: number, theta: number, style: RopeStyle): void;
  /** One query position over the first nPos rows of the caches ([*, nKvHeads * headSize] each). */
  attention(out: Vec, q: Vec, kCache: Vec, vCache: Vec, nHeads: number, nKvHeads: number, headSize: number, nPos: number): void;
  swiglu(out: Vec, gate: Vec, up: Vec): void;
  add(out: Vec, a: Vec, b: Vec): void;

  // The ops of the families beyond Llama 2 (src/kernels/family.ts). A backend that runs only the
  // Llama 2 block leaves them out, and loading a model that needs one fails, naming it
  // (src/model/family.ts).
  /** Adds the vector `bias` to each of the rows of v (v.len a multiple of its length). */
  addBias?(v: Vec, bias: Weight): void;
  /** v *= s. */
  scale?(v: Vec, s: number): void;
  /** v = cap * tanh(v / cap). */
  softcap?(v: Vec, cap: number): void;
  /** out = act(gate) * up (silu goes through swiglu). */
  gatedActivation?(out: Vec, gate: Vec, up: Vec, act: 'gelu-tanh' | 'relu'): void;
  /** LayerNorm without bias. */
  layernorm?(out: Vec, x: Vec, w: Weight, eps: number): void;
  /** RoPE with per-pair inverse frequencies (scaled RoPE). */
  ropeWithFreqs?(v: Vec, headSize: number, pos: number, invFreq: Float64Array, style: RopeStyle): void;
}

/** The sub-slice [start, start + len) of v. */
export function slice(v: Vec, start: number, len: number): Vec {
  if (start < 0 || len < 0 || start + len > v.len) throw new RangeError(`slice [${start}, ${start + len}) of a ${v.len}-element buffer`);
  return { off: v.off + start, len };
}
