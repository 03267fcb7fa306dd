// IEEE 754 binary16: conversion to f32 (f16 checkpoints, f16 KV caches), and the products of f16
// weight matrices, which stay f16 in memory (half the bytes of f32) and are widened as they are read.
import { matmulTile, tileRows } from './dense';
import { dot16, hsum } from './simd';

// Every kernel here takes `shift` (0 to 10): the halves hold the values times 2^shift, and
// are widened to half * 2^-shift. A half's exponent field (bias 15) shifted into f32 position
// (bias 127) is rescaled by 2^(112 - shift), this f32. The weights are uploaded with the shift that
// lifts their subnormal halves into the normal range (layout.ts liftHalves): an x86 multiply with a
// subnormal operand takes a slow microcode assist.
// @ts-ignore: decorator
@inline function unitOf(shift: i32): f32 {
  return reinterpret<f32>((239 - shift) << 23);
}

// Converts one half (bits in the low 16 bits of h) to f32 times 2^-shift (unit = unitOf(shift)), exactly.
// @ts-ignore: decorator
@inline function halfBitsToF32(h: u32, unit: f32): f32 {
  const mag = (h & 0x7fff) << 13;
  const sign = (h & 0x8000) << 16;
  if ((h & 0x7c00) == 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | mag);
  // Normals and subnormals alike: the multiply by the unit is exact (f32 subnormal arithmetic is IEEE).
  return reinterpret<f32>(reinterpret<u32>(reinterpret<f32>(mag) * unit) | sign);
}

// SIMD widening works on halves held in the high 16 bits of i32 lanes (h << 16, sign at bit 31), as
// a word interleave with zero gives them. Shifted right by 3 with the sign and masked to
// sign | (h & 0x7fff) << 13, read as f32 and multiplied by the unit, that is the half's value for every
// finite half, normal or subnormal (the multiply is exact and keeps the sign). Exponent 31
// (infinity, NaN) comes out finite there: exact4 gives those lanes f32 exponent 255 (payload kept),
// while the f16 matvec finds such rows once and sums them weight by weight.

// Halves 0..3 / 4..7 of the 8 in h (u16 lanes) as h << 16 in i32 lanes (also the f16 KV cache's reads, attention.ts).
// @ts-ignore: decorator
@inline export function high16Low(h: v128): v128 {
  return i8x16.shuffle(i8x16.splat(0), h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
// @ts-ignore: decorator
@inline export function high16High(h: v128): v128 {
  return i8x16.shuffle(i8x16.splat(0), h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

// The f32 values of 4 finite halves in s (h << 16 lanes) times 2^-shift (unit: unitOf(shift) in all lanes), exactly.
// @ts-ignore: decorator
@inline function finite4(s: v128, unit: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(s, 3), i32x4.splat(0x8fffe000)), unit);
}

// The same for any 4 halves, exactly: exponent 255 where the half's is 31.
// @ts-ignore: decorator
@inline function exact4(s: v128, unit: v128): v128 {
  const special = i32x4.ge_u(i32x4.shl(s, 1), i32x4.splat(0xf8000000));
  return v128.or(finite4(s, unit), v128.and(special, i32x4.splat(0x7f800000)));
}

// out[i] = f32 value of the binary16 bits src[i] (u16, little-endian) times 2^-shift for 0 <= i < n;
// exact, subnormals, infinities and NaN (payload kept) included. SIMD, 8 halves per load, as above.
export function f16ToF32(out: usize, src: usize, n: i32, shift: i32): void {
  const unit = unitOf(shift);
  const unit4 = f32x4.splat(unit);
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(out + (<usize>i << 2), exact4(high16Low(h), unit4));
    v128.store(out + (<usize>i << 2) + 16, exact4(high16High(h), unit4));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), halfBitsToF32(<u32>load<u16>(src + (<usize>i << 1)), unit));
}

// matvecF16's result for one row: the sum of its 32-weight steps (acc) and its scalar tail from c,
// unless top (the largest h << 1 of the steps' halves, the sign shifted out) is 0xf800 or more: a
// row with an infinity or NaN (not seen in trained weights) is summed again weight by weight.
// @ts-ignore: decorator
@inline function finishRow(row: usize, x: usize, cols: i32, c: i32, acc: v128, top: v128, unit: f32): f32 {
  let s = hsum(acc);
  if (v128.any_true(i16x8.ge_u(top, i16x8.splat(<i16>0xf800)))) {
    s = 0;
    c = 0;
  }
  for (; c < cols; c++) s += halfBitsToF32(<u32>load<u16>(row + (<usize>c << 1)), unit) * load<f32>(x + (<usize>c << 2));
  return s;
}

