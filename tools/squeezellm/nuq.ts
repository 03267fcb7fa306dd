// SqueezeLLM's dense-and-sparse, sensitivity-weighted non-uniform quantization of one matrix.
//
//  1. The sparse part: outliers (|w| >= T, see outliers.ts) and the most sensitive values (the
//     top p% of Fisher scores in the matrix).
//  2. The dense part: per output row, 2^bits centroids minimising sum_i f_i (w_i - c)^2 (exact
//     weighted 1-D k-means, tools/kmeans), with f = Fisher (or 1 when unweighted) and f = 0 at the
//     sparse positions, so they do not pull the centroids.
//  3. At a sparse position the dense index points at the row's centroid nearest zero and the
//     sparse value is the residual w - c, so dense + sparse gives back the original value there.
//
// With f16 tables (the default, as SqueezeLLM's own packed models) the centroids are rounded to
// f16 before step 3 and every dense weight is reassigned to its nearest rounded centroid, so the
// file holds exactly what was optimised against and the residuals are taken from stored values.
//
// With `tableRows` > 1 or `rowScale`, groups of rows share a table (shared.ts) and the record is a
// nuq-shared one; steps 1 and 3 are the same.
import type { NuqRecord, NuqSharedRecord } from '../../src/format/kinds.ts';
import { packIndices } from '../../src/format/packing.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { clusterRows } from '../kmeans/parallel.ts';
import type { SweepOptions } from '../baselines/gptq.ts';
import { lutSweep } from './gptq.ts';
import { assignNearest, fitSharedTables } from './shared.ts';

export interface NuqOptions {
  bits: 3 | 4;
  /** Outlier threshold T for this matrix (Infinity or absent: no outliers). */
  outlierThreshold?: number;
  /** Share of the matrix, in percent, kept sparse as the most sensitive values (by Fisher). */
  sensitivity?: number;
  /** How the tables are stored (default f16). */
  lutType?: LutType;
  /** Rows per shared table (default 1: a table per row; 0: one table for the whole matrix). */
  tableRows?: number;
  /** One f16 scale per row on its (shared) table. */
  rowScale?: boolean;
  /**
   * The Hessian [cols, cols] of this matrix's calibration inputs: with it the weights are assigned
   * to the fitted tables by GPTQ's error feedback (gptq.ts) instead of to the nearest entry.
   */
  hessian?: Float64Array;
  /** Damping and column order of that sweep. */
  sweep?: SweepOptions;
  /** Worker threads for the per-row k-means. */
  threads?: number;
  seed?: number;
}

export type LutType = 'f16' | 'f32';

export interface NuqResult {
  record: NuqRecord | NuqSharedRecord;
  outliers: number;
  sensitive: number;
  /** Values in the sparse part (outliers and sensitive values, counted once). */
  nnz: number;
  /** sum over dense positions of f (w - w_hat)^2, f = Fisher or 1. */
  objective: number;
}

/** Marks the k = round(p% * n) largest scores (ties broken by position, so exactly k). */
export function markTopShare(scores: Float32Array, percent: number, mask: Uint8Array): number {
  const k = Math.min(scores.length, Math.round((percent / 100) * scores.length));
  if (k <= 0) return 0;
  const sorted = Float32Array.from(scores).sort();
  const thr = sorted[scores.length - k];
  let greater = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > thr) greater++;
  let ties = k - greater;
  let marked = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] > thr || (scores[i] === thr && ties-- > 0)) {
      mask[i] = 1;
      marked++;
    }
  }
  return marked;
}

