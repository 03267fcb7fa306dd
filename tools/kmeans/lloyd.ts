// Weighted Lloyd on the sorted, deduplicated row (the baseline / alternative to the exact DP).
//
// With sorted centroids, every cluster is a contiguous range of the sorted points: the boundary
// between two neighbouring distinct centroids is found by binary search (the predicate "strictly
// closer to the upper centroid" is monotone along sorted points), and each cluster's weighted
// mean comes from prefix sums. One iteration is O(k log m), independent of the row length.
// Assignment rule = textbook argmin with ties to the lower index: among equal centroids only
// the lowest index gets points; a cluster with no (positive-weight) points keeps its centroid;
// the centroids are kept sorted (so results match the textbook as a multiset of centroids).

import type { Rng } from '../../src/util/random.ts';
import type { Workspace } from './prepare.ts';

export interface LloydResult {
  /** Final centroids, non-decreasing, length k (float64). */
  centroids: Float64Array;
  /** Cluster boundaries over the prepared points (length k + 1). */
  bounds: Int32Array;
  iterations: number;
  converged: boolean;
}

/**
 * k-means++ seeding weighted by f over the prepared points: the first centroid drawn with
 * probability proportional to wt, each next one proportional to wt * D^2 (D = distance to the
 * nearest chosen centroid). When D^2 mass runs out (fewer distinct values than k), the remaining
 * centroids repeat the last one. Returns k centroids sorted ascending.
 */
export function kmeansppSorted(x: Float64Array, wt: Float64Array, m: number, k: number, rng: Rng): Float64Array {
  const c = new Float64Array(k);
  if (m === 0) return c;
  const d2 = new Float64Array(m);
  let total = 0;
  for (let i = 0; i < m; i++) total += wt[i];
  let pick = drawIndex(wt, m, total, rng);
  c[0] = x[pick];
  total = 0;
  for (let i = 0; i < m; i++) {
    const d = x[i] - c[0];
    d2[i] = wt[i] * d * d;
    total += d2[i];
  }
  for (let t = 1; t < k; t++) {
    if (!(total > 0)) {
      c[t] = c[t - 1];
      continue;
    }
    pick = drawIndex(d2, m, total, rng);
    const v = x[pick];
    c[t] = v;
    total = 0;
    for (let i = 0; i < m; i++) {
      const d = x[i] - v;
      const e = wt[i] * d * d;
      if (e < d2[i]) d2[i] = e;
      total += d2[i];
    }
  }
  return c.sort();
}

/** Index drawn with probability p[i] / total (p >= 0, total = sum p > 0). */
function drawIndex(p: Float64Array, m: number, total: number, rng: Rng): number {
  const r = rng.next() * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < m; i++) {
    if (p[i] > 0) {
      acc += p[i];
      last = i;
      if (r < acc) return i;
    }
  }
  return last;
}

/**
 * Weighted Lloyd from `init` (sorted ascending, length k) on ws's prepared points (ws.p0 / ws.p1
 * are refilled here, unshifted). Stops when the assignment no longer changes, or after maxIter
 * assignment steps.
 */
export function lloydSorted(ws: Workspace, init: Float64Array, maxIter: number): LloydResult {
  const { x, wt, m, p0, p1 } = ws;
  const k = init.length;
  for (let t = 1; t < k; t++) if (!(init[t - 1] <= init[t])) throw new Error('lloyd: initial centroids must be sorted');
  p0[0] = 0;
  p1[0] = 0;
  for (let i = 0; i < m; i++) {
    p0[i + 1] = p0[i] + wt[i];
    p1[i + 1] = p1[i] + wt[i] * x[i];
  }
  const c = Float64Array.from(init);
  let bounds = new Int32Array(k + 1);
  let prevB = new Int32Array(k + 1).fill(-1);
  let it = 0;
  let converged = false;
  while (it < maxIter) {
    assignSorted(x, m, c, bounds);
    it++;
    let same = true;
    for (let j = 0; j <= k; j++)
      if (bounds[j] !== prevB[j]) {
        same = false;
        break;
      }
    if (same) {
      converged = true;
      break;
    }
    for (let j = 0; j < k; j++) {
      const a = bounds[j];
      const b = bounds[j + 1];
      const s0 = p0[b] - p0[a];
      if (s0 > 0) c[j] = (p1[b] - p1[a]) / s0;
    }
    // Distinct sorted centroids stay sorted (a non-empty cluster's mean lies strictly between the
    // midpoints to its neighbours). Among equal centroids only the lowest index gets points and
    // its mean may pass a kept duplicate: re-sort (the multiset is what the textbook keeps too).
    sortSmall(c);
    const t = prevB;
    prevB = bounds;
    bounds = t;
  }
  if (!converged) assignSorted(x, m, c, bounds);
  return { centroids: c, bounds, iterations: it, converged };
}

/** Insertion sort (k <= 256, almost always already sorted). */
function sortSmall(c: Float64Array): void {
  for (let i = 1; i < c.length; i++) {
    const v = c[i];
    let j = i - 1;
    while (j >= 0 && c[j] > v) {
      c[j + 1] = c[j];
      j--;
    }
    c[j + 1] = v;
  }
}

/** Nearest-centroid ranges (ties to the lower index) of sorted points x[0..m) for sorted c. */
export function assignSorted(x: Float64Array, m: number, c: Float64Array, bounds: Int32Array): void {
  const k = c.length;
  bounds[0] = 0;
  let start = 0;
  let j = 0;
  while (j < k) {
    let jn = j + 1;
    while (jn < k && c[jn] === c[j]) jn++;
    let end = m;
    if (jn < k) {
      // first t in [start, m) with |x - c[jn]| < |x - c[j]|
      const lo = c[j];
      const hi = c[jn];
      let a = start;
      let b = m;
      while (a < b) {
        const h = (a + b) >> 1;
        const v = x[h];
        if (Math.abs(v - hi) < Math.abs(v - lo)) b = h;
        else a = h + 1;
      }
      end = a;
    }
    for (let q = j + 1; q <= jn; q++) bounds[q] = end;
    start = end;
    j = jn;
  }
}
