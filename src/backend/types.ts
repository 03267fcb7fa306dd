// What the forward pass asks of a backend. A backend owns one f32 memory; a Vec is a slice of it
// (offset and length in f32 elements), so the forward pass can cut views (one position of a batch)
// with plain arithmetic whatever the backend. Weights are uploaded once and then referred to by
// handle; the KV cache is placed by the backend in its own layout and only its attend() reads it.
import type { RopeStyle } from '../kernels/reference.ts';
import type { KvKind, KvShape } from '../kernels/attention.ts';
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

/** A KV cache a backend placed (kvCache()); only that backend's attend() reads it. */
export interface KvCache {
  readonly shape: KvShape;
  /** Bytes it takes in the backend's memory. */
  readonly bytes: number;
}

/** What attend() needs to know of the model. */
export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  ropeTheta: number;
  rope: RopeStyle;
  // What some families add (issue 17); a backend without attendExtras is refused such a model at
  // load (src/model/family.ts).
  /** Per-pair RoPE frequencies [headSize / 2] replacing theta^(-2i / headSize) (Llama 3's scaling, GGUF's rope_freqs). */
  ropeFreqs?: Float64Array;
  /** Each query sees only the last `window` positions, itself included (Mistral, Gemma 2); 0 or absent: all. */
  window?: number;
  /** Scores become cap * tanh(score / cap) before the softmax (Gemma 2's attention soft-cap); 0 or absent: none. */
  scoreSoftcap?: number;
}

export interface Backend {
  readonly name: string;
  /** The KV cache kinds kvCache() places (src/kernels/attention.ts, docs/KVCACHE.md). */
  readonly kvKinds: readonly KvKind[];
  /** attend() takes AttentionShape's ropeFreqs, window and scoreSoftcap. */
  readonly attendExtras?: boolean;
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
  /** Places a KV cache for `shape.layers` layers and `shape.ctx` positions. */
  kvCache(shape: KvShape): KvCache;
  /**
   * The attention sublayer of one layer for n consecutive tokens at positions pos..pos+n-1: rotates
   * q [n, nHeads * headSize] and k [n, kvDim] in place (RoPE), writes k and v [n, kvDim] to the
   * cache, and out[i] = the attention of query i over positions 0..pos+i, token by token in order.
   */
  attend(out: Vec, q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, n: number, a: AttentionShape): void;
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
  /** v = act(v) in place (an ungated feed-forward). */
  activation?(v: Vec, act: 'silu' | 'gelu-tanh' | 'relu'): void;
  /** LayerNorm without bias. */
  layernorm?(out: Vec, x: Vec, w: Weight, eps: number): void;
}

/** The sub-slice [start, start + len) of v. */
export function slice(v: Vec, start: number, len: number): Vec {
  if (start < 0 || len < 0 || start + len > v.len) throw new RangeError(`slice [${start}, ${start + len}) of a ${v.len}-element buffer`);
  return { off: v.off + start, len };
}
