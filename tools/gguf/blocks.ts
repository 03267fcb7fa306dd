// ggml's tensor storage types, to and from f32: F32, F16, BF16, the 32-weight block formats
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL, and the 256-weight K-quant super-blocks Q2_K, Q3_K, Q4_K,
// Q5_K and Q6_K (docs/GGUF.md); IQ4_XS (256 weights too) is read only. The 32-weight quantizers
// follow ggml's reference ones (quantize_row_*_ref, quantize_iq4_nl) step by step, in f32 where ggml
// computes in f32; the K-quant encoders are our own simpler fit (see fitScaleMin and fitSymmetricK).
//
//   Q8_0   34 bytes: f16 d, 32 x int8 q;                      w = d * q
//   Q4_0   18 bytes: f16 d, 16 bytes of nibbles;              w = d * (q - 8)
//   Q4_1   20 bytes: f16 d, f16 m, 16 bytes of nibbles;       w = d * q + m
//   Q5_0   22 bytes: f16 d, 4 bytes qh, 16 bytes of nibbles;  w = d * (q - 16)
//   Q5_1   24 bytes: f16 d, f16 m, qh, 16 bytes of nibbles;   w = d * q + m
//   IQ4_NL 18 bytes: f16 d, 16 bytes of nibbles;              w = d * IQ4_NL_VALUES[q]
//   Q4_K  144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales sc and mins m (8 sub-blocks of 32),
//                    128 bytes of nibbles;                   w = d*sc * q - dmin*m
//   Q5_K  176 bytes: as Q4_K with 32 bytes qh (the 5th bit) between the scales and the nibbles
//   Q6_K  210 bytes: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 x int8 scales
//                    (sub-blocks of 16), f16 d;              w = d*sc * (q - 32)
//   Q2_K   84 bytes: 16 bytes of 4-bit scales sc and mins m (sub-blocks of 16), 64 bytes of 2-bit
//                    quants, f16 d, f16 dmin;               w = d*sc * q - dmin*m
//   Q3_K  110 bytes: 32 bytes hmask (the 3rd bit), 64 bytes of 2-bit quants, 12 bytes of 6-bit
//                    scales (sub-blocks of 16), f16 d;       w = d*(sc - 32) * q, q = -4..3
//   IQ4_XS 136 bytes: f16 d, u16 scales_h, 4 bytes scales_l (6-bit scales ls of 8 sub-blocks of
//                    32), 128 bytes of nibbles;              w = d*(ls - 32) * IQ4_NL_VALUES[q]
// In the 32-weight nibble formats, byte j of the nibbles holds weight j in its low nibble and
// weight j + 16 in its high nibble; bit i of qh (a little-endian u32) is the fifth bit of weight i.
// The K-quant bit layouts are described where they are decoded.
import { floatToHalf } from '../../src/kernels/reference.ts';
import { halfTable } from '../../src/format/half.ts';
import { GGML_TYPES, GT, IQ4_NL_VALUES, QK_K, ggmlTypeName } from './spec.ts';
import { UnsupportedError } from '../../src/util/errors.ts';

const QK = 32;
const f = Math.fround;

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);

function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = v >>> 8;
}

/** C's roundf: halves away from zero. */
const roundf = (v: number): number => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

function checkBlocks(n: number, what: string, size = QK): void {
  if (n % size) throw new RangeError(`${what}: ${n} weights is not a whole number of ${size}-weight blocks`);
}

// ---------------------------------------------------------------------------------------------
// Q8_0

/** ggml quantize_row_q8_0_ref: d = max|x| / 127, q = roundf(x / d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, 'Q8_0');
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    const xb = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[xb + j]));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    const o = b * 34;
    setU16(out, o, floatToHalf(d));
    for (let j = 0; j < QK; j++) {
      const q = Math.max(-128, Math.min(127, roundf(f(x[xb + j] * id))));
      out[o + 2 + j] = q & 0xff;
    }
  }
  return out;
}

export function dequantizeQ8_0(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q8_0');
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * 34;
    const d = h[u16(src, o)];
    for (let j = 0; j < QK; j++) {
      const q = src[o + 2 + j];
      out[b * QK + j] = d * (q > 127 ? q - 256 : q);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The 32-weight nibble formats Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL (ggml's block_q4_0 ... block_iq4_nl).
// A block is an f16 scale d, then (Q4_1, Q5_1) an f16 min m, then (Q5_0, Q5_1) 4 bytes qh, then 16
// bytes qs. Byte j of qs holds the low 4 bits of weight j (low nibble) and of weight j + 16 (high
// nibble); bit i of qh, read as a little-endian u32, is the fifth bit (16) of weight i.
// w = d * level(q), plus m for the types that have one.

interface Nibbles {
  name: string;
  /** Bytes per block. */
  size: number;
  /** Byte offsets in a block of m and qh (-1: the type has none) and of qs. */
  m: number;
  qh: number;
  qs: number;
  level: (q: number) => number;
}

