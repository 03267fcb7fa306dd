// Row preparation shared by the exact DP and the sorted Lloyd: checks the inputs, applies the
// uniform-weight fallback, sorts the row, drops weight-0 entries (they do not change the
// objective) and merges equal values (summing their weights), so the solvers see m <= n strictly
// increasing points x[0..m) with positive weights wt[0..m).

/** Weights as accepted per row: Fisher scores (>= 0), or null for uniform weights. */
export type RowWeights = Float32Array | Float64Array | null;

/** Reusable buffers for one row at a time (grown on demand, never shrunk). */
export class Workspace {
  cap = 0;
  keys = new Float64Array(0);
  /** Distinct positive-weight values, ascending. */
  x = new Float64Array(0);
  /** Their summed weights. */
  wt = new Float64Array(0);
  /** Prefix sums over x (length m + 1): weight, weight * (x - shift), weight * (x - shift)^2. */
  p0 = new Float64Array(0);
  p1 = new Float64Array(0);
  p2 = new Float64Array(0);
  /** DP rows and split table (see exact.ts). */
  prev = new Float64Array(0);
  cur = new Float64Array(0);
  split = new Int32Array(0);
  m = 0;
  /** True when the row's weights summed to 0 (or were null) and f_i = 1 was used. */
  uniform = false;

  ensure(n: number): void {
    if (n <= this.cap) return;
    const c = Math.max(n, this.cap * 2, 16);
    this.cap = c;
    this.keys = new Float64Array(c);
    this.x = new Float64Array(c);
    this.wt = new Float64Array(c);
    this.p0 = new Float64Array(c + 1);
    this.p1 = new Float64Array(c + 1);
    this.p2 = new Float64Array(c + 1);
    this.prev = new Float64Array(c + 1);
    this.cur = new Float64Array(c + 1);
  }

  ensureSplit(size: number): void {
    if (this.split.length < size) this.split = new Int32Array(Math.max(size, this.split.length * 2));
  }
}

/** Throws unless every weight is finite and >= 0; returns their sum (0 when f is null). */
export function checkWeights(f: RowWeights, n: number): number {
  if (f === null) return 0;
  if (f.length !== n) throw new Error(`weights: length ${f.length}, row has ${n} values`);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = f[i];
    if (!(v >= 0) || v === Infinity) throw new Error(`weights: entry ${i} is ${v} (must be finite and >= 0)`);
    s += v;
  }
  return s;
}

const u32 = new Uint32Array(1);
const f32 = new Float32Array(u32.buffer);

/**
 * Sorts the row and fills ws.x / ws.wt / ws.m. Sorting packs each float32 value's order-preserving
 * 32-bit key and its index into one exact float64 (key * 2^b + i, b = bits of n) and sorts those
 * natively: no comparator calls.
 */
export function prepareRow(w: Float32Array, f: RowWeights, ws: Workspace): void {
  const n = w.length;
  if (n >= 1 << 21) throw new Error(`row of ${n} values: at most 2^21 - 1 supported`);
  const sum = checkWeights(f, n);
  const uniform = f === null || sum === 0;
  ws.ensure(n);
  ws.uniform = uniform;
  const keys = ws.keys;
  const shiftBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** shiftBits;
  for (let i = 0; i < n; i++) {
    const v = w[i];
    if (!Number.isFinite(v)) throw new Error(`values: entry ${i} is ${v}`);
    f32[0] = v;
    const b = u32[0];
    // negative floats: flip all bits; positive: set the sign bit -> unsigned order = float order
    const key = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[i] = key * scale + i;
  }
  const sorted = keys.subarray(0, n).sort();
  const x = ws.x;
  const wt = ws.wt;
  let m = 0;
  for (let t = 0; t < n; t++) {
    const k = sorted[t];
    const i = k - Math.floor(k / scale) * scale;
    const fw = uniform ? 1 : (f as Float32Array | Float64Array)[i];
    if (fw === 0) continue;
    const v = w[i];
    if (m > 0 && x[m - 1] === v) wt[m - 1] += fw;
    else {
      x[m] = v;
      wt[m] = fw;
      m++;
    }
  }
  ws.m = m;
}

/**
 * Prefix sums of the prepared points around `shift` (the weighted mean, which keeps the
 * s2 - s1^2 / s0 cluster cost well conditioned). Returns the shift.
 */
export function prefixSums(ws: Workspace): number {
  const { x, wt, m, p0, p1, p2 } = ws;
  let s0 = 0;
  let s1 = 0;
  for (let i = 0; i < m; i++) {
    s0 += wt[i];
    s1 += wt[i] * x[i];
  }
  const shift = m > 0 ? s1 / s0 : 0;
  p0[0] = 0;
  p1[0] = 0;
  p2[0] = 0;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  for (let i = 0; i < m; i++) {
    const y = x[i] - shift;
    const g = wt[i];
    a0 += g;
    a1 += g * y;
    a2 += g * y * y;
    p0[i + 1] = a0;
    p1[i + 1] = a1;
    p2[i + 1] = a2;
  }
  return shift;
}
