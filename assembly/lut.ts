// Lookup-table matvecs and matmuls: the SqueezeLLM exact path, and the opt-in int8 fast path. Row r's
// weight at column c is entry idx(r, c) of row r's table, idx packed in groups of 32 as in
// src/format/packing.ts:
//   4 bits, 16 bytes per group: byte j = w[j] | w[j + 16] << 4
//   3 bits, 12 bytes per group: bytes 0..7: byte j = lo(w[j]) | lo(w[j+8]) << 2 | lo(w[j+16]) << 4
//                               | lo(w[j+24]) << 6; bytes 8..11: bit b of byte 8 + i = bit 2 of w[8i + b]
// Rows are padded to whole groups (padding indices are 0); a 3-bit group is loaded as one 16-byte
// vector, so the kernel reads up to 4 bytes past the last group (the host leaves 16 bytes of slack).
//
// Exact path, decoding 16 weights at once (no dequantized copy): the table comes as byte planes, 64
// bytes per row (plane b at 16 * b, lane k = byte b of the f32 entry k; src/backend/wasm/layout.ts
// builds them once at load). 16 indices in byte lanes swizzle each plane (i8x16.swizzle = a 16-entry
// byte table lookup), giving byte b of the 16 weights; two rounds of interleaving shuffles (bytes,
// then 16-bit pairs) turn the four planes back into four f32x4 of weights, which are multiplied with
// x. The planes are loaded from memory in every group on purpose: computed from the f32 table in
// registers, V8 sank the 16 plane shuffles (and their constants) into the group loop, which made the
// kernel 1.5-1.7x slower (docs/KERNELS.md). Full groups go this way; a row's last partial group
// (cols % 32 != 0) is decoded weight by weight so that x is never read past cols.
//
// The decode (swizzles and shuffles) costs more than the multiply-adds, so the matmuls decode a
// tile of rows once into the caller's scratch and run the dense register-blocked matmul on it
// (docs/KERNELS.md has the measurements against decoding into registers per four vectors).
import { matmulScratchBytes, matmulTile, tileRows } from './dense';
import { dot16, groupBytes, hsum, indicesFirst, indicesSecond, packedAt } from './simd';

// Bytes of one row's byte planes (3-bit tables use lanes 0..7 of each plane).
const PLANE_BYTES: usize = 64;

