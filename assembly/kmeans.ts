// Exact weighted 1-D k-means: the DP over split points (the hot loop of tools/kmeans/exact.ts,
// which stays the yardstick; docs/KMEANS.md). Same operations in the same order, in f64, so the
// optimum, the split table and hence the clustering are bit-identical to the TypeScript DP.
//
// The host prepares the row (sort, weight-0 drop, merge, prefix sums around the weighted mean) and
// places every buffer; nothing is allocated here. Layout (byte addresses, f64 unless noted):
//   p0, p1, p2   prefix sums, m + 1 entries each
//   prev, cur    DP rows, m + 1 entries each (scratch)
//   split        i32, K * (m + 1) entries (scratch: the split table for the backtrack)
//   bounds       i32, K + 1 entries (out): cluster c = points [bounds[c], bounds[c + 1])
// with K = min(k, m). Returns the DP optimum.
//
// The split scans are f64x2: two candidate splits per step, a best value and index per lane
// (strict <, so each lane keeps its first minimum), then the lanes are merged by (value, index):
// the leftmost minimum, as in the scalar scan. pmax(v, 0) is exactly `v < 0 ? 0 : v` (also for
// -0 and NaN), and every lane op is IEEE-exact, so the values match the scalar code bit for bit.

// Index of the minimum found by the last scan (AssemblyScript has no tuple returns).
let scanIdx: i32 = 0;

// min over i in [lo, hi] of max(P2 - p2[i] - (P1 - p1[i])^2 / (P0 - p0[i]), 0) + prev[i];
// the leftmost argmin goes to scanIdx (lo when the range is empty, with +Infinity returned).
// Most scans in the D&C are 1 candidate long (about 70% at m = 3700, k = 16) and a few are long:
// short ones run scalar, long ones two lanes at a time.
// @ts-ignore: decorator
@inline function scan(p0: usize, p1: usize, p2: usize, prev: usize, P0: f64, P1: f64, P2: f64, lo: i32, hi: i32): f64 {
  if (hi - lo < SIMD_MIN) return scanScalar(p0, p1, p2, prev, P0, P1, P2, lo, hi);
  return scanSimd(p0, p1, p2, prev, P0, P1, P2, lo, hi);
}

// scans of at least SIMD_MIN + 1 candidates use f64x2
const SIMD_MIN: i32 = 7;

// @ts-ignore: decorator
@inline function scanScalar(p0: usize, p1: usize, p2: usize, prev: usize, P0: f64, P1: f64, P2: f64, lo: i32, hi: i32): f64 {
  let best: f64 = Infinity;
  let bi = lo;
  for (let i = lo; i <= hi; i++) {
    const off = <usize>i << 3;
    const s0 = P0 - load<f64>(p0 + off);
    const s1 = P1 - load<f64>(p1 + off);
    let v = P2 - load<f64>(p2 + off) - (s1 * s1) / s0;
    v = select<f64>(0, v, v < 0);
    v += load<f64>(prev + off);
    const lt = v < best;
    best = select<f64>(v, best, lt);
    bi = select<i32>(i, bi, lt);
  }
  scanIdx = bi;
  return best;
}

