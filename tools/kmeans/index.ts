// Fisher-weighted 1-D k-means per output row (SqueezeLLM's non-uniform quantization, toolchain
// step 4). Each row is independent: quantizeRows can be split into row ranges (rowStart/rowEnd)
// and spread over workers; the Lloyd seed of row r depends only on (seed, r).
// See docs/KMEANS.md.

import { Rng } from '../../src/util/random.ts';
import { tsExact, type ExactSolver } from './exact.ts';
import { kmeansppSorted, lloydSorted } from './lloyd.ts';
import { prefixSums, prepareRow, Workspace, type RowWeights } from './prepare.ts';

export { Workspace } from './prepare.ts';
export type { RowWeights } from './prepare.ts';
export { tsExact, type ExactSolver } from './exact.ts';

export type KMeansMethod = 'exact' | 'lloyd';

export interface KMeansOptions {
  /** Lloyd only: seed for k-means++ (row r of quantizeRows uses rowSeed(seed, r)). Default 0. */
  seed?: number;
  /** Lloyd only: most assignment steps. Default 300. */
  maxIter?: number;
  /** Buffers reused across calls (one per thread). */
  workspace?: Workspace;
  /** Exact only: the DP to run (default `tsExact`; `wasmExact()` from wasm.ts gives the same result, faster). */
  solver?: ExactSolver;
}

export interface RowResult {
  /** 2^bits centroids, ascending. */
  centroids: Float32Array;
  /** Per value, the nearest centroid (ties to the lower index). */
  indices: Uint8Array;
  /** sum_i f_i (w_i - centroids[indices[i]])^2 with the weights used (uniform after fallback). */
  objective: number;
  /** True when the weights were null or summed to 0 and f_i = 1 was used. */
  uniform: boolean;
}

function checkBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`bits must be an integer in 1..8, got ${bits}`);
  return 1 << bits;
}

/**
 * Quantizes one row: k = 2^bits centroids minimising sum_i f_i (w_i - c_{a(i)})^2.
 * 'exact' is the optimal DP; 'lloyd' is weighted Lloyd from a k-means++ start.
 * Weight-0 values (the sparse part) do not move the centroids but still get their nearest index.
 */
export function quantizeRow(
  w: Float32Array,
  f: RowWeights,
  bits: number,
  method: KMeansMethod = 'exact',
  opts: KMeansOptions = {},
): RowResult {
  return clusterRow(w, f, checkBits(bits), method, opts);
}

/** As quantizeRow with any number of centroids k in 1..256 (the tests use k = 3). */
export function clusterRow(
  w: Float32Array,
  f: RowWeights,
  k: number,
  method: KMeansMethod = 'exact',
  opts: KMeansOptions = {},
): RowResult {
  if (!Number.isInteger(k) || k < 1 || k > 256) throw new Error(`k must be an integer in 1..256, got ${k}`);
  const centroids = new Float32Array(k);
  const indices = new Uint8Array(w.length);
  const { objective, uniform } = quantizeRowInto(w, f, k, method, opts, centroids, indices);
  return { centroids, indices, objective, uniform };
}

/** quantizeRow writing into caller buffers (centroids: length k, indices: length w.length). */
export function quantizeRowInto(
  w: Float32Array,
  f: RowWeights,
  k: number,
  method: KMeansMethod,
  opts: KMeansOptions,
  centroids: Float32Array,
  indices: Uint8Array,
): { objective: number; uniform: boolean } {
  if (method === 'exact' && opts.solver?.row) {
    const r = opts.solver.row(w, f, k, centroids, indices);
    if (r) return r;
  }
  const ws = opts.workspace ?? new Workspace();
  prepareRow(w, f, ws);
  const m = ws.m;
  const c64 = new Float64Array(k);
  if (m === 0) {
    // empty row: all centroids 0
  } else if (method === 'exact') {
    const bounds = new Int32Array(k + 1);
    prefixSums(ws);
    const { K } = (opts.solver ?? tsExact).partition(ws, k, bounds);
    const { x, wt } = ws;
    for (let c = 0; c < K; c++) {
      let s0 = 0;
      let s1 = 0;
      for (let i = bounds[c]; i < bounds[c + 1]; i++) {
        s0 += wt[i];
        s1 += wt[i] * x[i];
      }
      c64[c] = s1 / s0;
    }
    // fewer distinct values than k: repeat the last centroid
    for (let c = K; c < k; c++) c64[c] = c64[K - 1];
  } else if (method === 'lloyd') {
    const init = kmeansppSorted(ws.x, ws.wt, m, k, new Rng(opts.seed ?? 0));
    const r = lloydSorted(ws, init, opts.maxIter ?? 300);
    c64.set(r.centroids);
  } else {
    throw new Error(`unknown k-means method ${String(method)}`);
  }
  for (let c = 0; c < k; c++) centroids[c] = c64[c];
  // float32 rounding keeps the order non-decreasing; make it explicit
  for (let c = 1; c < k; c++) if (centroids[c] < centroids[c - 1]) centroids[c] = centroids[c - 1];
  assignNearest(w, centroids, indices);
  const objective = rowObjective(w, ws.uniform ? null : f, centroids, indices);
  return { objective, uniform: ws.uniform };
}