export async function quantizeMatrix(name: string, w: Float32Array, fisher: Float32Array | null, rows: number, cols: number, opts: NuqOptions): Promise<NuqResult> {
  const n = rows * cols;
  if (w.length !== n) throw new RangeError(`${name}: ${w.length} weights for a ${rows}x${cols} matrix`);
  if (fisher && fisher.length !== n) throw new RangeError(`${name}: ${fisher.length} Fisher values for a ${rows}x${cols} matrix`);
  const k = 1 << opts.bits;

  // 1. the sparse positions
  const sparse = new Uint8Array(n);
  let outliers = 0;
  const T = opts.outlierThreshold ?? Infinity;
  for (let i = 0; i < n; i++) {
    if (Math.abs(w[i]) >= T) {
      sparse[i] = 1;
      outliers++;
    }
  }
  let sensitive = 0;
  if (fisher && opts.sensitivity) sensitive = markTopShare(fisher, opts.sensitivity, sparse);

  // 2. weighted k-means per row (or per group of rows), sparse positions at weight 0
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = sparse[i] ? 0 : fisher ? fisher[i] : 1;
  const lutType = opts.lutType ?? 'f16';
  const tableRows = opts.tableRows === 0 ? rows : (opts.tableRows ?? 1);
  const shared = (tableRows > 1 && rows > 1) || opts.rowScale ? await fitSharedTables(w, f, rows, cols, { bits: opts.bits, tableRows, rowScale: opts.rowScale ?? false, lutType, threads: opts.threads, seed: opts.seed }) : undefined;
  const fitted = shared ? { centroids: shared.perRow, indices: shared.indices } : await clusterRows(w, f, rows, cols, opts.bits, { threads: opts.threads, seed: opts.seed });
  const centroids = fitted.centroids;
  let indices = fitted.indices;
  if (!shared && lutType === 'f16') {
    // the file holds exactly what the weights are assigned to: round, then move each weight to its nearest rounded centroid
    for (let i = 0; i < centroids.length; i++) centroids[i] = halfToFloat(floatToHalf(centroids[i]));
    assignNearest(w, centroids, rows, cols, k, indices);
  }
  // with a Hessian, the assignment is GPTQ's; the sparse residuals are taken from the weights it leaves
  let kept = w;
  if (opts.hessian) {
    const sw = lutSweep(name, w, rows, cols, opts.hessian, centroids, k, sparse, opts.sweep);
    indices = sw.indices;
    kept = sw.updated;
  }

  // 3. residuals at the sparse positions, in CSR (columns ascending within a row)
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  let objective = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    let nearZero = 0;
    for (let c = 1; c < k; c++) if (Math.abs(centroids[base + c]) < Math.abs(centroids[base + nearZero])) nearZero = c;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (sparse[i]) {
        indices[i] = nearZero;
        colIdx.push(c);
        values.push(kept[i] - centroids[base + nearZero]);
      } else {
        const d = w[i] - centroids[base + indices[i]];
        objective += (fisher ? fisher[i] : 1) * d * d;
      }
    }
    rowPtr[r + 1] = colIdx.length;
  }

  const common = {
    name,
    shape: [rows, cols],
    bits: opts.bits,
    ...(lutType === 'f16' ? { lutType } : {}),
    indices: packIndices(indices, rows, cols, opts.bits),
    ...(colIdx.length ? { sparse: { rowPtr, colIdx: Int32Array.from(colIdx), values: Float32Array.from(values) } } : {}),
  };
  const record: NuqRecord | NuqSharedRecord = shared
    ? { ...common, kind: 'nuq-shared', tableRows, lut: shared.lut, ...(shared.rowScales ? { rowScales: shared.rowScales } : {}) }
    : { ...common, kind: 'nuq', lut: centroids };
  return { record, outliers, sensitive, nnz: colIdx.length, objective };
}

/**
 * Row boundaries [0, b1, ..., rows] splitting a nuq matrix into `parts` contiguous blocks of about
 * equal work, counting a row's dense work as cols / DENSE_PER_SPARSE sparse non-zeros.
 */
export function balancedRowSplit(rec: NuqRecord | NuqSharedRecord, parts: number): Int32Array {
  const [rows, cols] = rec.shape;
  const rowPtr = rec.sparse?.rowPtr;
  const cost = (r: number) => cols / DENSE_PER_SPARSE + (rowPtr ? rowPtr[r + 1] - rowPtr[r] : 0);
  let total = 0;
  for (let r = 0; r < rows; r++) total += cost(r);
  const split = new Int32Array(parts + 1);
  split[parts] = rows;
  let acc = 0;
  let p = 1;
  for (let r = 0; r < rows && p < parts; r++) {
    acc += cost(r);
    while (p < parts && acc >= (total * p) / parts) split[p++] = r + 1;
  }
  for (; p < parts; p++) split[p] = rows;
  return split;
}

/**
 * A sparse non-zero (a gather, a multiply-add and two index loads) costs about as much as this
 * many dense LUT weights (16 per swizzle). An estimate; the split only needs to be roughly even.
 */
const DENSE_PER_SPARSE = 8;
