// IEEE 754 binary16: conversion to f32 (f16 checkpoints, f16 KV caches), and the products of f16
// weight matrices, which stay f16 in memory (half the bytes of f32) and are widened as they are read.
import { matmulTile, tileRows } from './dense';
import { dot16, hsum } from './simd';

// 2^112 as f32: rescales a half's exponent field (bias 15) shifted into f32 position (bias 127).
const TWO_112: f32 = reinterpret<f32>(0x77800000);

// Converts one half (bits in the low 16 bits of h) to f32, exactly.
// @ts-ignore: decorator
@inline function halfBitsToF32(h: u32): f32 {
  const mag = (h & 0x7fff) << 13;
  const sign = (h & 0x8000) << 16;
  if ((h & 0x7c00) == 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | mag);
  // Normals and subnormals alike: the multiply by 2^112 is exact (f32 subnormal arithmetic is IEEE).
  return reinterpret<f32>(reinterpret<u32>(reinterpret<f32>(mag) * TWO_112) | sign);
}

// SIMD widening works on halves held in the high 16 bits of i32 lanes (h << 16, sign at bit 31), as
// a word interleave with zero gives them. Shifted right by 3 with the sign and masked to
// sign | (h & 0x7fff) << 13, read as f32 and multiplied by 2^112, that is the half's value for every
// finite half, normal or subnormal (the multiply is exact and keeps the sign). Exponent 31
// (infinity, NaN) comes out finite there: exact4 gives those lanes f32 exponent 255 (payload kept),
// while the f16 matvec finds such rows once and sums them weight by weight.

// Halves 0..3 / 4..7 of the 8 in h (u16 lanes) as h << 16 in i32 lanes.
// @ts-ignore: decorator
@inline function high16Low(h: v128): v128 {
  return i8x16.shuffle(i8x16.splat(0), h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
// @ts-ignore: decorator
@inline function high16High(h: v128): v128 {
  return i8x16.shuffle(i8x16.splat(0), h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

// The f32 values of 4 finite halves in s (h << 16 lanes), exactly.
// @ts-ignore: decorator
@inline function finite4(s: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(s, 3), i32x4.splat(0x8fffe000)), f32x4.splat(TWO_112));
}

// The f32 values of any 4 halves in s (h << 16 lanes), exactly: exponent 255 where the half's is 31.
// @ts-ignore: decorator
@inline function exact4(s: v128): v128 {
  const special = i32x4.ge_u(i32x4.shl(s, 1), i32x4.splat(0xf8000000));
  return v128.or(finite4(s), v128.and(special, i32x4.splat(0x7f800000)));
}

// out[i] = f32 value of the binary16 bits src[i] (u16, little-endian) for 0 <= i < n; exact,
// subnormals, infinities and NaN (payload kept) included. SIMD, 8 halves per load, as above.
export function f16ToF32(out: usize, src: usize, n: i32): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(out + (<usize>i << 2), exact4(high16Low(h)));
    v128.store(out + (<usize>i << 2) + 16, exact4(high16High(h)));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), halfBitsToF32(<u32>load<u16>(src + (<usize>i << 1))));
}

// out[r] = sum_c f32(w[r, c]) * x[c] for r0 <= r < r1, w binary16 [rows, cols] (row stride 2 * cols
// bytes). 32 weights per step: four 8-half loads widened to eight f32x4 (finite4) and dotted with x
// into two accumulators; the last cols % 32 weight by weight. Every weight is exactly its f16 value;
// only the f32 sums round.
export function matvecF16(out: usize, w: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  const n32 = cols & ~31;
  for (let r = r0; r < r1; r++) {
    const row = w + ((<usize>r * <usize>cols) << 1);
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    // the largest h << 1 (the sign shifted out) of the row's SIMD part: 0xf800 and up is exponent 31
    let top = i16x8.splat(0);
    let c = 0;
    for (; c < n32; c += 32) {
      const p = row + (<usize>c << 1);
      const xp = x + (<usize>c << 2);
      const h0 = v128.load(p);
      const h1 = v128.load(p, 16);
      const h2 = v128.load(p, 32);
      const h3 = v128.load(p, 48);
      top = i16x8.max_u(top, i16x8.max_u(i16x8.max_u(i16x8.shl(h0, 1), i16x8.shl(h1, 1)), i16x8.max_u(i16x8.shl(h2, 1), i16x8.shl(h3, 1))));
      acc0 = f32x4.add(acc0, dot16(finite4(high16Low(h0)), finite4(high16High(h0)), finite4(high16Low(h1)), finite4(high16High(h1)), xp));
      acc1 = f32x4.add(acc1, dot16(finite4(high16Low(h2)), finite4(high16High(h2)), finite4(high16Low(h3)), finite4(high16High(h3)), xp + 64));
    }
    let s = hsum(f32x4.add(acc0, acc1));
    // a row with an infinity or NaN (not seen in trained weights) is summed again weight by weight
    if (v128.any_true(i16x8.ge_u(top, i16x8.splat(<i16>0xf800)))) {
      s = 0;
      c = 0;
    }
    for (; c < cols; c++) s += halfBitsToF32(<u32>load<u16>(row + (<usize>c << 1))) * load<f32>(x + (<usize>c << 2));
    store<f32>(out + (<usize>r << 2), s);
  }
}

// matvecF16 for n vectors: out[i * rows + r] for x [n, cols], out [n, rows], rows r0 <= r < r1;
// scratch: matmulScratchBytes(cols) bytes of this thread's own. Widening costs more than the
// multiply-add, so each tile of rows (dense.ts's tileRows) is widened once into scratch by f16ToF32
// (the tile's rows are contiguous) and multiplied with all n vectors by the dense matmulTile.
export function matmulF16(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize): void {
  const tile = tileRows(cols);
  for (let t0 = r0; t0 < r1; t0 += tile) {
    const t1 = min(r1, t0 + tile);
    f16ToF32(scratch, w + ((<usize>t0 * <usize>cols) << 1), (t1 - t0) * cols);
    matmulTile(out + (<usize>t0 << 2), <usize>rows << 2, scratch, t1 - t0, x, cols, n);
  }
}