/** indices[i] = nearest centroid to w[i] (sorted centroids; ties to the lower index). */
export function assignNearest(w: ArrayLike<number>, centroids: Float32Array, indices: Uint8Array): void {
  const k = centroids.length;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    // first p with centroids[p] >= v
    let a = 0;
    let b = k;
    while (a < b) {
      const h = (a + b) >> 1;
      if (centroids[h] < v) a = h + 1;
      else b = h;
    }
    let best: number;
    if (a === k) best = k - 1;
    else if (a === 0) best = 0;
    else best = v - centroids[a - 1] <= centroids[a] - v ? a - 1 : a;
    while (best > 0 && centroids[best - 1] === centroids[best]) best--;
    indices[i] = best;
  }
}

/** sum_i f_i (w_i - c[idx_i])^2 in float64; f null = uniform weights. */
export function rowObjective(w: ArrayLike<number>, f: RowWeights, centroids: ArrayLike<number>, indices: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) {
    const d = w[i] - centroids[indices[i]];
    s += (f === null ? 1 : f[i]) * d * d;
  }
  return s;
}

/** Seed of row r for the Lloyd start (independent of how rows are split between workers). */
export function rowSeed(seed: number, row: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(row + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

export interface RowsOptions extends KMeansOptions {
  method?: KMeansMethod;
  /** Row range [rowStart, rowEnd) to process (default all rows). */
  rowStart?: number;
  rowEnd?: number;
  /** Output buffers (e.g. over a SharedArrayBuffer): centroids rows*k, indices rows*cols, objectives rows. */
  out?: RowsResult;
}

export interface RowsResult {
  /** rows * 2^bits, row-major, each row ascending. */
  centroids: Float32Array;
  /** rows * cols, row-major. */
  indices: Uint8Array;
  /** Per-row objective. */
  objectives: Float64Array;
}

/**
 * Quantizes rows [rowStart, rowEnd) of the row-major rows x cols matrix W with per-weight
 * Fisher scores F (same shape; null = unweighted, i.e. uniform weights).
 */
export function quantizeRows(
  W: Float32Array,
  F: Float32Array | Float64Array | null,
  rows: number,
  cols: number,
  bits: number,
  opts: RowsOptions = {},
): RowsResult {
  const k = checkBits(bits);
  if (W.length !== rows * cols) throw new Error(`W has ${W.length} values, expected ${rows} x ${cols}`);
  if (F !== null && F.length !== rows * cols) throw new Error(`F has ${F.length} values, expected ${rows} x ${cols}`);
  const r0 = opts.rowStart ?? 0;
  const r1 = opts.rowEnd ?? rows;
  if (!(0 <= r0 && r0 <= r1 && r1 <= rows)) throw new Error(`row range [${r0}, ${r1}) outside 0..${rows}`);
  const out = opts.out ?? {
    centroids: new Float32Array(rows * k),
    indices: new Uint8Array(rows * cols),
    objectives: new Float64Array(rows),
  };
  const ws = opts.workspace ?? new Workspace();
  const method = opts.method ?? 'exact';
  const seed = opts.seed ?? 0;
  for (let r = r0; r < r1; r++) {
    const w = W.subarray(r * cols, (r + 1) * cols);
    const f = F === null ? null : F.subarray(r * cols, (r + 1) * cols);
    const { objective } = quantizeRowInto(
      w,
      f,
      k,
      method,
      { seed: rowSeed(seed, r), maxIter: opts.maxIter, workspace: ws, solver: opts.solver },
      out.centroids.subarray(r * k, (r + 1) * k),
      out.indices.subarray(r * cols, (r + 1) * cols),
    );
    out.objectives[r] = objective;
  }
  return out;
}