function nibbles(type: number, hasMin: boolean, hasHigh: boolean, level: (q: number) => number): Nibbles {
  const m = hasMin ? 2 : -1;
  const qh = hasHigh ? (hasMin ? 4 : 2) : -1;
  const { name, typeSize } = GGML_TYPES[type];
  return { name, size: typeSize, m, qh, qs: typeSize - 16, level };
}

const V = IQ4_NL_VALUES;
const Q4_0 = nibbles(GT.Q4_0, false, false, (q) => q - 8);
const Q4_1 = nibbles(GT.Q4_1, true, false, (q) => q);
const Q5_0 = nibbles(GT.Q5_0, false, true, (q) => q - 16);
const Q5_1 = nibbles(GT.Q5_1, true, true, (q) => q);
const IQ4_NL = nibbles(GT.IQ4_NL, false, false, (q) => V[q]);
const NIBBLES: Record<number, Nibbles> = { [GT.Q4_0]: Q4_0, [GT.Q4_1]: Q4_1, [GT.Q5_0]: Q5_0, [GT.Q5_1]: Q5_1, [GT.IQ4_NL]: IQ4_NL };

/**
 * One block's fit: reads weights xb..xb+31 of x, writes their quants (0..31) to q, and returns the
 * f16 bits of d and m (m ignored by the types without one).
 */
type Fit = (x: Float32Array, xb: number, q: Uint8Array) => [number, number];

function quantizeNibbles(x: Float32Array, t: Nibbles, fit: Fit): Uint8Array {
  checkBlocks(x.length, t.name);
  const out = new Uint8Array((x.length / QK) * t.size);
  const q = new Uint8Array(QK);
  for (let b = 0; b < x.length / QK; b++) {
    const o = b * t.size;
    const [dBits, mBits] = fit(x, b * QK, q);
    setU16(out, o, dBits);
    if (t.m >= 0) setU16(out, o + t.m, mBits);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      out[o + t.qs + j] = (q[j] & 15) | ((q[j + 16] & 15) << 4);
      qh |= ((q[j] >> 4) << j) | ((q[j + 16] >> 4) << (j + 16));
    }
    if (t.qh >= 0) for (let k = 0; k < 4; k++) out[o + t.qh + k] = (qh >>> (8 * k)) & 0xff;
  }
  return out;
}

function dequantizeNibbles(src: Uint8Array, n: number, t: Nibbles): Float32Array {
  checkBlocks(n, t.name);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * t.size;
    const d = h[u16(src, o)];
    // -0 for the types without a min: adding it changes nothing, not even a -0 product
    const m = t.m >= 0 ? h[u16(src, o + t.m)] : -0;
    const qh = t.qh >= 0 ? u16(src, o + t.qh) | (u16(src, o + t.qh + 2) << 16) : 0;
    nibbleBlock(src, o + t.qs, qh, d, m, t.level, out, b * QK);
  }
  return out;
}

/**
 * One 32-weight block of nibbles (16 bytes at `qs`, the fifth bits in `qh`) to out[ob..ob+31]:
 * w = d * level(q) + m. Also the sub-blocks of IQ4_XS, with d its sub-block scale and m = -0.
 */
function nibbleBlock(src: Uint8Array, qs: number, qh: number, d: number, m: number, level: (q: number) => number, out: Float32Array, ob: number): void {
  for (let j = 0; j < 16; j++) {
    const byte = src[qs + j];
    const lo = (byte & 15) | (((qh >>> j) & 1) << 4);
    const hi = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
    // d * level is exact (an f16 times a small integer, or IQ4_XS's d*(ls - 32), 17 bits, times a
    // table value of 7 bits), and so is the sum in f64 (both are multiples of 2^-24 below 2^22):
    // one rounding to f32, as ggml's f32 `x * d + m` has
    out[ob + j] = d * level(lo) + m;
    out[ob + 16 + j] = d * level(hi) + m;
  }
}