function scanSimd(p0: usize, p1: usize, p2: usize, prev: usize, P0: f64, P1: f64, P2: f64, lo: i32, hi: i32): f64 {
  const vP0 = f64x2.splat(P0);
  const vP1 = f64x2.splat(P1);
  const vP2 = f64x2.splat(P2);
  const zero = f64x2.splat(0);
  // two independent (value, index) pairs of lanes: candidates i, i + 1 and i + 2, i + 3
  let bestA = f64x2.splat(Infinity);
  let bestB = bestA;
  let idxA = i64x2.splat(<i64>lo);
  let idxB = idxA;
  let iA = i64x2(<i64>lo, <i64>lo + 1);
  let iB = i64x2(<i64>lo + 2, <i64>lo + 3);
  const four = i64x2.splat(4);
  let i = lo;
  for (; i + 3 <= hi; i += 4) {
    const off = <usize>i << 3;
    const s0a = f64x2.sub(vP0, v128.load(p0 + off));
    const s0b = f64x2.sub(vP0, v128.load(p0 + off, 16));
    const s1a = f64x2.sub(vP1, v128.load(p1 + off));
    const s1b = f64x2.sub(vP1, v128.load(p1 + off, 16));
    let va = f64x2.sub(f64x2.sub(vP2, v128.load(p2 + off)), f64x2.div(f64x2.mul(s1a, s1a), s0a));
    let vb = f64x2.sub(f64x2.sub(vP2, v128.load(p2 + off, 16)), f64x2.div(f64x2.mul(s1b, s1b), s0b));
    // pmax(v, 0) = v < 0 ? 0 : v; pmin(best, v) = v < best ? v : best
    va = f64x2.add(f64x2.pmax(va, zero), v128.load(prev + off));
    vb = f64x2.add(f64x2.pmax(vb, zero), v128.load(prev + off, 16));
    idxA = v128.bitselect(iA, idxA, f64x2.lt(va, bestA));
    idxB = v128.bitselect(iB, idxB, f64x2.lt(vb, bestB));
    bestA = f64x2.pmin(bestA, va);
    bestB = f64x2.pmin(bestB, vb);
    iA = i64x2.add(iA, four);
    iB = i64x2.add(iB, four);
  }
  // merge the four lanes by (value, index): the leftmost minimum of the candidates so far
  let best = f64x2.extract_lane(bestA, 0);
  let bi = <i32>i64x2.extract_lane(idxA, 0);
  let v1 = f64x2.extract_lane(bestA, 1);
  let i1 = <i32>i64x2.extract_lane(idxA, 1);
  if (v1 < best || (v1 == best && i1 < bi)) { best = v1; bi = i1; }
  v1 = f64x2.extract_lane(bestB, 0);
  i1 = <i32>i64x2.extract_lane(idxB, 0);
  if (v1 < best || (v1 == best && i1 < bi)) { best = v1; bi = i1; }
  v1 = f64x2.extract_lane(bestB, 1);
  i1 = <i32>i64x2.extract_lane(idxB, 1);
  if (v1 < best || (v1 == best && i1 < bi)) { best = v1; bi = i1; }
  // the last 0..3 candidates (larger indices than all above, so a tie keeps the earlier one)
  for (; i <= hi; i++) {
    const off = <usize>i << 3;
    const s0 = P0 - load<f64>(p0 + off);
    const s1 = P1 - load<f64>(p1 + off);
    let v = P2 - load<f64>(p2 + off) - (s1 * s1) / s0;
    if (v < 0) v = 0;
    v += load<f64>(prev + off);
    if (v < best) {
      best = v;
      bi = i;
    }
  }
  scanIdx = bi;
  return best;
}

// For j in [jLo, jHi]: cur[j] = the scan of the single candidate o (+Infinity where the value is
// NaN, as in the scan), split[j] = o. Two j at a time; pmin(Inf, v) = v < Inf ? v : Inf.
// @ts-ignore: decorator
@inline function fillSingle(p0: usize, p1: usize, p2: usize, prev: usize, cur: usize, splitRow: usize, o: i32, jLo: i32, jHi: i32): void {
  const oo = <usize>o << 3;
  const q0 = load<f64>(p0 + oo);
  const q1 = load<f64>(p1 + oo);
  const q2 = load<f64>(p2 + oo);
  const qp = load<f64>(prev + oo);
  const v0 = f64x2.splat(q0);
  const v1 = f64x2.splat(q1);
  const v2 = f64x2.splat(q2);
  const vp = f64x2.splat(qp);
  const zero = f64x2.splat(0);
  const inf = f64x2.splat(Infinity);
  let j = jLo;
  for (; j < jHi; j += 2) {
    const off = <usize>j << 3;
    const s0 = f64x2.sub(v128.load(p0 + off), v0);
    const s1 = f64x2.sub(v128.load(p1 + off), v1);
    let v = f64x2.sub(f64x2.sub(v128.load(p2 + off), v2), f64x2.div(f64x2.mul(s1, s1), s0));
    v = f64x2.add(f64x2.pmax(v, zero), vp);
    v128.store(cur + off, f64x2.pmin(inf, v));
    store<i32>(splitRow + (<usize>j << 2), o);
    store<i32>(splitRow + (<usize>j << 2), o, 4);
  }
  if (j == jHi) {
    const off = <usize>j << 3;
    const s0 = load<f64>(p0 + off) - q0;
    const s1 = load<f64>(p1 + off) - q1;
    let v = load<f64>(p2 + off) - q2 - (s1 * s1) / s0;
    if (v < 0) v = 0;
    v += qp;
    store<f64>(cur + off, v < Infinity ? v : Infinity);
    store<i32>(splitRow + (<usize>j << 2), o);
  }
}

