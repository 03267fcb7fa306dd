// The KV cache and the attention over it, in plain TypeScript: the reference the WASM kernels
// (assembly/attention.ts) are tested against, and what the `js` backend runs. docs/KVCACHE.md
// describes the kinds.
//
// A cache holds, per layer and per KV head, the keys and values of positions 0..ctx-1:
// - 'f32': as computed; 'f16': binary16, rounded to nearest even, values below the smallest normal
//   half (2^-14) flushed to zero and values beyond ±65504 saturated, so that no read ever meets a
//   subnormal (a slow microcode assist on x86) or an infinity made up by rounding;
// - 'q8' | 'q4' | 'q2' (KIVI): keys quantized per channel over groups of KV_GROUP positions, values
//   per position over the head's channels, each group asymmetric (f32 scale and zero, value =
//   zero + scale · code, code 0..2^bits-1). The positions after the last whole window of `residual`
//   positions are kept in f16 (as the 'f16' kind); when the window fills it is quantized at once. So
//   what position p's query sees depends on p alone: positions below floor((p+1)/residual)·residual
//   quantized, the rest f16, whether the tokens came one at a time or in a batch.
import { attention, floatToHalf, halfToFloat } from './reference.ts';

export type KvKind = 'f32' | 'f16' | 'q8' | 'q4' | 'q2';
export const KV_KINDS: readonly KvKind[] = ['f32', 'f16', 'q8', 'q4', 'q2'];
/** Positions per key quantization group (KIVI's per-channel groups along the sequence). */
export const KV_GROUP = 32;
/** Default length of the f16 window of recent positions in the quantized kinds (a multiple of KV_GROUP). */
export const KV_RESIDUAL = 64;

/** The `mode` argument of the WASM kernels (assembly/attention.ts) for each kind. */
export const KV_MODE: Record<KvKind, number> = { f32: 0, f16: 1, q8: 8, q4: 4, q2: 2 };

/** Bits per code of a quantized kind (undefined for f32 and f16). */
export function kvBits(kind: KvKind): 8 | 4 | 2 | undefined {
  return kind === 'q8' ? 8 : kind === 'q4' ? 4 : kind === 'q2' ? 2 : undefined;
}

/** The binary16 bits the 'f16' cache stores for x (rule above; NaN stays a NaN). */
export function kvHalfBits(x: number): number {
  const h = floatToHalf(x);
  if (Math.abs(x) < 2 ** -14) return h & 0x8000;
  return (h & 0x7fff) === 0x7c00 ? (h & 0x8000) | 0x7bff : h;
}

/** The value the 'f16' cache gives back for x. */
export function kvHalf(x: number): number {
  return halfToFloat(kvHalfBits(x));
}

/** Round half to even (WebAssembly's f32.nearest). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Asymmetric quantization of values[at(0..n)] to `bits`, in f32 arithmetic step by step exactly as
 * the WASM kernel does it: zero = min, scale = (max - min) / (2^bits - 1), code = nearest((x - zero)
 * / scale) clamped to the levels (0 where the scale is 0).
 */
export function quantizeAsym(values: Float32Array, at: (i: number) => number, n: number, bits: number, codes: Uint8Array, codeAt: (i: number) => number): { scale: number; zero: number } {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = values[at(i)];
    mn = Math.min(mn, x);
    mx = Math.max(mx, x);
  }
  const levels = (1 << bits) - 1;
  const scale = Math.fround(Math.fround(mx - mn) / levels);
  for (let i = 0; i < n; i++) {
    const c = scale === 0 ? 0 : roundEven(Math.fround(Math.fround(values[at(i)] - mn) / scale));
    codes[codeAt(i)] = Math.min(Math.max(c, 0), levels);
  }
  return { scale, zero: mn };
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/**
 * Bytes the WASM backend's cache of this shape takes (assembly/attention.ts's layout, which its
 * kvCacheBytes export computes; test/model/kv.test.ts holds the two equal): for planning memory
 * before anything is placed.
 */
export function kvCacheBytes(shape: KvShape): number {
  const { kind, layers, ctx, nKvHeads, headSize: hs } = shape;
  const residual = shape.residual ?? KV_RESIDUAL;
  const bits = kvBits(kind);
  let region: number;
  if (!bits) region = 2 * align16(ctx * hs * (kind === 'f32' ? 4 : 2));
  else {
    const chunks = Math.ceil(hs / (128 / bits));
    const codes = align16(ctx * chunks * 16);
    const keyParams = Math.ceil(ctx / KV_GROUP) * chunks * (128 / bits) * 8;
    region = 2 * codes + keyParams + 2 * align16(ctx * 4) + 2 * align16(residual * hs * 2);
  }
  return layers * nKvHeads * region;
}

export interface KvShape {
  kind: KvKind;
  layers: number;
  ctx: number;
  nKvHeads: number;
  headSize: number;
  /** The quantized kinds' f16 window (default KV_RESIDUAL; a multiple of KV_GROUP). */
  residual?: number;
}

/** One layer's and one KV head's keys or values. */
interface Stream {
  /** f32 / f16: the stored values [ctx, headSize]; quantized: the f16 window [residual, headSize]. */
  plain: Float32Array;
  codes?: Uint8Array; // [ctx, headSize]
  scales?: Float32Array; // keys [ctx / KV_GROUP, headSize], values [ctx]
  zeros?: Float32Array;
}