/**
 * ggml quantize_row_q4_0_ref / quantize_row_q5_0_ref: d = (the value of largest magnitude) / -half,
 * so that value is exact (q = 0), and q = min(2 half - 1, trunc(x / d + half + 0.5)).
 */
function fitSymmetric(half: number): Fit {
  return (x, xb, q) => {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[xb + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -half);
    const id = d ? f(1 / d) : 0;
    for (let j = 0; j < QK; j++) q[j] = Math.min(2 * half - 1, Math.trunc(f(f(x[xb + j] * id) + (half + 0.5))));
    return [floatToHalf(d), 0];
  };
}

/**
 * ggml quantize_row_q4_1_ref / quantize_row_q5_1_ref: m = the lowest weight, d = (highest - lowest) /
 * nmax, q = min(nmax, trunc((x - m) / d + 0.5)). Like ggml, q comes from the f32 d and m, before
 * they are stored as f16.
 */
function fitMinMax(nmax: number): Fit {
  return (x, xb, q) => {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < QK; j++) {
      min = Math.min(min, x[xb + j]);
      max = Math.max(max, x[xb + j]);
    }
    const d = f(f(max - min) / nmax);
    const id = d ? f(1 / d) : 0;
    for (let j = 0; j < QK; j++) q[j] = Math.min(nmax, Math.trunc(f(f(f(x[xb + j] - min) * id) + 0.5)));
    return [floatToHalf(d), floatToHalf(min)];
  };
}

/** ggml best_index_int8: the index of the table value nearest x (the upper one on a tie). */
function bestIndex(x: number): number {
  if (x <= V[0]) return 0;
  if (x >= V[15]) return 15;
  let lo = 0;
  let hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x < V[mid]) hi = mid;
    else lo = mid;
  }
  return x - V[hi - 1] < V[hi] - x ? hi - 1 : hi;
}

/**
 * ggml quantize_iq4_nl without importance weights (quantize_row_iq4_nl_impl, one 32-weight block,
 * ntry 7): weights x^2, a first scale from the largest-magnitude value, the weighted least-squares
 * scale for its indices, then 15 more trial scales; the best by weighted error is kept.
 */
const fitIq4Nl: Fit = (x, xb, q) => {
  const ntry = 7;
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const ax = Math.abs(x[xb + j]);
    if (ax > amax) {
      amax = ax;
      max = x[xb + j];
    }
  }
  // the x^2-weighted sums sum w*l*x and sum w*l^2 for the table values l nearest id * x
  const sums = (id: number): [number, number] => {
    let sumqx = 0;
    let sumq2 = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[xb + j];
      const l = V[bestIndex(f(id * v))];
      const w = f(v * v);
      sumqx = f(sumqx + f(f(w * l) * v));
      sumq2 = f(sumq2 + f(f(w * l) * l));
    }
    return [sumqx, sumq2];
  };
  let d = 0;
  // an all-zero block keeps d = 0 (ggml: amax < GROUP_MAX_EPS)
  if (amax >= 1e-15) {
    let [sumqx, sumq2] = sums(f(1 / f(-max / V[0])));
    d = f(sumqx / sumq2);
    let best = f(d * sumqx);
    for (let itry = -ntry; itry <= ntry; itry++) {
      [sumqx, sumq2] = sums(f((itry + V[0]) / max));
      if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
        d = f(sumqx / sumq2);
        best = f(d * sumqx);
      }
    }
  }
  const inv = d ? f(1 / d) : 0;
  for (let j = 0; j < QK; j++) q[j] = bestIndex(f(inv * x[xb + j]));
  return [floatToHalf(d), 0];
};

const NIBBLE_FITS: Record<number, Fit> = { [GT.Q4_0]: fitSymmetric(8), [GT.Q5_0]: fitSymmetric(16), [GT.Q4_1]: fitMinMax(15), [GT.Q5_1]: fitMinMax(31), [GT.IQ4_NL]: fitIq4Nl };

