// Tables that cost little on short rows (kind nuq-shared, docs/FORMAT.md): consecutive groups of
// `tableRows` rows share one table of 2^bits centroids, clustered jointly by the exact weighted
// k-means over all the group's values, and each row may carry its own f16 scale, so rows of
// different magnitude can share one table shape: w[r, c] ~ s[r] * T[t(r), idx(r, c)].
//
// A per-row f16 table costs 2^bits * 16 bits per row (2 bits per weight at 3 bits on 64-wide rows,
// 4 at 4 bits); a table shared by 32 rows costs 1/32 of that, and a row scale 16 / cols bits.
//
// The fit minimises sum f (w - s T)^2 (f = Fisher or 1, 0 at sparse positions) by coordinate
// descent from the joint clustering of w / s with weights f s^2 (the same objective at fixed s):
// nearest assignment, then each row's scale by weighted least squares, then each table entry as the
// weighted mean of its members (a Lloyd step in the shared space), each rounded to f16 where the
// file stores f16. None of these steps raises the objective, except by the f16 rounding.
import { floatToHalf, halfToFloat, expandSharedLut } from '../../src/kernels/reference.ts';
import { assignNearest as assignSorted } from '../kmeans/index.ts';
import { clusterRows } from '../kmeans/parallel.ts';

export interface SharedTableOptions {
  bits: 3 | 4;
  /** Rows per table (>= 1; the last table may serve fewer). */
  tableRows: number;
  /** One f16 scale per row. */
  rowScale: boolean;
  /** Tables stored as f16 (the default) or f32; row scales are always f16. */
  lutType: 'f16' | 'f32';
  /** Refinement rounds after the clustering (default 2). */
  rounds?: number;
  /** Values of a group clustered exactly as they are; above it, over a histogram of this many bins (default MAX_JOINT_POINTS). */
  maxPoints?: number;
  threads?: number;
  seed?: number;
}

export interface SharedTables {
  /** [ceil(rows / tableRows), 2^bits], ascending within each table. */
  lut: Float32Array;
  /** [rows] f16 values, or undefined without row scales. */
  rowScales?: Float32Array;
  /** [rows, 2^bits]: each row's effective table (expandSharedLut), what the indices point into. */
  perRow: Float32Array;
  /** [rows * cols] nearest entry of the row's effective table for every weight (sparse ones too). */
  indices: Uint8Array;
}

const toHalf = (v: number): number => halfToFloat(floatToHalf(v));

/**
 * Groups of more values than this (a whole 4096 x 4096 matrix has 16.7M) are clustered over a
 * histogram of this many equal-width bins: the exact DP's time and memory grow with the values
 * (about 130 bytes each), the histogram's error is a bin width, far below a table's spacing.
 */
export const MAX_JOINT_POINTS = 1 << 16;

/** Equal-width bins over [min, max] of v: each non-empty bin as one point at its weighted mean, weighing the sum of its weights. */
export function histogramPoints(v: Float32Array, f: Float32Array, bins: number): { w: Float32Array; f: Float32Array } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    if (!(f[i] > 0)) continue;
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  if (!(hi >= lo)) return { w: new Float32Array(0), f: new Float32Array(0) };
  const sw = new Float64Array(bins);
  const sf = new Float64Array(bins);
  const scale = hi > lo ? (bins - 1) / (hi - lo) : 0;
  for (let i = 0; i < v.length; i++) {
    if (!(f[i] > 0)) continue;
    const j = Math.round((v[i] - lo) * scale);
    sw[j] += f[i] * v[i];
    sf[j] += f[i];
  }
  const w: number[] = [];
  const ff: number[] = [];
  for (let j = 0; j < bins; j++) {
    if (sf[j] > 0) {
      w.push(sw[j] / sf[j]);
      ff.push(sf[j]);
    }
  }
  return { w: Float32Array.from(w), f: Float32Array.from(ff) };
}

/** The entry of table[base .. base + k) nearest v (ties: the lower index). */
export function nearestEntry(table: Float32Array, base: number, k: number, v: number): number {
  let best = 0;
  let bestD = Math.abs(v - table[base]);
  for (let j = 1; j < k; j++) {
    const d = Math.abs(v - table[base + j]);
    if (d < bestD) {
      best = j;
      bestD = d;
    }
  }
  return best;
}

/**
 * Nearest entry of each row's table, for every weight (ties: the lower index), by binary search:
 * the tables are ascending (k-means output, f16 rounding and positive row scales keep them so).
 */
export function assignNearest(w: Float32Array, perRow: Float32Array, rows: number, cols: number, k: number, out: Uint8Array): void {
  for (let r = 0; r < rows; r++) assignSorted(w.subarray(r * cols, (r + 1) * cols), perRow.subarray(r * k, (r + 1) * k), out.subarray(r * cols, (r + 1) * cols));
}