/** The cache, one Float32Array per stream, storing what the WASM cache stores, value for value. */
export class RefKvCache {
  readonly residual: number;
  private readonly keys: Stream[][];
  private readonly values: Stream[][];

  constructor(readonly shape: KvShape) {
    const { kind, layers, nKvHeads } = shape;
    this.residual = shape.residual ?? KV_RESIDUAL;
    if (!(this.residual >= KV_GROUP && this.residual % KV_GROUP === 0)) throw new RangeError(`residual ${this.residual} is not a positive multiple of ${KV_GROUP}`);
    const make = (perPositionParams: boolean): Stream => this.stream(kind, perPositionParams);
    this.keys = Array.from({ length: layers }, () => Array.from({ length: nKvHeads }, () => make(false)));
    this.values = Array.from({ length: layers }, () => Array.from({ length: nKvHeads }, () => make(true)));
  }

  private stream(kind: KvKind, perPosition: boolean): Stream {
    const { ctx, headSize: hs } = this.shape;
    if (!kvBits(kind)) return { plain: new Float32Array(ctx * hs) };
    const params = perPosition ? ctx : Math.ceil(ctx / KV_GROUP) * hs;
    return { plain: new Float32Array(this.residual * hs), codes: new Uint8Array(ctx * hs), scales: new Float32Array(params), zeros: new Float32Array(params) };
  }

  /** Bytes of its arrays. */
  get bytes(): number {
    let b = 0;
    for (const s of [...this.keys.flat(), ...this.values.flat()]) b += s.plain.byteLength + (s.codes?.byteLength ?? 0) + (s.scales?.byteLength ?? 0) + (s.zeros?.byteLength ?? 0);
    return b;
  }

  /** Stores position pos's k and v ([nKvHeads * headSize] each, after RoPE) for one layer. */
  store(layer: number, pos: number, k: Float32Array, v: Float32Array): void {
    const { kind, headSize: hs, nKvHeads } = this.shape;
    const bits = kvBits(kind);
    const round = kind === 'f32' ? Math.fround : kvHalf;
    const slot = bits ? pos % this.residual : pos;
    for (let g = 0; g < nKvHeads; g++) {
      const ks = this.keys[layer][g];
      const vs = this.values[layer][g];
      for (let c = 0; c < hs; c++) {
        ks.plain[slot * hs + c] = round(k[g * hs + c]);
        vs.plain[slot * hs + c] = round(v[g * hs + c]);
      }
      if (bits && slot === this.residual - 1) this.flush(ks, vs, pos + 1 - this.residual, bits);
    }
  }

  /** Quantizes a full window starting at position `first`: keys per channel and group, values per position. */
  private flush(ks: Stream, vs: Stream, first: number, bits: number): void {
    const hs = this.shape.headSize;
    for (let j = 0; j < this.residual / KV_GROUP; j++) {
      const group = first / KV_GROUP + j;
      for (let c = 0; c < hs; c++) {
        const p = quantizeAsym(ks.plain, (i) => (j * KV_GROUP + i) * hs + c, KV_GROUP, bits, ks.codes!, (i) => (group * KV_GROUP + i) * hs + c);
        ks.scales![group * hs + c] = p.scale;
        ks.zeros![group * hs + c] = p.zero;
      }
    }
    for (let r = 0; r < this.residual; r++) {
      const t = first + r;
      const p = quantizeAsym(vs.plain, (c) => r * hs + c, hs, bits, vs.codes!, (c) => t * hs + c);
      vs.scales![t] = p.scale;
      vs.zeros![t] = p.zero;
    }
  }

  /** The keys and values the attention of a query at position nPos - 1 sees, as f32 [nPos, nKvHeads * headSize]. */
  view(layer: number, nPos: number): { k: Float32Array; v: Float32Array } {
    const { kind, headSize: hs, nKvHeads } = this.shape;
    const kvDim = nKvHeads * hs;
    const k = new Float32Array(nPos * kvDim);
    const v = new Float32Array(nPos * kvDim);
    const quantized = kvBits(kind) ? Math.floor(nPos / this.residual) * this.residual : 0;
    for (let g = 0; g < nKvHeads; g++) {
      const ks = this.keys[layer][g];
      const vs = this.values[layer][g];
      for (let t = 0; t < nPos; t++) {
        for (let c = 0; c < hs; c++) {
          const o = t * kvDim + g * hs + c;
          if (t >= quantized) {
            const slot = kvBits(kind) ? t - quantized : t;
            k[o] = ks.plain[slot * hs + c];
            v[o] = vs.plain[slot * hs + c];
            continue;
          }
          const kp = Math.floor(t / KV_GROUP) * hs + c;
          k[o] = ks.zeros![kp] + ks.scales![kp] * ks.codes![t * hs + c];
          v[o] = vs.zeros![t] + vs.scales![t] * vs.codes![t * hs + c];
        }
      }
    }
    return { k, v };
  }

  /** out [nHeads * headSize] = the grouped-query attention of q over positions 0..nPos-1 of a layer (window, cap: reference.attention's). */
  attend(out: Float32Array, q: Float32Array, layer: number, nPos: number, nHeads: number, window = 0, cap = 0): void {
    const { k, v } = this.view(layer, nPos);
    attention(out, q, k, v, nHeads, this.shape.nKvHeads, this.shape.headSize, nPos, window, cap);
  }
}