export const quantizeQ4_0 = (x: Float32Array): Uint8Array => quantizeNibbles(x, Q4_0, NIBBLE_FITS[GT.Q4_0]);
export const quantizeIq4Nl = (x: Float32Array): Uint8Array => quantizeNibbles(x, IQ4_NL, fitIq4Nl);
export const dequantizeQ4_0 = (src: Uint8Array, n: number): Float32Array => dequantizeNibbles(src, n, Q4_0);
export const dequantizeIq4Nl = (src: Uint8Array, n: number): Float32Array => dequantizeNibbles(src, n, IQ4_NL);
// ---------------------------------------------------------------------------------------------
// K-quants: 256-weight super-blocks with quantized per-sub-block scales.
//
// Our encoders do not reproduce llama.cpp's iterative scale search (make_qkx2_quants,
// make_qx_quants). They fit each sub-block's range, then quantize the sub-block scales (and mins)
// to 4 bits (Q2_K), 6 bits (Q3_K, Q4_K, Q5_K) or int8 (Q6_K) relative to the super-block's f16
// scale (Q3_K and Q6_K use only non-negative scales), always rounding
// scales up: every sub-block's range stays inside its levels, so no weight is clipped and each one
// is within half its sub-block's step of its value.

/** The f16 bits of the smallest half that is >= v (v >= 0): a scale that may only round up. */
function halfAtLeast(v: number): number {
  const h = floatToHalf(v);
  return halfTable()[h] < v ? h + 1 : h;
}

/**
 * The 6-bit scale and min of sub-block j (0..7) from the 12 scale bytes at `o` (ggml
 * get_scale_min_k4): sub-blocks 0..3 keep theirs in the low 6 bits of bytes j (scale) and j + 4
 * (min); sub-blocks 4..7 keep the low 4 bits in byte j + 4 (scale: low nibble, min: high nibble)
 * and the top 2 bits in the top bits of bytes j - 4 (scale) and j (min).
 */
function scaleMinK4(b: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [b[o + j] & 63, b[o + j + 4] & 63];
  return [(b[o + j + 4] & 15) | ((b[o + j - 4] >> 6) << 4), (b[o + j + 4] >> 4) | ((b[o + j] >> 6) << 4)];
}