// Weights 4j..4j+3 (j constant) as f32x4, of the 16 whose indices are in k's byte lanes, from the
// table's byte planes p0..p3. The four calls for j = 0..3 repeat their swizzles and first-round
// shuffles; V8 merges the identical expressions (matvecLut4 measured as fast as when it was one
// function computing them once).
// @ts-ignore: decorator
@inline function lookup4(p0: v128, p1: v128, p2: v128, p3: v128, k: v128, j: i32): v128 {
  const b0 = i8x16.swizzle(p0, k);
  const b1 = i8x16.swizzle(p1, k);
  const b2 = i8x16.swizzle(p2, k);
  const b3 = i8x16.swizzle(p3, k);
  // bytes 0,1 and 2,3 of each weight side by side (16-bit pairs), weights 0..7 or 8..15
  let w01: v128;
  let w23: v128;
  if (j < 2) {
    w01 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    w23 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  } else {
    w01 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    w23 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  }
  // whole f32s
  if ((j & 1) == 0) return i8x16.shuffle(w01, w23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  return i8x16.shuffle(w01, w23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

// sum over 16 weights (as 4 lanes) of table[k[j]] * x[j], the table given as byte planes p0..p3.
// @ts-ignore: decorator
@inline function lookupDot(p0: v128, p1: v128, p2: v128, p3: v128, k: v128, xp: usize): v128 {
  return dot16(lookup4(p0, p1, p2, p3, k, 0), lookup4(p0, p1, p2, p3, k, 1), lookup4(p0, p1, p2, p3, k, 2), lookup4(p0, p1, p2, p3, k, 3), xp);
}

// The f32 table entry `i` of the row whose planes are at pl (gathered from its four bytes), for the
// weight-by-weight tails.
// @ts-ignore: decorator
@inline function planeEntry(pl: usize, i: u32): f32 {
  const p = pl + <usize>i;
  return reinterpret<f32>(<u32>load<u8>(p) | (<u32>load<u8>(p, 16) << 8) | (<u32>load<u8>(p, 32) << 16) | (<u32>load<u8>(p, 48) << 24));
}

// Bytes of one row's packed indices.
// @ts-ignore: decorator
@inline function rowStride(bits: i32, cols: i32): usize {
  return <usize>((cols + 31) >> 5) * groupBytes(bits);
}

// out[r] = sum_c lut[r, idx(r, c)] * x[c] for r0 <= r < r1 (the table as byte planes): one vector,
// two accumulators.
// @ts-ignore: decorator
@inline function lutRows(bits: i32, out: usize, planes: usize, idx: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  const groups = cols >> 5;
  const gb = groupBytes(bits);
  const stride = rowStride(bits, cols);
  for (let r = r0; r < r1; r++) {
    const pl = planes + <usize>r * PLANE_BYTES;
    const row = idx + <usize>r * stride;
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const gp = row + <usize>g * gb;
      const v = v128.load(gp);
      const xp = x + (<usize>g << 7);
      const p0 = v128.load(pl);
      const p1 = v128.load(pl, 16);
      const p2 = v128.load(pl, 32);
      const p3 = v128.load(pl, 48);
      acc0 = f32x4.add(acc0, lookupDot(p0, p1, p2, p3, indicesFirst(bits, v), xp));
      acc1 = f32x4.add(acc1, lookupDot(p0, p1, p2, p3, indicesSecond(bits, v, gp), xp + 64));
    }
    let s = hsum(f32x4.add(acc0, acc1));
    for (let c = groups << 5; c < cols; c++) s += planeEntry(pl, packedAt(row, c, bits)) * load<f32>(x + (<usize>c << 2));
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Rows t0 <= r < t1 decoded to f32 into dst (cols floats per row): each weight exactly its table
// value, full groups 16 weights at a time as in lutRows.
// @ts-ignore: decorator
@inline function decodeRows(bits: i32, dst: usize, planes: usize, idx: usize, cols: i32, t0: i32, t1: i32): void {
  const groups = cols >> 5;
  const gb = groupBytes(bits);
  const stride = rowStride(bits, cols);
  for (let r = t0; r < t1; r++) {
    const pl = planes + <usize>r * PLANE_BYTES;
    const row = idx + <usize>r * stride;
    const d = dst + <usize>(r - t0) * (<usize>cols << 2);
    for (let g = 0; g < groups; g++) {
      const gp = row + <usize>g * gb;
      const v = v128.load(gp);
      const dp = d + (<usize>g << 7);
      const p0 = v128.load(pl);
      const p1 = v128.load(pl, 16);
      const p2 = v128.load(pl, 32);
      const p3 = v128.load(pl, 48);
      let k = indicesFirst(bits, v);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 0));
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 1), 16);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 2), 32);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 3), 48);
      k = indicesSecond(bits, v, gp);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 0), 64);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 1), 80);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 2), 96);
      v128.store(dp, lookup4(p0, p1, p2, p3, k, 3), 112);
    }
    for (let c = groups << 5; c < cols; c++) store<f32>(d + (<usize>c << 2), planeEntry(pl, packedAt(row, c, bits)));
  }
}

// out[i * rows + r] = sum_c lut[r, idx(r, c)] * x[i * cols + c] for n vectors (x [n, cols], out
// [n, rows]) and r0 <= r < r1. Tile by tile (dense.ts's tileRows), the rows are decoded once into
// scratch and multiplied with all n vectors by the dense matmulTile.
// @ts-ignore: decorator
@inline function lutMatmul(bits: i32, out: usize, planes: usize, idx: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  const tile = tileRows(cols);
  for (let t0 = r0; t0 < r1; t0 += tile) {
    const t1 = min(r1, t0 + tile);
    decodeRows(bits, scratch, planes, idx, cols, t0, t1);
    matmulTile(out + (<usize>t0 << 2), <usize>rows << 2, scratch, t1 - t0, x, cols, n);
  }
}

// out[r] = sum_c lut[r, idx(r, c)] * x[c] for r0 <= r < r1, with 4-bit packed indices (row stride
// ceil(cols / 32) * 16 bytes) and the [rows, 16] f32 table as byte planes (64 bytes per row).
export function matvecLut4(out: usize, planes: usize, idx: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  lutRows(4, out, planes, idx, x, cols, r0, r1);
}

// The same with 3-bit packed indices (row stride ceil(cols / 32) * 12 bytes) and the [rows, 8] table
// as byte planes (64 bytes per row, lanes 8..15 unused).
export function matvecLut3(out: usize, planes: usize, idx: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  lutRows(3, out, planes, idx, x, cols, r0, r1);
}

