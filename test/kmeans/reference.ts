// Independent references for the k-means tests: brute force over all labelings, a plain O(k n^2)
// DP written from the definition, and a textbook weighted Lloyd with k-means++ on unsorted data.
// None of them shares code with tools/kmeans/.
import { Rng } from '../../src/util/random.ts';

/** Weighted SSE of one cluster around its weighted mean (two passes); 0 for zero weight. */
function clusterSse(w: ArrayLike<number>, f: ArrayLike<number>, members: number[]): number {
  let s0 = 0;
  let s1 = 0;
  for (const i of members) {
    s0 += f[i];
    s1 += f[i] * w[i];
  }
  if (s0 === 0) return 0;
  const mu = s1 / s0;
  let e = 0;
  for (const i of members) e += f[i] * (w[i] - mu) ** 2;
  return e;
}

/** min over all k^n labelings of sum_clusters weighted SSE (n <= 9). */
export function bruteForceMin(w: ArrayLike<number>, f: ArrayLike<number>, k: number): number {
  const n = w.length;
  const lab = new Array(n).fill(0);
  let best = Infinity;
  const groups: number[][] = Array.from({ length: k }, () => []);
  for (;;) {
    for (const g of groups) g.length = 0;
    for (let i = 0; i < n; i++) groups[lab[i]].push(i);
    let e = 0;
    for (const g of groups) e += clusterSse(w, f, g);
    if (e < best) best = e;
    // odometer
    let p = 0;
    while (p < n && lab[p] === k - 1) lab[p++] = 0;
    if (p === n) break;
    lab[p]++;
  }
  return best;
}

/**
 * Plain DP from the definition over the points sorted by value (positive weights only), each
 * cluster's cost summed directly (no prefix sums, no split monotonicity): O(k n^2) cost calls of
 * O(n) each -> use for n <= ~150. Clusters may be empty (so fewer distinct values than k works).
 */
export function plainDpMin(w: ArrayLike<number>, f: ArrayLike<number>, k: number): number {
  const idx = Array.from({ length: w.length }, (_, i) => i)
    .filter((i) => f[i] > 0)
    .sort((a, b) => w[a] - w[b]);
  const n = idx.length;
  const cost: number[][] = [];
  for (let i = 0; i <= n; i++) {
    cost.push([]);
    for (let j = i; j <= n; j++) cost[i][j] = clusterSse(w, f, idx.slice(i, j));
  }
  let D = new Array(n + 1).fill(Infinity);
  D[0] = 0;
  for (let c = 0; c < k; c++) {
    const E = new Array(n + 1).fill(Infinity);
    for (let j = 0; j <= n; j++) for (let i = 0; i <= j; i++) E[j] = Math.min(E[j], D[i] + cost[i][j]);
    D = E;
  }
  return D[n];
}

/** Textbook k-means++ weighted by f on unsorted data; returns k centroids (unsorted). */
export function textbookSeed(w: ArrayLike<number>, f: ArrayLike<number>, k: number, rng: Rng): number[] {
  const n = w.length;
  const draw = (p: number[]): number => {
    const tot = p.reduce((a, b) => a + b, 0);
    let r = rng.next() * tot;
    for (let i = 0; i < n; i++) {
      if (p[i] <= 0) continue;
      r -= p[i];
      if (r < 0) return i;
    }
    for (let i = n - 1; i >= 0; i--) if (p[i] > 0) return i;
    return 0;
  };
  const c = [w[draw(Array.from(f))]];
  while (c.length < k) {
    const d2 = Array.from(w, (v, i) => f[i] * Math.min(...c.map((cc) => (v - cc) ** 2)));
    if (!(d2.reduce((a, b) => a + b, 0) > 0)) c.push(c[c.length - 1]);
    else c.push(w[draw(d2)]);
  }
  return c;
}