function packScaleMinK4(out: Uint8Array, o: number, sc: Uint8Array, mn: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    out[o + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
    out[o + j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
    out[o + j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
  }
}

/** Q4_K (4 bits) and Q5_K (5 bits): the only difference is the 32 qh bytes of Q5_K. */
const K45 = { 4: { size: 144, nmax: 15, qs: 16 }, 5: { size: 176, nmax: 31, qs: 48 } } as const;

/**
 * The scale/min fit of the asymmetric K-quants (Q2_K, Q4_K, Q5_K) for one super-block at xb, in
 * `sc.length` sub-blocks of `len` weights: sub-block j's levels 0..nmax map to w = d1*q - m1 with
 * d1 = d*sc[j], m1 = dmin*mn[j], and sc, mn are `scMax`-bounded integers (63 for 6 bits, 15 for 4).
 * The min is -min(0, lowest weight), so m1 reaches down to the lowest weight:
 * mn[j] = ceil(min_j / dmin) with dmin = max min / scMax (f16, rounded up). The scale then has to
 * reach from -m1 up to the highest weight: sc[j] = ceil((max_j + m1) / (nmax * d)) with
 * d = max (max_j + m1) / (scMax * nmax) (f16, rounded up). Returns the f16 bits of d and dmin.
 */
function fitScaleMin(x: Float32Array, xb: number, len: number, nmax: number, scMax: number, sc: Uint8Array, mn: Uint8Array): [number, number] {
  const h = halfTable();
  const n = sc.length;
  const mins = new Float64Array(n);
  const tops = new Float64Array(n);
  let maxMin = 0;
  for (let j = 0; j < n; j++) {
    let lo = 0;
    let hi = -Infinity;
    for (let l = 0; l < len; l++) {
      const v = x[xb + len * j + l];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    mins[j] = -lo;
    tops[j] = hi;
    maxMin = Math.max(maxMin, -lo);
  }
  const dminBits = halfAtLeast(maxMin / scMax);
  const dmin = h[dminBits];
  let maxTop = 0;
  for (let j = 0; j < n; j++) {
    mn[j] = dmin ? Math.min(scMax, Math.ceil(mins[j] / dmin)) : 0;
    tops[j] += f(dmin * mn[j]);
    maxTop = Math.max(maxTop, tops[j]);
  }
  const dBits = halfAtLeast(maxTop / (scMax * nmax));
  const d = h[dBits];
  for (let j = 0; j < n; j++) sc[j] = d ? Math.min(scMax, Math.ceil(tops[j] / (nmax * d))) : 0;
  return [dBits, dminBits];
}

/** The nearest level 0..nmax of x for w = d1*q - m1 (0 when the sub-block's step is 0). */
const levelMin = (x: number, d1: number, m1: number, nmax: number): number => (d1 ? Math.max(0, Math.min(nmax, roundf((x + m1) / d1))) : 0);

/**
 * A K-quant encoder: block bytes, sub-block length, the fit of one super-block (writes its scales
 * into the block at o and returns the nearest level of weight v in sub-block j) and where a weight's
 * level goes.
 */
interface KEncoder {
  name: string;
  size: number;
  len: number;
  fit: (x: Float32Array, xb: number, out: Uint8Array, o: number) => (j: number, v: number) => number;
  putLevel: (out: Uint8Array, o: number, i: number, q: number) => void;
}

/** Every K-quant encoder: per super-block, the fit, then each weight's level put in place. */
function quantizeK(x: Float32Array, t: KEncoder): Uint8Array {
  checkBlocks(x.length, t.name, QK_K);
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * t.size);
  for (let b = 0; b < nb; b++) {
    const level = t.fit(x, b * QK_K, out, b * t.size);
    for (let i = 0; i < QK_K; i++) t.putLevel(out, b * t.size, i, level(Math.trunc(i / t.len), x[b * QK_K + i]));
  }
  return out;
}

/**
 * The asymmetric K-quants' fit (fitScaleMin) with the f16 d at byte `d` of the block and dmin after
 * it; putScales stores the scales and mins.
 */
function minFit(len: number, nmax: number, scMax: number, d: number, putScales: (out: Uint8Array, o: number, sc: Uint8Array, mn: Uint8Array) => void): KEncoder['fit'] {
  return (x, xb, out, o) => {
    const h = halfTable();
    const sc = new Uint8Array(QK_K / len);
    const mn = new Uint8Array(QK_K / len);
    const [dBits, dminBits] = fitScaleMin(x, xb, len, nmax, scMax, sc, mn);
    setU16(out, o + d, dBits);
    setU16(out, o + d + 2, dminBits);
    putScales(out, o, sc, mn);
    const d1 = Array.from(sc, (s) => f(h[dBits] * s));
    const m1 = Array.from(mn, (m) => f(h[dminBits] * m));
    return (j, v) => levelMin(v, d1[j], m1[j], nmax);
  };
}

/**
 * Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins (packScaleMinK4); weight l of
 * sub-block j is a nibble of byte 32(j / 2) + l, and in Q5_K its fifth bit is bit j of qh[l].
 */
function quantizeK45(x: Float32Array, bits: 4 | 5): Uint8Array {
  const { size, nmax, qs } = K45[bits];
  return quantizeK(x, {
    name: `Q${bits}_K`, size, len: 32,
    fit: minFit(32, nmax, 63, 0, (out, o, sc, mn) => packScaleMinK4(out, o + 4, sc, mn)),
    putLevel: (out, o, i, q) => {
      const j = i >> 5;
      out[o + qs + 32 * (j >> 1) + (i & 31)] |= (q & 15) << (4 * (j & 1));
      if (bits === 5) out[o + 16 + (i & 31)] |= (q >> 4) << j;
    },
  });
}

/**
 * Q4_K / Q5_K to f32 (ggml dequantize_row_q4_K / q5_K). Sub-blocks 2c and 2c + 1 share the 32
 * nibble bytes of chunk c: weight l of sub-block 2c is the low nibble of byte 32c + l, weight l of
 * sub-block 2c + 1 its high nibble. In Q5_K, bit j of qh[l] is the 5th bit (16) of weight l of
 * sub-block j.
 */
function dequantizeK45(src: Uint8Array, n: number, bits: 4 | 5): Float32Array {
  const { size, qs } = K45[bits];
  checkBlocks(n, `Q${bits}_K`, QK_K);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK_K; b++) {
    const o = b * size;
    const d = h[u16(src, o)];
    const dmin = h[u16(src, o + 2)];
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(src, o + 4, j);
      const d1 = f(d * sc);
      const m1 = f(dmin * m);
      const shift = 4 * (j & 1);
      for (let l = 0; l < 32; l++) {
        let q = (src[o + qs + 32 * (j >> 1) + l] >> shift) & 15;
        if (bits === 5) q |= ((src[o + 16 + l] >> j) & 1) << 4;
        out[b * QK_K + 32 * j + l] = f(f(d1 * q) - m1);
      }
    }
  }
  return out;
}

