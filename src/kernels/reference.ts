// Plain TypeScript twins of the WASM kernels in assembly/. They are the yardstick: every kernel is
// tested against the function of the same name here, and the `js` backend runs the forward pass on
// them. Written for clarity, not speed; sums accumulate in f64 so they are at least as exact as the
// kernels they check. Matrices are row-major [rows, cols], one row per output.
import { type PackedBits, packedIndexAt, rowBytes } from '../format/packing.ts';

export type RopeStyle = 'interleaved' | 'half';

/** out[r] = sum_c w[r, c] * x[c] for rows r0 <= r < r1 (default all rows). */
export function matvecF32(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number, r0 = 0, r1 = rows): void {
  for (let r = r0; r < r1; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
    out[r] = s;
  }
}

/** n activation vectors at once: out[i, r] = sum_c w[r, c] * x[i, c]; x is [n, cols], out [n, rows]. */
export function matmulF32(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[i * cols + c];
      out[i * rows + r] = s;
    }
  }
}

/** IEEE 754 binary16 bits to f32, exact (subnormals, infinities and NaN included). */
export function f16ToF32(out: Float32Array, src: Uint16Array, n = src.length): void {
  for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** out[r] = sum_c f16(w[r, c]) * x[c] for rows r0 <= r < r1 (default all), w binary16 bits [rows, cols]. */
export function matvecF16(out: Float32Array, w: Uint16Array, x: Float32Array, rows: number, cols: number, r0 = 0, r1 = rows): void {
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += halfToFloat(w[r * cols + c]) * x[c];
    out[r] = s;
  }
}

/** matvecF16 for n vectors: x [n, cols], out [n, rows], rows r0 <= r < r1 of each. */
export function matmulF16(out: Float32Array, w: Uint16Array, x: Float32Array, rows: number, cols: number, n: number, r0 = 0, r1 = rows): void {
  eachVector(out, x, rows, cols, n, (o, xi) => matvecF16(o, w, xi, rows, cols, r0, r1));
}

/** f32 to binary16 bits, round to nearest even (overflow gives infinity). */
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function floatToHalf(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/**
 * Lookup-table matvec (SqueezeLLM exact path): row r's weight at column c is lut[r, idx(r, c)],
 * with idx packed as in src/format/packing.ts; lut is [rows, 2^bits] f32.
 */
export function matvecLut(out: Float32Array, lut: Float32Array, packed: Uint8Array, x: Float32Array, rows: number, cols: number, bits: 3 | 4, r0 = 0, r1 = rows): void {
  const stride = rowBytes(bits, cols);
  const k = 1 << bits;
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += lut[r * k + packedIndexAt(packed, r * stride, c, bits)] * x[c];
    out[r] = s;
  }
}

/**
 * Runs a matvec `one(outI, xI)` for each of n activation vectors: x is [n, cols], out [n, rows]
 * (the matmul twins below are these loops, so they are exactly their matvecs).
 */
function eachVector(out: Float32Array, x: Float32Array, rows: number, cols: number, n: number, one: (o: Float32Array, xi: Float32Array) => void): void {
  for (let i = 0; i < n; i++) one(out.subarray(i * rows, (i + 1) * rows), x.subarray(i * cols, (i + 1) * cols));
}

/** matvecLut for n vectors: out[i, r] for x [n, cols], out [n, rows], rows r0 <= r < r1 of each. */
export function matmulLut(out: Float32Array, lut: Float32Array, packed: Uint8Array, x: Float32Array, rows: number, cols: number, n: number, bits: 3 | 4, r0 = 0, r1 = rows): void {
  eachVector(out, x, rows, cols, n, (o, xi) => matvecLut(o, lut, packed, xi, rows, cols, bits, r0, r1));
}

/**
 * The int8 fast path's tables (not exact): row r's entries as 7-bit integers t[r, k] in [0, 127] with
 * entry ~ lo[r] + step[r] * t[r, k], lo = the row's smallest entry and step = (largest - lo) / 127 in
 * f32 (step 0 and t 0 for a row of equal entries). params holds (step, lo) per row.
 */