// matvecLut4 for n vectors: out [n, rows], x [n, cols], rows r0 <= r < r1 of every vector;
// scratch: matmulScratchBytes(cols) bytes of this thread's own.
export function matmulLut4(out: usize, planes: usize, idx: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  lutMatmul(4, out, planes, idx, x, rows, cols, n, r0, r1, scratch);
}

// matvecLut3 for n vectors, as matmulLut4.
export function matmulLut3(out: usize, planes: usize, idx: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  lutMatmul(3, out, planes, idx, x, rows, cols, n, r0, r1, scratch);
}

// Rows r0 <= r < r1 of the matrix as f32 into dst (cols floats per row, row r at dst + (r - r0) *
// cols * 4), each weight exactly its table value: the embedding lookup of a LUT matrix.
export function dequantLut4(dst: usize, planes: usize, idx: usize, cols: i32, r0: i32, r1: i32): void {
  decodeRows(4, dst, planes, idx, cols, r0, r1);
}

// The same with 3-bit packed indices.
export function dequantLut3(dst: usize, planes: usize, idx: usize, cols: i32, r0: i32, r1: i32): void {
  decodeRows(3, dst, planes, idx, cols, r0, r1);
}

// --- The int8 fast path (opt-in, not exact; docs/KERNELS.md has its error and speed).
//
// Each row's table is quantized once at load to int8 with one f32 scale (16 bytes per row, lanes
// 8..15 unused at 3 bits), so a single i8x16.swizzle looks up 16 weights. x is quantized per matvec
// (quantizeActivations) to int16 with one f32 scale per block of XQ_BLOCK columns. Products are
// summed in i32 by i32x4.dot_i16x8_s within a block, each block's sum is scaled by its x scale in
// f32, and the row's sum by the row's scale. A block is small enough that the i32 sums cannot
// overflow: each lane sums 2 * XQ_BLOCK / 8 products of at most 127 * 32767 (2.7e8 < 2^31).

// Columns per activation scale (a multiple of 32: whole groups).
const XQ_BLOCK: i32 = 256;
// Largest quantized activation.
const XQ_MAX: f32 = 32767;

// Bytes quantizeActivations writes for `cols` columns: the int16 values of whole groups (zero past
// cols), then one f32 scale per block.
export function activationBytes(cols: i32): usize {
  const padded = ((cols + 31) >> 5) << 5;
  return (<usize>padded << 1) + (<usize>((padded + XQ_BLOCK - 1) / XQ_BLOCK) << 2);
}

// xq (activationBytes(cols) bytes) = x quantized: per block of XQ_BLOCK columns, scale = max|x| / 32767
// and q[c] = nearest(x[c] / scale) (0 for a block of zeros); q is 0 from cols to the next whole group.
export function quantizeActivations(xq: usize, x: usize, cols: i32): void {
  const padded = ((cols + 31) >> 5) << 5;
  const scales = xq + (<usize>padded << 1);
  for (let c0 = 0; c0 < padded; c0 += XQ_BLOCK) {
    const c1 = min(cols, c0 + XQ_BLOCK);
    const v1 = c0 + ((c1 - c0) & ~7);
    let m4 = f32x4.splat(0);
    let c = c0;
    for (; c < v1; c += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(x + (<usize>c << 2))));
    let m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; c < c1; c++) m = max(m, abs(load<f32>(x + (<usize>c << 2))));
    const inv: f32 = m > 0 ? XQ_MAX / m : 0;
    store<f32>(scales + (<usize>(c0 / XQ_BLOCK) << 2), m / XQ_MAX);
    const iv = f32x4.splat(inv);
    for (c = c0; c < v1; c += 8) {
      const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x + (<usize>c << 2)), iv)));
      const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x + (<usize>c << 2), 16), iv)));
      v128.store(xq + (<usize>c << 1), i16x8.narrow_i32x4_s(lo, hi));
    }
    for (; c < min(padded, c0 + XQ_BLOCK); c++) store<i16>(xq + (<usize>c << 1), c < cols ? <i16>(<i32>nearest(load<f32>(x + (<usize>c << 2)) * inv)) : 0);
  }
}

// Sum over 16 weights of table[k[j]] * xq[j] as i32x4: one swizzle, widened to i16 against xq at xp.
// Lane l sums the weights at positions 2l and 2l + 1 of each 8; the batched kernel keeps this lane
// assignment, so its i32 lane sums (exact integers) are the same numbers.
// @ts-ignore: decorator
@inline function dotInt8(t: v128, k: v128, xp: usize): v128 {
  const w = i8x16.swizzle(t, k);
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), v128.load(xp)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), v128.load(xp, 16)));
}

