// ggml's tensor storage types, to and from f32: F32, F16, BF16 and the 32-weight block formats
// Q8_0, Q4_0 and IQ4_NL (docs/GGUF.md). The quantizers follow ggml's reference ones
// (quantize_row_*_ref, quantize_iq4_nl) step by step, in f32 where ggml computes in f32.
//
//   Q8_0   34 bytes: f16 d, 32 x int8 q;                      w = d * q
//   Q4_0   18 bytes: f16 d, 16 bytes of nibbles;              w = d * (q - 8)
//   IQ4_NL 18 bytes: f16 d, 16 bytes of nibbles;              w = d * IQ4_NL_VALUES[q]
// In the nibble formats, byte j of a block holds weight j in its low nibble and weight j + 16 in
// its high nibble.
import { floatToHalf } from '../../src/kernels/reference.ts';
import { halfTable } from '../../src/format/half.ts';
import { GGML_TYPES, GT, IQ4_NL_VALUES, ggmlTypeName } from './spec.ts';
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

function checkBlocks(n: number, what: string): void {
  if (n % QK) throw new RangeError(`${what}: ${n} weights is not a whole number of ${QK}-weight blocks`);
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
// Q4_0

/** ggml quantize_row_q4_0_ref: d = (the value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, 'Q4_0');
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    const xb = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[xb + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    const o = b * 18;
    setU16(out, o, floatToHalf(d));
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f(f(x[xb + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(x[xb + 16 + j] * id) + 8.5)));
      out[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q4_0');
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * 18;
    const d = h[u16(src, o)];
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j];
      out[b * QK + j] = d * ((q & 15) - 8);
      out[b * QK + 16 + j] = d * ((q >> 4) - 8);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// IQ4_NL

const V = IQ4_NL_VALUES;

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
export function quantizeIq4Nl(x: Float32Array): Uint8Array {
  checkBlocks(x.length, 'IQ4_NL');
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  const ntry = 7;
  for (let b = 0; b < nb; b++) {
    const xb = b * QK;
    const o = b * 18;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const ax = Math.abs(x[xb + j]);
      if (ax > amax) {
        amax = ax;
        max = x[xb + j];
      }
    }
    let d = 0;
    // an all-zero block keeps d = 0 (ggml: amax < GROUP_MAX_EPS)
    if (amax >= 1e-15) {
      d = f(-max / V[0]);
      let id = f(1 / d);
      let sumqx = 0;
      let sumq2 = 0;
      for (let j = 0; j < QK; j++) {
        const v = x[xb + j];
        const q = V[bestIndex(f(id * v))];
        const w = f(v * v);
        sumqx = f(sumqx + f(f(w * q) * v));
        sumq2 = f(sumq2 + f(f(w * q) * q));
      }
      d = f(sumqx / sumq2);
      let best = f(d * sumqx);
      for (let itry = -ntry; itry <= ntry; itry++) {
        id = f((itry + V[0]) / max);
        sumqx = 0;
        sumq2 = 0;
        for (let j = 0; j < QK; j++) {
          const v = x[xb + j];
          const q = V[bestIndex(f(id * v))];
          const w = f(v * v);
          sumqx = f(sumqx + f(f(w * q) * v));
          sumq2 = f(sumq2 + f(f(w * q) * q));
        }
        if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
          d = f(sumqx / sumq2);
          best = f(d * sumqx);
        }
      }
    }
    setU16(out, o, floatToHalf(d));
    const inv = d ? f(1 / d) : 0;
    for (let j = 0; j < 16; j++) {
      const l0 = bestIndex(f(inv * x[xb + j]));
      const l1 = bestIndex(f(inv * x[xb + 16 + j]));
      out[o + 2 + j] = l0 | (l1 << 4);
    }
  }
  return out;
}

export function dequantizeIq4Nl(src: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'IQ4_NL');
  const h = halfTable();
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * 18;
    const d = h[u16(src, o)];
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j];
      out[b * QK + j] = d * V[q & 15];
      out[b * QK + 16 + j] = d * V[q >> 4];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Whole tensors

/** A tensor's f32 values stored as ggml type `type` (F32, F16, Q8_0, Q4_0, IQ4_NL), little-endian bytes. */
export function encodeGgml(type: number, x: Float32Array): Uint8Array {
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
    case GT.Q4_0:
      return quantizeQ4_0(x);
    case GT.IQ4_NL:
      return quantizeIq4Nl(x);
    default:
      throw new UnsupportedError(`writing GGUF tensors of type ${ggmlTypeName(type)} is not supported`);
  }
}

/** `n` weights stored as ggml type `type` (bytes of exactly that size) to f32. */
export function decodeGgml(type: number, bytes: Uint8Array, n: number): Float32Array {
  const info = GGML_TYPES[type];
  if (!info) throw new UnsupportedError(`GGUF tensor type ${ggmlTypeName(type)} is not supported`);
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
    case GT.Q4_0:
      return dequantizeQ4_0(bytes, n);
    case GT.IQ4_NL:
      return dequantizeIq4Nl(bytes, n);
    default:
      throw new UnsupportedError(`GGUF tensor type ${ggmlTypeName(type)} is not supported`);
  }
}