export function lutToUint7(lut: Float32Array, bits: 3 | 4): { table: Uint8Array; params: Float32Array } {
  const levels = 1 << bits;
  const rows = lut.length >> bits;
  const table = new Uint8Array(lut.length);
  const params = new Float32Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < levels; k++) {
      lo = Math.min(lo, lut[r * levels + k]);
      hi = Math.max(hi, lut[r * levels + k]);
    }
    const step = Math.fround((hi - lo) / 127);
    params[2 * r] = step;
    params[2 * r + 1] = lo;
    if (step > 0) for (let k = 0; k < levels; k++) table[r * levels + k] = Math.max(0, Math.min(127, Math.round((lut[r * levels + k] - lo) / step)));
  }
  return { table, params };
}

/** Columns per activation scale of the int8 fast path: one packed group. */
export const ACTIVATION_BLOCK = 32;
/** Largest quantized activation of the int8 fast path (assembly/lutint8.ts says why not 127). */
export const ACTIVATION_MAX = 64;

/**
 * The activations of the int8 fast path: per block of ACTIVATION_BLOCK columns, scale = max|x| / 64
 * (f32) and q[c] = x[c] / scale rounded to nearest even, in [-64, 64] (0 for a block of zeros); q has whole blocks,
 * 0 past cols, in an even number of blocks (the kernels read two at a time; a block past cols has
 * scale 0). sum = sum_b scale_b * sum_{c in b} q[c], in f32, block after block.
 */
export function quantizeActivations(x: Float32Array, cols: number): { q: Int8Array; scales: Float32Array; sum: number } {
  const blocks = 2 * Math.ceil(cols / (2 * ACTIVATION_BLOCK));
  const q = new Int8Array(blocks * ACTIVATION_BLOCK);
  const scales = new Float32Array(blocks);
  let sum = 0;
  for (let b = 0; b < blocks; b++) {
    const c0 = b * ACTIVATION_BLOCK;
    const c1 = Math.min(cols, c0 + ACTIVATION_BLOCK);
    let m = 0;
    for (let c = c0; c < c1; c++) m = Math.max(m, Math.abs(x[c]));
    scales[b] = Math.fround(m / ACTIVATION_MAX);
    const inv = m > 0 ? Math.fround(ACTIVATION_MAX / m) : 0;
    let total = 0;
    for (let c = c0; c < c1; c++) total += q[c] = Math.max(-ACTIVATION_MAX, Math.min(ACTIVATION_MAX, roundHalfEven(Math.fround(x[c] * inv))));
    sum = Math.fround(sum + Math.fround(total * scales[b]));
  }
  return { q, scales, sum };
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/**
 * The int8 fast-path matvec (matvecLut4Int8 / matvecLut3Int8): out[r] = step[r] * sum_b xScales[b] *
 * sum_{c in block b} table[r, idx(r, c)] * q[c] + lo[r] * sum, table and params from lutToUint7, q,
 * xScales and sum from quantizeActivations. The inner sums are exact integers.
 */
export function matvecLutInt8(
  out: Float32Array, table: Uint8Array, params: Float32Array, packed: Uint8Array, xq: { q: Int8Array; scales: Float32Array; sum: number },
  rows: number, cols: number, bits: 3 | 4, r0 = 0, r1 = rows,
): void {
  const stride = rowBytes(bits, cols);
  const levels = 1 << bits;
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let b = 0; b * ACTIVATION_BLOCK < cols; b++) {
      let block = 0;
      for (let c = b * ACTIVATION_BLOCK; c < Math.min(cols, (b + 1) * ACTIVATION_BLOCK); c++) block += table[r * levels + packedIndexAt(packed, r * stride, c, bits)] * xq.q[c];
      s += block * xq.scales[b];
    }
    out[r] = s * params[2 * r] + params[2 * r + 1] * xq.sum;
  }
}

/**
 * matvecLutInt8 for n vectors (matmulLut4Int8 / matmulLut3Int8): out [n, rows], xq[i] is vector i's
 * quantizeActivations output, rows r0 <= r < r1 of each.
 */