export const quantizeQ4K = (x: Float32Array): Uint8Array => quantizeK45(x, 4);
export const quantizeQ5K = (x: Float32Array): Uint8Array => quantizeK45(x, 5);
export const dequantizeQ4K = (src: Uint8Array, n: number): Float32Array => dequantizeK45(src, n, 4);
export const dequantizeQ5K = (src: Uint8Array, n: number): Float32Array => dequantizeK45(src, n, 5);

const Q6K_SIZE = 210;

/**
 * Where weight i (0..255) of a Q6_K block keeps its bits (ggml block_q6_K): with i = 128h + 32k + l
 * (h = 0, 1; k = 0..3; l < 32), its low 4 bits are in ql byte 64h + 32(k & 1) + l (low nibble for
 * k < 2, high nibble for k >= 2), its high 2 bits in bits 2k..2k+1 of qh byte 32h + l, and its
 * scale is scales[i / 16].
 */
function q6kPlace(i: number): { ql: number; nib: number; qh: number; shift: number } {
  const half = i >> 7;
  const k = (i >> 5) & 3;
  const l = i & 31;
  return { ql: 64 * half + 32 * (k & 1) + l, nib: 4 * (k >> 1), qh: 128 + 32 * half + l, shift: 2 * k };
}

/**
 * The scale fit of the symmetric K-quants (Q3_K, Q6_K) for one super-block at xb, in 16 sub-blocks
 * of 16 weights: sub-block j's levels -half..half-1 map to w = d1*q with d1 = d*sc[j]. The step is
 * max|w| / (half - 0.5), so the nearest level never clips; sc[j] = ceil(step / d) with
 * d = max step / scMax (f16, rounded up), so scales are 0..scMax. Returns the f16 bits of d.
 */
function fitSymmetricK(x: Float32Array, xb: number, half: number, scMax: number, sc: Uint8Array): number {
  const steps = new Float64Array(16);
  let maxStep = 0;
  for (let j = 0; j < 16; j++) {
    let amax = 0;
    for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[xb + 16 * j + l]));
    steps[j] = amax / (half - 0.5);
    maxStep = Math.max(maxStep, steps[j]);
  }
  const dBits = halfAtLeast(maxStep / scMax);
  const d = halfTable()[dBits];
  for (let j = 0; j < 16; j++) sc[j] = d ? Math.min(scMax, Math.ceil(steps[j] / d)) : 0;
  return dBits;
}

/** The nearest level -half..half-1 of x for w = d1*q (0 when the sub-block's step is 0). */
const levelSym = (x: number, d1: number, half: number): number => (d1 ? Math.max(-half, Math.min(half - 1, roundf(x / d1))) : 0);

/**
 * The symmetric K-quants' fit (fitSymmetricK) with the f16 d at byte `d` of the block; putScale
 * stores sub-block j's scale. Levels -half..half-1 are given as level + half.
 */
function symFit(half: number, scMax: number, d: number, putScale: (out: Uint8Array, o: number, j: number, sc: number) => void): KEncoder['fit'] {
  return (x, xb, out, o) => {
    const sc = new Uint8Array(16);
    const dBits = fitSymmetricK(x, xb, half, scMax, sc);
    setU16(out, o + d, dBits);
    sc.forEach((s, j) => putScale(out, o, j, s));
    const d1 = Array.from(sc, (s) => f(halfTable()[dBits] * s));
    return (j, v) => half + levelSym(v, d1[j], half);
  };
}

/** Q6_K: levels -32..31 stored as q + 32 (q6kPlace), int8 scales 0..127. */
export const quantizeQ6K = (x: Float32Array): Uint8Array =>
  quantizeK(x, {
    name: 'Q6_K', size: Q6K_SIZE, len: 16,
    fit: symFit(32, 127, 208, (out, o, j, sc) => {
      out[o + 192 + j] = sc;
    }),
    putLevel: (out, o, i, u) => {
      const p = q6kPlace(i);
      out[o + p.ql] |= (u & 15) << p.nib;
      out[o + p.qh] |= (u >> 4) << p.shift;
    },
  });