// cur[j] = min_{i in [optLo, min(j - 1, optHi)]} prev[i] + cost(i, j) for j in [jLo, jHi]
// (divide and conquer; see solveLayer in tools/kmeans/exact.ts).
function solveLayer(
  p0: usize, p1: usize, p2: usize, prev: usize, cur: usize, split: usize,
  base: i32, stride: i32, jPrevHi: i32, jLo: i32, jHi: i32, optLo: i32, optHi: i32,
): void {
  while (jLo <= jHi) {
    // A collapsed range: every j in [jLo, jHi] has the single candidate o = optLo = optHi (its
    // scan range is [max(lb_j, o), min(j - 1, o)] = [o, o] when o < jLo and the cross-layer
    // bound lb_j <= o; lb is non-decreasing in j, so checking it at jHi suffices). The D&C below
    // would give each j exactly that candidate, so fill the whole range at once: no recursion.
    // This is where most of the D&C's nodes are (70% of its scans are 1 candidate long).
    if (optLo == optHi && optHi < jLo &&
        load<i32>(split + (<usize>(base - stride + (jHi < jPrevHi ? jHi : jPrevHi)) << 2)) <= optHi) {
      fillSingle(p0, p1, p2, prev, cur, split + (<usize>base << 2), optLo, jLo, jHi);
      return;
    }
    const mid = (jLo + jHi) >> 1;
    const mo = <usize>mid << 3;
    const hiI = mid - 1 < optHi ? mid - 1 : optHi;
    const lb = load<i32>(split + (<usize>(base - stride + (mid < jPrevHi ? mid : jPrevHi)) << 2));
    const loI = lb > optLo ? lb : optLo;
    const best = scan(p0, p1, p2, prev, load<f64>(p0 + mo), load<f64>(p1 + mo), load<f64>(p2 + mo), loI, hiI);
    const bi = scanIdx;
    store<f64>(cur + mo, best);
    store<i32>(split + (<usize>(base + mid) << 2), bi);
    // recurse on the smaller side, loop on the other (bounded stack depth)
    if (mid - jLo < jHi - mid) {
      if (jLo < mid) solveLayer(p0, p1, p2, prev, cur, split, base, stride, jPrevHi, jLo, mid - 1, optLo, bi);
      jLo = mid + 1;
      optLo = bi;
    } else {
      if (mid < jHi) solveLayer(p0, p1, p2, prev, cur, split, base, stride, jPrevHi, mid + 1, jHi, bi, optHi);
      jHi = mid - 1;
      optHi = bi;
    }
  }
}

// Optimal partition of the m prepared points into K = min(k, m) contiguous clusters; writes the
// K + 1 boundaries to bounds and returns the optimum (exactPartition in tools/kmeans/exact.ts).
export function kmeansExactPartition(
  p0: usize, p1: usize, p2: usize, m: i32, k: i32,
  prev: usize, cur: usize, split: usize, bounds: usize,
): f64 {
  const K = k < m ? k : m;
  store<i32>(bounds, 0);
  if (K <= 0) return 0;
  if (K == m) {
    for (let c = 0; c <= K; c++) store<i32>(bounds + (<usize>c << 2), c);
    return 0;
  }
  const stride = m + 1;
  // layer 0: one cluster over the first j points
  const last0 = m - (K - 1);
  for (let j = 1; j <= last0; j++) {
    const jo = <usize>j << 3;
    const s0 = load<f64>(p0 + jo);
    const s1 = load<f64>(p1 + jo);
    const v = load<f64>(p2 + jo) - (s1 * s1) / s0;
    store<f64>(prev + jo, v > 0 ? v : 0);
    store<i32>(split + (<usize>j << 2), 0);
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
  // last layer: only j = m
  let total: f64;
  if (K == 1) {
    total = load<f64>(prev + (<usize>m << 3));
  } else {
    const c = K - 1;
    // opt[K-2][m-1] <= opt[K-2][m] <= opt[K-1][m]
    const lo = K == 2 ? c : load<i32>(split + (<usize>((c - 1) * stride + m - 1) << 2));
    const mo = <usize>m << 3;
    total = scan(p0, p1, p2, prev, load<f64>(p0 + mo), load<f64>(p1 + mo), load<f64>(p2 + mo), lo, m - 1);
    store<i32>(split + (<usize>(c * stride + m) << 2), scanIdx);
  }
  // backtrack
  store<i32>(bounds + (<usize>K << 2), m);
  let j = m;
  for (let c = K - 1; c >= 1; c--) {
    j = load<i32>(split + (<usize>(c * stride + j) << 2));
    store<i32>(bounds + (<usize>c << 2), j);
  }
  return total;
}
