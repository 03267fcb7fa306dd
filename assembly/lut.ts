// Lookup-table matvecs and matmuls: the SqueezeLLM exact path (the int8 fast path is lutint8.ts). Row r's
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
import { matmulTile, tileRows } from './dense';
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
@inline export function planeEntry(pl: usize, i: u32): f32 {
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