// The lane-wise largest h << 1 of the 32 halves at p.
// @ts-ignore: decorator
@inline function top32(p: usize): v128 {
  const m01 = i16x8.max_u(i16x8.shl(v128.load(p), 1), i16x8.shl(v128.load(p, 16), 1));
  return i16x8.max_u(m01, i16x8.max_u(i16x8.shl(v128.load(p, 32), 1), i16x8.shl(v128.load(p, 48), 1)));
}

// The 32 finite halves at p times 2^-shift (u: unitOf(shift) in all lanes) dotted with the 32 floats at xp, in 4 lanes.
// @ts-ignore: decorator
@inline function dot32(p: usize, xp: usize, u: v128): v128 {
  const h0 = v128.load(p);
  const h1 = v128.load(p, 16);
  const h2 = v128.load(p, 32);
  const h3 = v128.load(p, 48);
  const d0 = dot16(finite4(high16Low(h0), u), finite4(high16High(h0), u), finite4(high16Low(h1), u), finite4(high16High(h1), u), xp);
  return f32x4.add(d0, dot16(finite4(high16Low(h2), u), finite4(high16High(h2), u), finite4(high16Low(h3), u), finite4(high16High(h3), u), xp + 64));
}

// out[r] = sum_c f32(w[r, c]) * 2^-shift * x[c] for r0 <= r < r1, w binary16 [rows, cols] (row stride
// 2 * cols bytes). Two rows at a time (the last one twice when r1 - r0 is odd): two streams of
// weights keep more loads in flight, ×1.2-1.7 on matrices read from memory rather than cache. Per
// row and step of 32 weights, four 8-half loads widened to eight f32x4 (finite4) and dotted with x
// (dot32); the last cols % 32 weight by weight. Every weight is exactly its f16 value
// times 2^-shift; only the f32 sums round, in the same order for any row pairing.
export function matvecF16(out: usize, w: usize, x: usize, cols: i32, r0: i32, r1: i32, shift: i32): void {
  const unit = unitOf(shift);
  const u = f32x4.splat(unit);
  const n32 = cols & ~31;
  for (let r = r0; r < r1; r += 2) {
    const rb = min(r + 1, r1 - 1);
    const rowA = w + ((<usize>r * <usize>cols) << 1);
    const rowB = w + ((<usize>rb * <usize>cols) << 1);
    let accA = f32x4.splat(0);
    let accB = f32x4.splat(0);
    let topA = i16x8.splat(0);
    let topB = i16x8.splat(0);
    let c = 0;
    for (; c < n32; c += 32) {
      const pa = rowA + (<usize>c << 1);
      const pb = rowB + (<usize>c << 1);
      const xp = x + (<usize>c << 2);
      topA = i16x8.max_u(topA, top32(pa));
      topB = i16x8.max_u(topB, top32(pb));
      accA = f32x4.add(accA, dot32(pa, xp, u));
      accB = f32x4.add(accB, dot32(pb, xp, u));
    }
    store<f32>(out + (<usize>r << 2), finishRow(rowA, x, cols, c, accA, topA, unit));
    store<f32>(out + (<usize>rb << 2), finishRow(rowB, x, cols, c, accB, topB, unit));
  }
}

// matvecF16 for n vectors (the same shift): out[i * rows + r] for x [n, cols], out [n, rows], rows r0 <= r < r1;
// scratch: matmulScratchBytes(cols) bytes of this thread's own. Widening costs more than the
// multiply-add, so each tile of rows (dense.ts's tileRows) is widened once into scratch by f16ToF32
// (the tile's rows are contiguous) and multiplied with all n vectors by the dense matmulTile.
export function matmulF16(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32, scratch: usize, shift: i32): void {
  const tile = tileRows(cols);
  for (let t0 = r0; t0 < r1; t0 += tile) {
    const t1 = min(r1, t0 + tile);
    f16ToF32(scratch, w + ((<usize>t0 * <usize>cols) << 1), (t1 - t0) * cols, shift);
    matmulTile(out + (<usize>t0 << 2), <usize>rows << 2, scratch, t1 - t0, x, cols, n);
  }
}