/** Q6_K to f32 (ggml dequantize_row_q6_K): w = (d * sc) * (q - 32), scales int8. */
export function dequantizeQ6K(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q6_K', QK_K);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK_K; b++) {
    const o = b * Q6K_SIZE;
    const d = h[u16(src, o + 208)];
    for (let i = 0; i < QK_K; i++) {
      const p = q6kPlace(i);
      const q = (((src[o + p.ql] >> p.nib) & 15) | (((src[o + p.qh] >> p.shift) & 3) << 4)) - 32;
      const sc = (src[o + 192 + (i >> 4)] << 24) >> 24;
      out[b * QK_K + i] = f(f(d * sc) * q);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Q2_K and Q3_K: 2-bit quants (plus Q3_K's third bit) in 16 sub-blocks of 16 weights.

/**
 * Where weight i (0..255) of a Q2_K or Q3_K block keeps its low 2 bits (ggml block_q2_K,
 * block_q3_K): with i = 128h + 32k + l (h = 0, 1; k = 0..3; l < 32), bits 2k..2k+1 of qs byte
 * 32h + l. So the 32 bytes of each half hold four 32-weight runs, one per bit pair.
 */
const q2Byte = (i: number): number => 32 * (i >> 7) + (i & 31);
const q2Shift = (i: number): number => 2 * ((i >> 5) & 3);

const Q2K_SIZE = 84;

/** Q2_K: 16 sub-blocks of 16, levels 0..3; scale byte j holds sub-block j's 4-bit scale (low nibble) and min (high nibble). */
export const quantizeQ2K = (x: Float32Array): Uint8Array =>
  quantizeK(x, {
    name: 'Q2_K', size: Q2K_SIZE, len: 16,
    fit: minFit(16, 3, 15, 80, (out, o, sc, mn) => {
      for (let j = 0; j < 16; j++) out[o + j] = sc[j] | (mn[j] << 4);
    }),
    putLevel: (out, o, i, q) => {
      out[o + 16 + q2Byte(i)] |= q << q2Shift(i);
    },
  });

/**
 * Q2_K to f32 (ggml dequantize_row_q2_K): 16 bytes scales, 64 bytes qs, f16 d, f16 dmin. Scale byte
 * j holds sub-block j's 4-bit scale (low nibble) and 4-bit min (high nibble): w = d*sc * q - dmin*m.
 */
export function dequantizeQ2K(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q2_K', QK_K);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK_K; b++) {
    const o = b * Q2K_SIZE;
    const d = h[u16(src, o + 80)];
    const dmin = h[u16(src, o + 82)];
    for (let j = 0; j < 16; j++) {
      const d1 = f(d * (src[o + j] & 15));
      const m1 = f(dmin * (src[o + j] >> 4));
      for (let i = 16 * j; i < 16 * j + 16; i++) {
        const q = (src[o + 16 + q2Byte(i)] >> q2Shift(i)) & 3;
        out[b * QK_K + i] = f(f(d1 * q) - m1);
      }
    }
  }
  return out;
}

const Q3K_SIZE = 110;

/**
 * Q3_K: levels -4..3 stored as q + 4 (low 2 bits in qs, the third bit in hmask), scales 0..31
 * stored as sc + 32 in 6 bits, as q3kScale reads them.
 */
export const quantizeQ3K = (x: Float32Array): Uint8Array =>
  quantizeK(x, {
    name: 'Q3_K', size: Q3K_SIZE, len: 16,
    fit: symFit(4, 31, 108, (out, o, j, sc) => {
      out[o + 96 + (j & 7)] |= ((sc + 32) & 15) << (4 * (j >> 3));
      out[o + 104 + (j & 3)] |= ((sc + 32) >> 4) << (2 * (j >> 2));
    }),
    putLevel: (out, o, i, u) => {
      out[o + 32 + q2Byte(i)] |= (u & 3) << q2Shift(i);
      out[o + (i & 31)] |= (u >> 2) << (i >> 5);
    },
  });

/**
 * Sub-block k's (0..15) scale from Q3_K's 12 scale bytes at `o`, 6 bits stored with an offset of
 * 32: the low 4 bits are the low nibble of byte k (k < 8) or the high nibble of byte k - 8, the top
 * 2 bits are bits 2(k / 4)..2(k / 4)+1 of byte 8 + k % 4.
 */
function q3kScale(b: Uint8Array, o: number, k: number): number {
  const low = k < 8 ? b[o + k] & 15 : b[o + k - 8] >> 4;
  return (low | (((b[o + 8 + (k & 3)] >> (2 * (k >> 2))) & 3) << 4)) - 32;
}

/**
 * Q3_K to f32 (ggml dequantize_row_q3_K): 32 bytes hmask, 64 bytes qs, 12 bytes scales, f16 d. Bit
 * i / 32 of hmask byte i % 32 is weight i's high bit; a clear bit subtracts 4, so q runs -4..3 and
 * w = (d*sc) * q.
 */
export function dequantizeQ3K(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q3_K', QK_K);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK_K; b++) {
    const o = b * Q3K_SIZE;
    const d = h[u16(src, o + 108)];
    for (let j = 0; j < 16; j++) {
      const d1 = f(d * q3kScale(src, o + 96, j));
      for (let i = 16 * j; i < 16 * j + 16; i++) {
        const q = ((src[o + 32 + q2Byte(i)] >> q2Shift(i)) & 3) - ((src[o + (i & 31)] >> (i >> 5)) & 1 ? 0 : 4);
        out[b * QK_K + i] = f(d1 * q);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// IQ4_XS (read only)

const IQ4XS_SIZE = 136;

/**
 * IQ4_XS to f32 (ggml dequantize_row_iq4_xs): f16 d, u16 scales_h, 4 bytes scales_l, 128 bytes qs.
 * Each 32-weight sub-block j is an IQ4_NL block (16 bytes of qs at 8 + 16j) with the scale
 * d * (ls - 32), where the 6-bit ls has its low 4 bits in nibble j % 2 of scales_l[j / 2] and its
 * top 2 bits in bits 2j..2j+1 of scales_h.
 */
export function dequantizeIq4Xs(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'IQ4_XS', QK_K);
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK_K; b++) {
    const o = b * IQ4XS_SIZE;
    const d = h[u16(src, o)];
    const scalesH = u16(src, o + 2);
    for (let j = 0; j < 8; j++) {
      const ls = ((src[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((scalesH >> (2 * j)) & 3) << 4);
      nibbleBlock(src, o + 8 + 16 * j, 0, f(d * (ls - 32)), -0, IQ4_NL.level, out, b * QK_K + 32 * j);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Whole tensors

/** A tensor's f32 values stored as ggml type `type` (any that GGML_TYPES lists but the read-only BF16 and IQ4_XS), little-endian bytes. */
export function encodeGgml(type: number, x: Float32Array): Uint8Array {
  if (NIBBLES[type]) return quantizeNibbles(x, NIBBLES[type], NIBBLE_FITS[type]);
  switch (type) {
    case GT.F32:
      return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case GT.F16: {
      const out = new Uint8Array(x.length * 2);
      for (let i = 0; i < x.length; i++) setU16(out, 2 * i, floatToHalf(x[i]));
      return out;
    }
    case GT.Q8_0:
      return quantizeQ8_0(x);
    case GT.Q4_K:
      return quantizeQ4K(x);
    case GT.Q5_K:
      return quantizeQ5K(x);
    case GT.Q6_K:
      return quantizeQ6K(x);
    case GT.Q2_K:
      return quantizeQ2K(x);
    case GT.Q3_K:
      return quantizeQ3K(x);
    default:
      throw new UnsupportedError(`writing GGUF tensors of type ${ggmlTypeName(type)} is not supported`);
  }
}

/** `n` weights stored as ggml type `type` (bytes of exactly that size) to f32. */
export function decodeGgml(type: number, bytes: Uint8Array, n: number): Float32Array {
  const info = GGML_TYPES[type];
  if (!info) throw new UnsupportedError(`GGUF tensor type ${ggmlTypeName(type)} is not supported`);
  if (NIBBLES[type]) return dequantizeNibbles(bytes, n, NIBBLES[type]);
  switch (type) {
    case GT.F32: {
      const b = bytes.byteOffset % 4 ? bytes.slice() : bytes;
      return new Float32Array(b.buffer, b.byteOffset, n).slice();
    }
    case GT.F16: {
      const h = halfTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = h[u16(bytes, 2 * i)];
      return out;
    }
    case GT.BF16: {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = u16(bytes, 2 * i) << 16;
      return out;
    }
    case GT.Q8_0:
      return dequantizeQ8_0(bytes, n);
    case GT.Q4_K:
      return dequantizeQ4K(bytes, n);
    case GT.Q5_K:
      return dequantizeQ5K(bytes, n);
    case GT.Q6_K:
      return dequantizeQ6K(bytes, n);
    case GT.Q2_K:
      return dequantizeQ2K(bytes, n);
    case GT.Q3_K:
      return dequantizeQ3K(bytes, n);
    case GT.IQ4_XS:
      return dequantizeIq4Xs(bytes, n);
    default:
      throw new UnsupportedError(`GGUF tensor type ${ggmlTypeName(type)} is not supported`);
  }
}