// One block's i32 lane sums scaled into a row's f32 accumulator: acc + f32(sum) * xscale. Shared by
// the matvec and the batched kernel, so both round the same numbers in the same order.
// @ts-ignore: decorator
@inline function addBlock(acc: v128, sum: v128, xs: usize, block: i32): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(sum), f32x4.splat(load<f32>(xs + (<usize>block << 2)))));
}

// out[r] = scales[r] * sum_b xscale[b] * sum_{c in block b} table[r, idx(r, c)] * xq[c] for r0 <= r < r1.
// Every group goes the SIMD way: xq is 0 past cols, so the padding indices of a partial last group add 0.
// @ts-ignore: decorator
@inline function lutRowsInt8(bits: i32, out: usize, table: usize, scales: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32): void {
  const groups = (cols + 31) >> 5;
  const gb = groupBytes(bits);
  const stride = rowStride(bits, cols);
  const xs = xq + (<usize>groups << 6);
  const blockGroups = XQ_BLOCK >> 5;
  for (let r = r0; r < r1; r++) {
    const t = v128.load(table + (<usize>r << 4));
    const row = idx + <usize>r * stride;
    let acc = f32x4.splat(0);
    for (let g0 = 0; g0 < groups; g0 += blockGroups) {
      const g1 = min(groups, g0 + blockGroups);
      let sum = i32x4.splat(0);
      for (let g = g0; g < g1; g++) {
        const gp = row + <usize>g * gb;
        const v = v128.load(gp);
        const xp = xq + (<usize>g << 6);
        sum = i32x4.add(sum, i32x4.add(dotInt8(t, indicesFirst(bits, v), xp), dotInt8(t, indicesSecond(bits, v, gp), xp + 32)));
      }
      acc = addBlock(acc, sum, xs, g0 / blockGroups);
    }
    store<f32>(out + (<usize>r << 2), hsum(acc) * load<f32>(scales + (<usize>r << 2)));
  }
}

// The int8 fast path of matvecLut4: table int8 [rows, 16], scales f32 [rows], 4-bit packed indices,
// xq from quantizeActivations.
export function matvecLut4Int8(out: usize, table: usize, scales: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32): void {
  lutRowsInt8(4, out, table, scales, idx, xq, cols, r0, r1);
}

// The same with 3-bit packed indices (table lanes 8..15 unused).
export function matvecLut3Int8(out: usize, table: usize, scales: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32): void {
  lutRowsInt8(3, out, table, scales, idx, xq, cols, r0, r1);
}

// --- The batched int8 product: exactly n int8 matvecs, with each decoded weight reused across vectors.
//
// A tile of rows is decoded once into the caller's scratch as int16 table values (one swizzle per 16
// weights, widened; whole groups, so the padding of a partial last group is decoded too and meets
// xq's zeros). Then each block of four vectors meets every row of the tile: every 8 decoded weights
// are loaded once and dotted (i32x4.dot_i16x8_s) with the four vectors' int16 values. The i32 lane
// sums are the matvec's (same lanes, exact integers), and each block's sum, each row's sum and the
// row scale are rounded in the matvec's order, so every output has the matvec's bits.

// Rows t0 <= r < t1 decoded as int16 table values into dst (groups * 32 per row).
// @ts-ignore: decorator
@inline function decodeRowsInt8(bits: i32, dst: usize, table: usize, idx: usize, cols: i32, t0: i32, t1: i32): void {
  const groups = (cols + 31) >> 5;
  const gb = groupBytes(bits);
  const stride = rowStride(bits, cols);
  for (let r = t0; r < t1; r++) {
    const t = v128.load(table + (<usize>r << 4));
    const row = idx + <usize>r * stride;
    const d = dst + <usize>(r - t0) * (<usize>groups << 6);
    for (let g = 0; g < groups; g++) {
      const gp = row + <usize>g * gb;
      const v = v128.load(gp);
      const dp = d + (<usize>g << 6);
      const w0 = i8x16.swizzle(t, indicesFirst(bits, v));
      const w1 = i8x16.swizzle(t, indicesSecond(bits, v, gp));
      v128.store(dp, i16x8.extend_low_i8x16_s(w0));
      v128.store(dp, i16x8.extend_high_i8x16_s(w0), 16);
      v128.store(dp, i16x8.extend_low_i8x16_s(w1), 32);
      v128.store(dp, i16x8.extend_high_i8x16_s(w1), 48);
    }
  }
}

