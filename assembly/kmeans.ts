// Exact weighted 1-D k-means (docs/KMEANS.md, "WASM exact path"): the TypeScript exact path
// (tools/kmeans/exact.ts, prepare.ts, index.ts) is the yardstick; these kernels do its f64
// operations in the same order, so every output is bit-identical. The host places every buffer;
// nothing is allocated here.
//
// kmeansExactPartition: the DP over split points, on prefix sums placed by the host
// (byte addresses, f64 unless noted):
//   p0, p1, p2   prefix sums, m + 1 entries each
//   prev, cur    DP rows, m + 1 entries each (scratch)
//   split        i32, K * (m + 1) entries (scratch: the split table for the backtrack)
//   bounds       i32, K + 1 entries (out): cluster c = points [bounds[c], bounds[c + 1])
// with K = min(k, m); returns the DP optimum.
// kmeansExactRow (below): the whole row, from the values and weights to centroids and indices.
//
// Split scans of 4+ candidates are f64x2, two pairs of lanes; each lane keeps its first minimum
// (strict <), then the lanes are merged by (value, index): the leftmost minimum, as the scalar
// scan. and(v, v > 0) is exactly `v > 0 ? v : 0` (NaN and -0 give +0), and every lane op is
// IEEE-exact, so the values match the scalar code bit for bit.

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
const SIMD_MIN: i32 = 3;

// @ts-ignore: decorator
@inline function scanScalar(p0: usize, p1: usize, p2: usize, prev: usize, P0: f64, P1: f64, P2: f64, lo: i32, hi: i32): f64 {
  let best: f64 = Infinity;
  let bi = lo;
  for (let i = lo; i <= hi; i++) {
    const off = <usize>i << 3;
    const s0 = P0 - load<f64>(p0 + off);
    const s1 = P1 - load<f64>(p1 + off);
    let v = P2 - load<f64>(p2 + off) - (s1 * s1) / s0;
    v = select<f64>(v, 0, v > 0); // NaN -> 0 (exact.ts, CLAMP)
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
    // and(v, v > 0) = v > 0 ? v : 0 (NaN -> 0); pmin(best, v) = v < best ? v : best
    va = f64x2.add(v128.and(va, f64x2.gt(va, zero)), v128.load(prev + off));
    vb = f64x2.add(v128.and(vb, f64x2.gt(vb, zero)), v128.load(prev + off, 16));
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
    if (!(v > 0)) v = 0;
    v += load<f64>(prev + off);
    if (v < best) {
      best = v;
      bi = i;
    }
  }
  scanIdx = bi;
  return best;
}