export function matmulLutInt8(
  out: Float32Array, table: Uint8Array, params: Float32Array, packed: Uint8Array, xq: { q: Int8Array; scales: Float32Array; sum: number }[],
  rows: number, cols: number, bits: 3 | 4, r0 = 0, r1 = rows,
): void {
  xq.forEach((v, i) => matvecLutInt8(out.subarray(i * rows, (i + 1) * rows), table, params, packed, v, rows, cols, bits, r0, r1));
}

/** Row-wise dequantization of a packed LUT matrix to dense f32 (for tests and export). */
export function dequantLut(lut: Float32Array, packed: Uint8Array, rows: number, cols: number, bits: PackedBits): Float32Array {
  const stride = rowBytes(bits, cols);
  const k = 1 << bits;
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) w[r * cols + c] = lut[r * k + packedIndexAt(packed, r * stride, c, bits)];
  }
  return w;
}

/**
 * Per-row f32 tables [rows, 2^bits] of a table-sharing LUT matrix (kind nuq-shared): rows
 * t * tableRows .. (t + 1) * tableRows - 1 share table t of `lut` [ceil(rows / tableRows), 2^bits],
 * and with row scales each entry is the f32 product scale[r] * lut[t, k]. A nuq-shared matrix is
 * exactly the nuq matrix with these tables, so every LUT kernel runs it unchanged.
 */
export function expandSharedLut(lut: Float32Array, tableRows: number, rowScales: Float32Array | undefined, rows: number, bits: 3 | 4): Float32Array {
  const k = 1 << bits;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const t = Math.floor(r / tableRows) * k;
    const s = rowScales ? rowScales[r] : 1;
    for (let j = 0; j < k; j++) out[r * k + j] = rowScales ? Math.fround(s * lut[t + j]) : lut[t + j];
  }
  return out;
}

/** Groups per row of a uniform matrix: ceil(cols / min(groupSize, cols)). */
export function uniformGroupCount(cols: number, groupSize: number): number {
  return Math.ceil(cols / Math.min(groupSize, cols));
}

/**
 * Uniform (RTN / GPTQ / AWQ) matvec: w[r, c] = scales[r, g] * (q(r, c) - zeros[r, g]) with
 * g = floor(c / min(groupSize, cols)), q packed as in src/format/packing.ts (3, 4 or 8 bits) and
 * scales, zeros [rows, nGroups] f32 (docs/FORMAT.md, kind `uniform`).
 */
export function matvecUniform(
  out: Float32Array,
  scales: Float32Array,
  zeros: Float32Array,
  packed: Uint8Array,
  x: Float32Array,
  rows: number,
  cols: number,
  groupSize: number,
  bits: PackedBits,
  r0 = 0,
  r1 = rows,
): void {
  const stride = rowBytes(bits, cols);
  const gs = Math.min(groupSize, cols);
  const nG = uniformGroupCount(cols, groupSize);
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const g = r * nG + Math.floor(c / gs);
      s += scales[g] * (packedIndexAt(packed, r * stride, c, bits) - zeros[g]) * x[c];
    }
    out[r] = s;
  }
}

/** matvecUniform for n vectors: x [n, cols], out [n, rows], rows r0 <= r < r1 of each. */
export function matmulUniform(out: Float32Array, scales: Float32Array, zeros: Float32Array, packed: Uint8Array, x: Float32Array, rows: number, cols: number, n: number, groupSize: number, bits: PackedBits, r0 = 0, r1 = rows): void {
  eachVector(out, x, rows, cols, n, (o, xi) => matvecUniform(o, scales, zeros, packed, xi, rows, cols, groupSize, bits, r0, r1));
}

/** Row `row` of a uniform matrix as f32 into out[0..cols) (an embedding lookup, dequantized on the host). */
export function dequantUniformRow(
  out: Float32Array,
  scales: Float32Array,
  zeros: Float32Array,
  packed: Uint8Array,
  row: number,
  cols: number,
  groupSize: number,
  bits: PackedBits,
): void {
  const start = row * rowBytes(bits, cols);
  const gs = Math.min(groupSize, cols);
  const nG = uniformGroupCount(cols, groupSize);
  for (let c = 0; c < cols; c++) {
    const g = row * nG + Math.floor(c / gs);
    out[c] = scales[g] * (packedIndexAt(packed, start, c, bits) - zeros[g]);
  }
}