// For the m decoded rows at w (groups * 32 int16 per row, row scales at `scales`) and four vectors,
// the int16 values of vector j at x_j and its outputs at o_j + r * 4. Each 8-weight chunk is loaded
// once for the four vectors.
// @ts-ignore: decorator
@inline function rowsInt8x4(w: usize, m: i32, scales: usize, groups: i32, x0: usize, x1: usize, x2: usize, x3: usize, o0: usize, o1: usize, o2: usize, o3: usize): void {
  const xs = <usize>groups << 6;
  const blockGroups = XQ_BLOCK >> 5;
  for (let r = 0; r < m; r++) {
    const row = w + <usize>r * xs;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let g0 = 0; g0 < groups; g0 += blockGroups) {
      const end = <usize>min(groups, g0 + blockGroups) << 6;
      let s0 = i32x4.splat(0);
      let s1 = i32x4.splat(0);
      let s2 = i32x4.splat(0);
      let s3 = i32x4.splat(0);
      for (let off = <usize>g0 << 6; off < end; off += 16) {
        const wv = v128.load(row + off);
        s0 = i32x4.add(s0, i32x4.dot_i16x8_s(wv, v128.load(x0 + off)));
        s1 = i32x4.add(s1, i32x4.dot_i16x8_s(wv, v128.load(x1 + off)));
        s2 = i32x4.add(s2, i32x4.dot_i16x8_s(wv, v128.load(x2 + off)));
        s3 = i32x4.add(s3, i32x4.dot_i16x8_s(wv, v128.load(x3 + off)));
      }
      const b = g0 / blockGroups;
      a0 = addBlock(a0, s0, x0 + xs, b);
      a1 = addBlock(a1, s1, x1 + xs, b);
      a2 = addBlock(a2, s2, x2 + xs, b);
      a3 = addBlock(a3, s3, x3 + xs, b);
    }
    const sc = load<f32>(scales + (<usize>r << 2));
    const ro = <usize>r << 2;
    store<f32>(o0 + ro, hsum(a0) * sc);
    store<f32>(o1 + ro, hsum(a1) * sc);
    store<f32>(o2 + ro, hsum(a2) * sc);
    store<f32>(o3 + ro, hsum(a3) * sc);
  }
}

// The int8 matvec on n vectors (xq [n] at xqStride bytes apart, out [n, rows]) for rows r0 <= r < r1,
// four vectors at a time. In the last block of four, the places past n take vector n - 1 again (the
// same bits stored twice): one code path for every n.
// @ts-ignore: decorator
@inline function lutMatmulInt8(bits: i32, out: usize, table: usize, scales: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  const groups = (cols + 31) >> 5;
  const tile = <i32>(matmulScratchBytes(cols) / (<usize>groups << 6));
  const oStride = <usize>rows << 2;
  for (let t0 = r0; t0 < r1; t0 += tile) {
    const t1 = min(r1, t0 + tile);
    decodeRowsInt8(bits, scratch, table, idx, cols, t0, t1);
    const o = out + (<usize>t0 << 2);
    const sp = scales + (<usize>t0 << 2);
    for (let i = 0; i < n; i += 4) {
      const j1 = <usize>min(i + 1, n - 1);
      const j2 = <usize>min(i + 2, n - 1);
      const j3 = <usize>min(i + 3, n - 1);
      rowsInt8x4(scratch, t1 - t0, sp, groups,
        xq + <usize>i * xqStride, xq + j1 * xqStride, xq + j2 * xqStride, xq + j3 * xqStride,
        o + <usize>i * oStride, o + j1 * oStride, o + j2 * oStride, o + j3 * oStride);
    }
  }
}

// matvecLut4Int8 on n vectors, bit for bit: xq holds n quantizeActivations outputs xqStride bytes apart,
// out [n, rows], rows r0 <= r < r1 of every vector; scratch: matmulScratchBytes(cols) bytes of this
// thread's own.
export function matmulLut4Int8(out: usize, table: usize, scales: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  lutMatmulInt8(4, out, table, scales, idx, xq, xqStride, rows, cols, n, r0, r1, scratch);
}

// The same with 3-bit packed indices.
export function matmulLut3Int8(out: usize, table: usize, scales: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  lutMatmulInt8(3, out, table, scales, idx, xq, xqStride, rows, cols, n, r0, r1, scratch);
}