// For j in [jLo, jHi]: cur[j] = the scan of the single candidate o, split[j] = o. Two j at a
// time; pmin(Inf, v) = v < Inf ? v : Inf, as the scan's `v < best` from best = +Infinity.
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
    v = f64x2.add(v128.and(v, f64x2.gt(v, zero)), vp);
    v128.store(cur + off, f64x2.pmin(inf, v));
    store<i32>(splitRow + (<usize>j << 2), o);
    store<i32>(splitRow + (<usize>j << 2), o, 4);
  }
  if (j == jHi) {
    const off = <usize>j << 3;
    const s0 = load<f64>(p0 + off) - q0;
    const s1 = load<f64>(p1 + off) - q1;
    let v = load<f64>(p2 + off) - q2 - (s1 * s1) / s0;
    if (!(v > 0)) v = 0;
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
    // Both side conditions hold by construction (o is the split of the node at jLo - 1 or c, and
    // a layer's splits are non-decreasing and bound the next layer's from below); they are
    // checked anyway, as a guard that costs one load.
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
    let lo = K == 2 ? c : load<i32>(split + (<usize>((c - 1) * stride + m - 1) << 2));
    if (lo < c) lo = c;
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

// ---------------------------------------------------------------------------------------------
// The whole exact row (quantizeRowInto's exact method in tools/kmeans/index.ts with prepareRow
// and prefixSums from prepare.ts): checks, sort, weight-0 drop and merge, prefix sums, the DP,
// centroids, nearest indices and the objective, each step with the TypeScript's operations in
// the same order, so every output is bit-identical.
//
// Sorting: each value's order-preserving 32-bit key and its index are packed into a u64
// (key << 32 | i) and sorted by an LSD radix sort on the key's 4 bytes (stable, starting from
// index order), which gives the (key, index) order of the TypeScript's packed float64 sort.

// Scratch header: i32 m (distinct positive-weight points), i32 uniform (0 or 1).
const HDR: usize = 16;

// @ts-ignore: decorator
@inline function al16(b: usize): usize {
  return (b + 15) & ~(<usize>15);
}

// Bytes of scratch kmeansExactRow needs for n values and k clusters.
export function kmeansRowScratchBytes(n: i32, k: i32): usize {
  const nn = <usize>n;
  const K = <usize>(k < n ? k : n);
  return HDR + 2 * al16(nn << 3) + 4096 + 2 * al16(nn << 3) + 5 * al16((nn + 1) << 3)
    + al16(K * (nn + 1) << 2) + al16((<usize>k + 1) << 2) + al16(<usize>k << 3);
}

// Weight i: f32 (fKind 4) or f64 (fKind 8).
// @ts-ignore: decorator
@inline function weightAt(f: usize, fKind: i32, i: i32): f64 {
  return fKind == 8 ? load<f64>(f + (<usize>i << 3)) : <f64>load<f32>(f + (<usize>i << 2));
}

// One row: w f32[n]; f = weights (fKind 0: none = uniform, 4: f32[n], 8: f64[n]); k clusters
// (1..256). Writes centroids f32[k] (ascending) and indices u8[n]; returns the objective, or NaN
// when an input is invalid (a weight negative, NaN or infinite, or a value not finite: the host
// then runs the TypeScript path, which names the entry). scratch: kmeansRowScratchBytes(n, k)
// bytes; its first two i32 are m and uniform.
export function kmeansExactRow(w: usize, f: usize, fKind: i32, n: i32, k: i32, scratch: usize, centroids: usize, indices: usize): f64 {
  const nn = <usize>n;
  const Kmax = <usize>(k < n ? k : n);
  const keysA = scratch + HDR;
  const keysB = keysA + al16(nn << 3);
  const hist = keysB + al16(nn << 3);
  const x = hist + 4096;
  const wt = x + al16(nn << 3);
  const pSize = al16((nn + 1) << 3);
  const p0 = wt + al16(nn << 3);
  const p1 = p0 + pSize;
  const p2 = p1 + pSize;
  const prev = p2 + pSize;
  const cur = prev + pSize;
  const split = cur + pSize;
  const bounds = split + al16(Kmax * (nn + 1) << 2);
  const c64 = bounds + al16((<usize>k + 1) << 2);

  // checks, as checkWeights and prepareRow (the sum only decides the uniform fallback)
  let sum: f64 = 0;
  if (fKind != 0) {
    for (let i = 0; i < n; i++) {
      const v = weightAt(f, fKind, i);
      if (!(v >= 0) || v == Infinity) return NaN;
      sum += v;
    }
  }
  const uniform = fKind == 0 || sum == 0;

  // keys and their byte histograms
  memory.fill(hist, 0, 4096);
  for (let i = 0; i < n; i++) {
    const b = load<u32>(w + (<usize>i << 2));
    if ((b & 0x7f800000) == 0x7f800000) return NaN; // inf or NaN
    // negative floats: flip all bits; positive: set the sign bit -> unsigned order = float order
    const key = b & 0x80000000 ? ~b : b | 0x80000000;
    store<u64>(keysA + (<usize>i << 3), (<u64>key << 32) | <u64>i);
    store<u32>(hist + ((<usize>(key & 255)) << 2), load<u32>(hist + ((<usize>(key & 255)) << 2)) + 1);
    store<u32>(hist + 1024 + ((<usize>((key >> 8) & 255)) << 2), load<u32>(hist + 1024 + ((<usize>((key >> 8) & 255)) << 2)) + 1);
    store<u32>(hist + 2048 + ((<usize>((key >> 16) & 255)) << 2), load<u32>(hist + 2048 + ((<usize>((key >> 16) & 255)) << 2)) + 1);
    store<u32>(hist + 3072 + ((<usize>(key >> 24)) << 2), load<u32>(hist + 3072 + ((<usize>(key >> 24)) << 2)) + 1);
  }
  // LSD radix sort on the key bytes (stable); a byte that is the same for every key is skipped
  let src = keysA;
  let dst = keysB;
  if (n > 0) {
    for (let pass = 0; pass < 4; pass++) {
      const h = hist + (<usize>pass << 10);
      const shift = <u64>(32 + 8 * pass);
      const d0 = <usize>((load<u64>(src) >> shift) & 255);
      if (load<u32>(h + (d0 << 2)) == <u32>n) continue;
      let acc: u32 = 0;
      for (let d: usize = 0; d < 256; d++) {
        const c = load<u32>(h + (d << 2));
        store<u32>(h + (d << 2), acc);
        acc += c;
      }
      for (let t = 0; t < n; t++) {
        const e = load<u64>(src + (<usize>t << 3));
        const hp = h + (<usize>((e >> shift) & 255) << 2);
        const pos = load<u32>(hp);
        store<u32>(hp, pos + 1);
        store<u64>(dst + (<usize>pos << 3), e);
      }
      const t = src;
      src = dst;
      dst = t;
    }
  }
  // drop weight-0 entries, merge equal values (weights summed)
  let m = 0;
  for (let t = 0; t < n; t++) {
    const i = <i32>(<u32>load<u64>(src + (<usize>t << 3)));
    const fw: f64 = uniform ? 1 : weightAt(f, fKind, i);
    if (fw == 0) continue;
    const v = <f64>load<f32>(w + (<usize>i << 2));
    if (m > 0 && load<f64>(x + (<usize>(m - 1) << 3)) == v) {
      const a = wt + (<usize>(m - 1) << 3);
      store<f64>(a, load<f64>(a) + fw);
    } else {
      store<f64>(x + (<usize>m << 3), v);
      store<f64>(wt + (<usize>m << 3), fw);
      m++;
    }
  }
  store<i32>(scratch, m);
  store<i32>(scratch, uniform ? 1 : 0, 4);

  // centroids (float64), as quantizeRowInto
  if (m == 0) {
    for (let c = 0; c < k; c++) store<f64>(c64 + (<usize>c << 3), 0);
  } else {
    // prefix sums around the weighted mean (prefixSums)
    let s0: f64 = 0;
    let s1: f64 = 0;
    for (let i = 0; i < m; i++) {
      const g = load<f64>(wt + (<usize>i << 3));
      s0 += g;
      s1 += g * load<f64>(x + (<usize>i << 3));
    }
    const shift = s1 / s0;
    store<f64>(p0, 0);
    store<f64>(p1, 0);
    store<f64>(p2, 0);
    let a0: f64 = 0;
    let a1: f64 = 0;
    let a2: f64 = 0;
    for (let i = 0; i < m; i++) {
      const y = load<f64>(x + (<usize>i << 3)) - shift;
      const g = load<f64>(wt + (<usize>i << 3));
      a0 += g;
      a1 += g * y;
      a2 += g * y * y;
      const o = <usize>(i + 1) << 3;
      store<f64>(p0 + o, a0);
      store<f64>(p1 + o, a1);
      store<f64>(p2 + o, a2);
    }
    kmeansExactPartition(p0, p1, p2, m, k, prev, cur, split, bounds);
    const K = k < m ? k : m;
    for (let c = 0; c < K; c++) {
      let t0: f64 = 0;
      let t1: f64 = 0;
      const e = load<i32>(bounds + (<usize>(c + 1) << 2));
      for (let i = load<i32>(bounds + (<usize>c << 2)); i < e; i++) {
        const g = load<f64>(wt + (<usize>i << 3));
        t0 += g;
        t1 += g * load<f64>(x + (<usize>i << 3));
      }
      store<f64>(c64 + (<usize>c << 3), t1 / t0);
    }
    // fewer distinct values than k: repeat the last centroid
    const last = load<f64>(c64 + (<usize>(K - 1) << 3));
    for (let c = K; c < k; c++) store<f64>(c64 + (<usize>c << 3), last);
  }
  // float32 centroids, kept non-decreasing
  for (let c = 0; c < k; c++) store<f32>(centroids + (<usize>c << 2), <f32>load<f64>(c64 + (<usize>c << 3)));
  for (let c = 1; c < k; c++) {
    const a = load<f32>(centroids + (<usize>(c - 1) << 2));
    if (load<f32>(centroids + (<usize>c << 2)) < a) store<f32>(centroids + (<usize>c << 2), a);
  }

  // nearest centroid per value (assignNearest: ties to the lower index, equal centroids to the
  // lowest) and the objective (rowObjective, uniform weights = 1), in float64
  let obj: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(w + (<usize>i << 2));
    let a = 0;
    let b = k;
    while (a < b) {
      const h = (a + b) >> 1;
      if (<f64>load<f32>(centroids + (<usize>h << 2)) < v) a = h + 1;
      else b = h;
    }
    let best: i32;
    if (a == k) best = k - 1;
    else if (a == 0) best = 0;
    else {
      const lo = <f64>load<f32>(centroids + (<usize>(a - 1) << 2));
      const hi = <f64>load<f32>(centroids + (<usize>a << 2));
      best = v - lo <= hi - v ? a - 1 : a;
    }
    while (best > 0 && load<f32>(centroids + (<usize>(best - 1) << 2)) == load<f32>(centroids + (<usize>best << 2))) best--;
    store<u8>(indices + <usize>i, <u8>best);
    const d = v - <f64>load<f32>(centroids + (<usize>best << 2));
    const g: f64 = uniform ? 1 : weightAt(f, fKind, i);
    obj += g * d * d;
  }
  return obj;
}