/** CSR sparse matvec added into out: out[r] += sum_{k in rowPtr[r]..rowPtr[r+1]} values[k] * x[colIdx[k]]. */
export function spmvCsrAdd(out: Float32Array, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, x: Float32Array, r0 = 0, r1 = rowPtr.length - 1): void {
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) s += values[k] * x[colIdx[k]];
    out[r] += s;
  }
}

/** spmvCsrAdd for n vectors: out[i, r] += sum_k values[k] * x[i, colIdx[k]]; x [n, cols], out [n, rows]. */
export function spmmCsrAdd(out: Float32Array, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, x: Float32Array, cols: number, n: number, r0 = 0, r1 = rowPtr.length - 1): void {
  eachVector(out, x, rowPtr.length - 1, cols, n, (o, xi) => spmvCsrAdd(o, rowPtr, colIdx, values, xi, r0, r1));
}

/** out = x * weight / sqrt(mean(x^2) + eps). */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, eps: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[i] = weight[i] * (x[i] * inv);
}

/**
 * Rotary position embedding, in place, over a vector of heads (n = heads * headSize).
 * 'interleaved' (llama2.c, GGUF): pairs (2i, 2i+1) of each head, angle pos * theta^(-2i/headSize).
 * 'half' (Hugging Face rotate_half): pairs (i, i + headSize/2), same angles.
 * With `freqs` (headSize/2 of them), pair i's angle is pos * freqs[i] instead.
 */
export function rope(vec: Float32Array, n: number, headSize: number, pos: number, theta: number, style: RopeStyle, freqs?: Float64Array): void {
  const half = headSize / 2;
  for (let h = 0; h < n; h += headSize) {
    for (let i = 0; i < half; i++) {
      const angle = pos * (freqs ? freqs[i] : Math.pow(theta, (-2 * i) / headSize));
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const a = style === 'interleaved' ? h + 2 * i : h + i;
      const b = style === 'interleaved' ? a + 1 : a + half;
      const x0 = vec[a];
      const x1 = vec[b];
      vec[a] = x0 * cos - x1 * sin;
      vec[b] = x0 * sin + x1 * cos;
    }
  }
}

/** Softmax in place over x[0..n). */
export function softmax(x: Float32Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) x[i] /= sum;
}

/** SwiGLU: out = silu(gate) * up, silu(g) = g / (1 + e^-g). */
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** out = a + b, elementwise (residual connections). */
export function add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/**
 * Causal attention of one query position over the KV cache, grouped-query style.
 * q: [nHeads * headSize]; kCache, vCache: [nPos, nKvHeads * headSize]; out: [nHeads * headSize].
 * Head h reads KV head floor(h / (nHeads / nKvHeads)); scores are scaled by 1/sqrt(headSize).
 * window > 0: only positions nPos - window .. nPos - 1 are seen; cap > 0: scores become cap * tanh(score / cap).
 */
export function attention(out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array, nHeads: number, nKvHeads: number, headSize: number, nPos: number, window = 0, cap = 0): void {
  const kvDim = nKvHeads * headSize;
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headSize);
  const lo = window > 0 ? Math.max(0, nPos - window) : 0;
  const att = new Float32Array(nPos - lo);
  for (let h = 0; h < nHeads; h++) {
    const kvOff = Math.floor(h / group) * headSize;
    for (let t = lo; t < nPos; t++) {
      let s = 0;
      for (let i = 0; i < headSize; i++) s += q[h * headSize + i] * kCache[t * kvDim + kvOff + i];
      att[t - lo] = cap > 0 ? cap * Math.tanh((s * scale) / cap) : s * scale;
    }
    softmax(att, nPos - lo);
    for (let i = 0; i < headSize; i++) {
      let s = 0;
      for (let t = lo; t < nPos; t++) s += att[t - lo] * vCache[t * kvDim + kvOff + i];
      out[h * headSize + i] = s;
    }
  }
}