/** Fits shared tables (and row scales) to w [rows, cols] under weights f (0 = ignored). */
export async function fitSharedTables(w: Float32Array, f: Float32Array, rows: number, cols: number, opts: SharedTableOptions): Promise<SharedTables> {
  const { bits, tableRows: G } = opts;
  if (!Number.isSafeInteger(G) || G < 1) throw new RangeError(`tableRows must be a positive integer, got ${G}`);
  const k = 1 << bits;
  const nT = Math.ceil(rows / G);
  const round = opts.lutType === 'f16' ? toHalf : Math.fround;
  const s = new Float32Array(rows).fill(1);
  if (opts.rowScale) {
    // start from each row's RMS over the positions that count
    for (let r = 0; r < rows; r++) {
      let a = 0;
      let n = 0;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        if (f[i] > 0) {
          a += w[i] * w[i];
          n++;
        }
      }
      const rms = toHalf(Math.sqrt(n ? a / n : 0));
      s[r] = rms > 0 && Number.isFinite(rms) ? rms : 1;
    }
  }
  // the joint clustering: a group of rows is contiguous, so it is one long row of the normalised matrix
  const wn = new Float32Array(rows * cols);
  const fn = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      wn[i] = w[i] / s[r];
      fn[i] = f[i] * s[r] * s[r];
    }
  }
  const lut = new Float32Array(nT * k);
  const full = Math.floor(rows / G);
  const kmOpts = { threads: opts.threads, seed: opts.seed };
  const span = G * cols;
  const maxPoints = opts.maxPoints ?? MAX_JOINT_POINTS;
  if (span <= maxPoints) {
    if (full > 0) lut.set((await clusterRows(wn.subarray(0, full * span), fn.subarray(0, full * span), full, span, bits, kmOpts)).centroids);
    if (full < nT) lut.set((await clusterRows(wn.subarray(full * span), fn.subarray(full * span), 1, (rows - full * G) * cols, bits, kmOpts)).centroids, full * k);
  } else {
    // a group too large for the exact DP over its values: clustered exactly over a histogram of
    // them (the refinement rounds below then run on every value)
    for (let t = 0; t < nT; t++) {
      const a = t * span;
      const b = Math.min(rows * cols, a + span);
      const h = histogramPoints(wn.subarray(a, b), fn.subarray(a, b), maxPoints);
      lut.set((await clusterRows(h.w, h.f, 1, h.w.length, bits, kmOpts)).centroids, t * k);
    }
  }
  for (let i = 0; i < lut.length; i++) lut[i] = round(lut[i]);

  const scales = opts.rowScale ? s : undefined;
  const indices = new Uint8Array(rows * cols);
  let perRow = expandSharedLut(lut, G, scales, rows, bits);
  assignNearest(w, perRow, rows, cols, k, indices);
  const rounds = opts.rounds ?? 2;
  for (let it = 0; it < rounds; it++) {
    if (scales) refitScales(w, f, lut, G, scales, indices, rows, cols, k);
    refitTables(w, f, lut, G, s, indices, rows, cols, k, round);
    perRow = expandSharedLut(lut, G, scales, rows, bits);
    assignNearest(w, perRow, rows, cols, k, indices);
  }
  return { lut, rowScales: scales, perRow, indices };
}

/** Each row's scale by weighted least squares against its assigned entries, rounded to f16 (kept when not positive). */
function refitScales(w: Float32Array, f: Float32Array, lut: Float32Array, G: number, s: Float32Array, idx: Uint8Array, rows: number, cols: number, k: number): void {
  for (let r = 0; r < rows; r++) {
    const t = Math.floor(r / G) * k;
    let num = 0;
    let den = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const v = lut[t + idx[i]];
      num += f[i] * w[i] * v;
      den += f[i] * v * v;
    }
    const next = den > 0 ? toHalf(num / den) : 0;
    if (next > 0 && Number.isFinite(next)) s[r] = next;
  }
}

/** Each table entry as the weighted mean of its members in the shared space: sum f s w / sum f s^2. */
function refitTables(w: Float32Array, f: Float32Array, lut: Float32Array, G: number, s: Float32Array, idx: Uint8Array, rows: number, cols: number, k: number, round: (v: number) => number): void {
  const num = new Float64Array(lut.length);
  const den = new Float64Array(lut.length);
  for (let r = 0; r < rows; r++) {
    const t = Math.floor(r / G) * k;
    const sr = s[r];
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (!(f[i] > 0)) continue;
      num[t + idx[i]] += f[i] * sr * w[i];
      den[t + idx[i]] += f[i] * sr * sr;
    }
  }
  for (let j = 0; j < lut.length; j++) if (den[j] > 0) lut[j] = round(num[j] / den[j]);
  // entries stay ascending within each table (the assignment's tie rule assumes nothing, but the docs say so)
  for (let t = 0; t < lut.length; t += k) lut.subarray(t, t + k).sort();
}