/**
 * Textbook weighted Lloyd on unsorted data: assign each point to argmin_j |w - c_j| (ties to the
 * lower index), replace each centroid by its cluster's weighted mean (kept when the cluster has
 * zero weight), stop when an update leaves every centroid unchanged (the assignment of the
 * weighted points repeated) or after maxIter assignment steps.
 */
export function textbookLloyd(
  w: ArrayLike<number>,
  f: ArrayLike<number>,
  init: number[],
  maxIter = 300,
): { centroids: number[]; labels: number[]; objective: number; iterations: number } {
  const n = w.length;
  const k = init.length;
  const c = init.slice();
  let labels: number[] = [];
  let it = 0;
  while (it < maxIter) {
    const next = new Array(n);
    for (let i = 0; i < n; i++) {
      let bj = 0;
      let bd = Math.abs(w[i] - c[0]);
      for (let j = 1; j < k; j++) {
        const d = Math.abs(w[i] - c[j]);
        if (d < bd) {
          bd = d;
          bj = j;
        }
      }
      next[i] = bj;
    }
    it++;
    labels = next;
    const before = c.slice();
    for (let j = 0; j < k; j++) {
      let s0 = 0;
      let s1 = 0;
      for (let i = 0; i < n; i++)
        if (labels[i] === j) {
          s0 += f[i];
          s1 += f[i] * w[i];
        }
      if (s0 > 0) c[j] = s1 / s0;
    }
    if (it > 1 && c.every((v, j) => v === before[j])) break;
  }
  let objective = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.min(...c.map((cc) => Math.abs(w[i] - cc)));
    objective += f[i] * d * d;
  }
  return { centroids: c, labels, objective, iterations: it };
}

/** Heavy-tailed row: normal times a log-normal scale, a few large outliers. */
export function heavyRow(rng: Rng, n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.normal() * 0.02 * Math.exp(0.7 * rng.normal());
    if (rng.next() < 0.01) v *= 20;
    w[i] = v;
  }
  return w;
}

/** Positive log-normal weights spanning orders of magnitude, a fraction `zeros` set to 0. */
export function fisherRow(rng: Rng, n: number, zeros = 0.1): Float32Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = rng.next() < zeros ? 0 : Math.exp(2 * rng.normal());
  return f;
}

/**
 * Full-scan DP (every split point tried, O(k n^2)) with prefix sums in float64, over the
 * positive-weight points sorted by value; for n in the thousands where plainDpMin is too slow.
 */
export function scanDpMin(w: ArrayLike<number>, f: ArrayLike<number>, k: number): number {
  const idx = Array.from({ length: w.length }, (_, i) => i)
    .filter((i) => f[i] > 0)
    .sort((a, b) => w[a] - w[b]);
  const n = idx.length;
  let mu = 0;
  let tot = 0;
  for (const i of idx) {
    mu += f[i] * w[i];
    tot += f[i];
  }
  mu /= tot;
  const P0 = new Float64Array(n + 1);
  const P1 = new Float64Array(n + 1);
  const P2 = new Float64Array(n + 1);
  idx.forEach((i, t) => {
    const y = w[i] - mu;
    P0[t + 1] = P0[t] + f[i];
    P1[t + 1] = P1[t] + f[i] * y;
    P2[t + 1] = P2[t] + f[i] * y * y;
  });
  const cost = (i: number, j: number): number => {
    const s0 = P0[j] - P0[i];
    if (s0 <= 0) return 0;
    const s1 = P1[j] - P1[i];
    return Math.max(0, P2[j] - P2[i] - (s1 * s1) / s0);
  };
  let D = new Float64Array(n + 1).fill(Infinity);
  D[0] = 0;
  for (let c = 0; c < k; c++) {
    const E = new Float64Array(n + 1).fill(Infinity);
    for (let j = 0; j <= n; j++) {
      let b = Infinity;
      for (let i = 0; i <= j; i++) b = Math.min(b, D[i] + cost(i, j));
      E[j] = b;
    }
    D = E;
  }
  return D[n];
}
