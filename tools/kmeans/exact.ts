// Exact weighted 1-D k-means by dynamic programming over the sorted, deduplicated row.
//
// An optimal 1-D clustering is contiguous in sorted order, so with prefix sums P0, P1, P2 of
// f, f*y, f*y^2 (y = x - shift) one cluster [i, j) costs
//   cost(i, j) = S2 - S1^2 / S0   (S* = P*[j] - P*[i])    in O(1),
// and D[c][j] = min_{i} D[c-1][i] + cost(i, j) is the best cost of the first j points in c+1
// clusters. cost is a Monge (concave-Monge / quadrangle inequality) matrix on sorted points, so
// the leftmost optimal split opt[c][j] is non-decreasing in j, and each DP layer is computed by
// divide and conquer: solve the middle j by a scan over its allowed split range, recurse left and
// right with the range cut at the middle's argmin. O(m log m) per layer, O(k m log m) per row.
// The split is also monotone across layers, opt[c-1][j] <= opt[c][j], which raises each scan's
// lower end (about 25% less DP time at k = 16).
//
// CLAMP: a cost below 0 (rounding) counts as 0, and so does NaN: S0 = 0 for a cluster whose
// weight the prefix sums absorbed (weights more than 2^53 apart), where S2 - S1^2/S0 is 0/0
// (or -Infinity, also clamped): the cluster's weight is negligible, so is its cost. Without
// this, such candidates were skipped, whole layers became +Infinity and the backtrack could
// leave clusters empty (NaN centroids).

import type { RowWeights, Workspace } from './prepare.ts';

/**
 * The DP that quantizeRowInto's exact method runs (KMeansOptions.solver): this file's TypeScript
 * DP (`tsExact`, the yardstick) or the WASM port (`wasmExact()` in wasm.ts), which gives the same
 * partition bit for bit.
 */
export interface ExactSolver {
  /** As exactPartition: writes the K + 1 boundaries of an optimal partition of ws's prepared points. */
  partition(ws: Workspace, k: number, bounds: Int32Array): { K: number; cost: number };
  /**
   * Optional: the whole exact row (prepare, DP, centroids, indices, objective) as quantizeRowInto
   * computes it, bit for bit. null = not handled (an invalid input: quantizeRowInto's TypeScript
   * path then raises its error).
   */
  row?(w: Float32Array, f: RowWeights, k: number, centroids: Float32Array, indices: Uint8Array): { objective: number; uniform: boolean } | null;
}

export const tsExact: ExactSolver = { partition: (ws, k, bounds) => exactPartition(ws, k, bounds) };

/**
 * Computes an optimal partition of ws's m prepared points (prefix sums already filled) into
 * K = min(k, m) non-empty contiguous clusters. Writes the K + 1 boundaries to `bounds`
 * (cluster c = points [bounds[c], bounds[c+1])) and returns K and the DP optimum.
 */
export function exactPartition(ws: Workspace, k: number, bounds: Int32Array): { K: number; cost: number } {
  const m = ws.m;
  const K = Math.min(k, m);
  bounds[0] = 0;
  if (K === 0) return { K: 0, cost: 0 };
  if (K === m) {
    // every distinct value its own cluster: cost 0
    for (let c = 0; c <= K; c++) bounds[c] = c;
    return { K, cost: 0 };
  }
  const { p0, p1, p2 } = ws;
  let prev = ws.prev;
  let cur = ws.cur;
  const stride = m + 1;
  ws.ensureSplit(K * stride);
  const split = ws.split;

  // layer 0: one cluster over the first j points
  const last0 = m - (K - 1);
  for (let j = 1; j <= last0; j++) {
    const s0 = p0[j];
    const s1 = p1[j];
    const v = p2[j] - (s1 * s1) / s0;
    prev[j] = v > 0 ? v : 0;
    split[j] = 0;
  }
  // middle layers by divide and conquer
  for (let c = 1; c < K - 1; c++) {
    const jLo = c + 1;
    const jHi = m - (K - 1 - c);
    solveLayer(p0, p1, p2, prev, cur, split, c * stride, stride, jHi - 1, jLo, jHi, c, jHi - 1);
    const t = prev;
    prev = cur;
    cur = t;
  }
  // last layer: only j = m is needed
  let total = 0;
  if (K === 1) {
    total = prev[m];
  } else {
    const c = K - 1;
    let best = Infinity;
    // opt[K-2][m-1] <= opt[K-2][m] <= opt[K-1][m]
    // (and >= c: the first c clusters need c points; the lower layer's split can be c - 1, and
    // prev[c - 1] was not computed in this row)
    const lo = K === 2 ? c : Math.max(c, split[(c - 1) * stride + m - 1]);
    let bi = lo;
    const P0 = p0[m];
    const P1 = p1[m];
    const P2 = p2[m];
    for (let i = lo; i < m; i++) {
      const s0 = P0 - p0[i];
      const s1 = P1 - p1[i];
      let v = P2 - p2[i] - (s1 * s1) / s0;
      if (!(v > 0)) v = 0; // NaN too: see CLAMP
      v += prev[i];
      if (v < best) {
        best = v;
        bi = i;
      }
    }
    split[c * stride + m] = bi;
    total = best;
  }
  // backtrack
  bounds[K] = m;
  let j = m;
  for (let c = K - 1; c >= 1; c--) {
    j = split[c * stride + j];
    bounds[c] = j;
  }
  ws.prev = prev;
  ws.cur = cur;
  return { K, cost: total };
}

/** cur[j] = min_{i in [optLo, min(j-1, optHi)]} prev[i] + cost(i, j) for j in [jLo, jHi]. */
function solveLayer(
  p0: Float64Array,
  p1: Float64Array,
  p2: Float64Array,
  prev: Float64Array,
  cur: Float64Array,
  split: Int32Array,
  base: number,
  stride: number,
  jPrevHi: number,
  jLo: number,
  jHi: number,
  optLo: number,
  optHi: number,
): void {
  while (jLo <= jHi) {
    const mid = (jLo + jHi) >> 1;
    const P0 = p0[mid];
    const P1 = p1[mid];
    const P2 = p2[mid];
    const hiI = mid - 1 < optHi ? mid - 1 : optHi;
    // opt[c-1][j] <= opt[c][j]; layer c-1 stops one j short of layer c, and its opt is
    // non-decreasing in j, so its last entry bounds the last j of this layer too
    const lb = split[base - stride + (mid < jPrevHi ? mid : jPrevHi)];
    const loI = lb > optLo ? lb : optLo;
    let best = Infinity;
    let bi = loI;
    for (let i = loI; i <= hiI; i++) {
      const s0 = P0 - p0[i];
      const s1 = P1 - p1[i];
      let v = P2 - p2[i] - (s1 * s1) / s0;
      if (!(v > 0)) v = 0; // NaN too: see CLAMP
      v += prev[i];
      if (v < best) {
        best = v;
        bi = i;
      }
    }
    cur[mid] = best;
    split[base + mid] = bi;
    // recurse on the smaller side, loop on the other (bounded stack depth)
    if (mid - jLo < jHi - mid) {
      solveLayer(p0, p1, p2, prev, cur, split, base, stride, jPrevHi, jLo, mid - 1, optLo, bi);
      jLo = mid + 1;
      optLo = bi;
    } else {
      solveLayer(p0, p1, p2, prev, cur, split, base, stride, jPrevHi, mid + 1, jHi, bi, optHi);
      jHi = mid - 1;
      optHi = bi;
    }
  }
}
