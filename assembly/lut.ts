// Lookup-table matvecs: the SqueezeLLM exact path. Row r's weight at column c is lut[r, idx(r, c)]
// (f32), idx packed in groups of 32 as in src/format/packing.ts:
//   4 bits, 16 bytes per group: byte j = w[j] | w[j + 16] << 4
//   3 bits, 12 bytes per group: bytes 0..7: byte j = lo(w[j]) | lo(w[j+8]) << 2 | lo(w[j+16]) << 4
//                               | lo(w[j+24]) << 6; bytes 8..11: bit b of byte 8 + i = bit 2 of w[8i + b]
// Rows are padded to whole groups (padding indices are 0); a 3-bit group is loaded as one 16-byte
// vector, so the kernel reads up to 4 bytes past the last group (the host leaves 16 bytes of slack).
//
// Decoding 16 weights at once (exact, no dequantized copy): per row the f32 table is split into four
// byte planes (plane b, lane k = byte b of entry k) with i8x16.shuffle. 16 indices in byte lanes
// swizzle each plane (i8x16.swizzle = a 16-entry byte table lookup), giving byte b of the 16 weights;
// two rounds of interleaving shuffles (bytes, then 16-bit pairs) turn the four planes back into four
// f32x4 of weights, which are multiplied with x. Full groups go this way; a row's last partial group
// (cols % 32 != 0) is decoded weight by weight so that x is never read past cols.
import { hsum, unpack3first, unpack3second, unpack4first, unpack4second } from './simd';

// Byte planes of one 16-entry table in four v128 (entries 0..3, 4..7, 8..11, 12..15).
// @ts-ignore: decorator
@inline function plane01(t0: v128, t1: v128): v128 {
  // lanes 0..7: byte 0 of entries 0..7; lanes 8..15: byte 1 of entries 0..7
  return i8x16.shuffle(t0, t1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
}
// @ts-ignore: decorator
@inline function plane23(t0: v128, t1: v128): v128 {
  // lanes 0..7: byte 2 of entries 0..7; lanes 8..15: byte 3 of entries 0..7
  return i8x16.shuffle(t0, t1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
}
// @ts-ignore: decorator
@inline function lowHalves(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}
// @ts-ignore: decorator
@inline function highHalves(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}

// sum over 16 weights (as 4 lanes) of table[k[j]] * x[j], the table given as byte planes p0..p3.
// @ts-ignore: decorator
@inline function lookupDot(p0: v128, p1: v128, p2: v128, p3: v128, k: v128, xp: usize): v128 {
  const b0 = i8x16.swizzle(p0, k);
  const b1 = i8x16.swizzle(p1, k);
  const b2 = i8x16.swizzle(p2, k);
  const b3 = i8x16.swizzle(p3, k);
  // bytes 0,1 and 2,3 of each weight side by side (16-bit pairs), weights 0..7 and 8..15
  const l01 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const h01 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const l23 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const h23 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  // whole f32s: weights 0..3, 4..7, 8..11, 12..15
  const f0 = i8x16.shuffle(l01, l23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const f1 = i8x16.shuffle(l01, l23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const f2 = i8x16.shuffle(h01, h23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const f3 = i8x16.shuffle(h01, h23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const s01 = f32x4.add(f32x4.mul(f0, v128.load(xp)), f32x4.mul(f1, v128.load(xp, 16)));
  const s23 = f32x4.add(f32x4.mul(f2, v128.load(xp, 32)), f32x4.mul(f3, v128.load(xp, 48)));
  return f32x4.add(s01, s23);
}

// out[r] = sum_c lut[r, idx(r, c)] * x[c] for r0 <= r < r1, with 4-bit packed indices (row stride
// ceil(cols / 32) * 16 bytes) and lut [rows, 16] f32. Byte-plane swizzle decode, 32 weights per group.
export function matvecLut4(out: usize, lut: usize, idx: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  const groups = cols >> 5;
  const stride = <usize>((cols + 31) >> 5) << 4;
  for (let r = r0; r < r1; r++) {
    const tab = lut + (<usize>r << 6);
    const row = idx + <usize>r * stride;
    const t0 = v128.load(tab);
    const t1 = v128.load(tab, 16);
    const t2 = v128.load(tab, 32);
    const t3 = v128.load(tab, 48);
    const a01 = plane01(t0, t1);
    const b01 = plane01(t2, t3);
    const a23 = plane23(t0, t1);
    const b23 = plane23(t2, t3);
    const p0 = lowHalves(a01, b01);
    const p1 = highHalves(a01, b01);
    const p2 = lowHalves(a23, b23);
    const p3 = highHalves(a23, b23);
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const v = v128.load(row + (<usize>g << 4));
      const xp = x + (<usize>g << 7);
      acc0 = f32x4.add(acc0, lookupDot(p0, p1, p2, p3, unpack4first(v), xp));
      acc1 = f32x4.add(acc1, lookupDot(p0, p1, p2, p3, unpack4second(v), xp + 64));
    }
    let s = hsum(f32x4.add(acc0, acc1));
    const tail = row + (<usize>groups << 4);
    for (let c = groups << 5; c < cols; c++) {
      const j = c & 31;
      const b = <u32>load<u8>(tail + <usize>(j & 15));
      const k = j < 16 ? b & 15 : b >> 4;
      s += load<f32>(tab + (<usize>k << 2)) * load<f32>(x + (<usize>c << 2));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// out[r] = sum_c lut[r, idx(r, c)] * x[c] for r0 <= r < r1, with 3-bit packed indices (row stride
// ceil(cols / 32) * 12 bytes) and lut [rows, 8] f32. Indices of 16 weights are assembled in byte lanes
// by unpack3first / unpack3second (simd.ts), then looked up as in matvecLut4 (planes of 8 entries;
// lanes 8..15 unused).
export function matvecLut3(out: usize, lut: usize, idx: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  const groups = cols >> 5;
  const stride = <usize>((cols + 31) >> 5) * 12;
  for (let r = r0; r < r1; r++) {
    const tab = lut + (<usize>r << 5);
    const row = idx + <usize>r * stride;
    const t0 = v128.load(tab);
    const t1 = v128.load(tab, 16);
    const p0 = i8x16.shuffle(t0, t1, 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const p1 = i8x16.shuffle(t0, t1, 1, 5, 9, 13, 17, 21, 25, 29, 1, 5, 9, 13, 17, 21, 25, 29);
    const p2 = i8x16.shuffle(t0, t1, 2, 6, 10, 14, 18, 22, 26, 30, 2, 6, 10, 14, 18, 22, 26, 30);
    const p3 = i8x16.shuffle(t0, t1, 3, 7, 11, 15, 19, 23, 27, 31, 3, 7, 11, 15, 19, 23, 27, 31);
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const v = v128.load(row + <usize>g * 12);
      const xp = x + (<usize>g << 7);
      acc0 = f32x4.add(acc0, lookupDot(p0, p1, p2, p3, unpack3first(v), xp));
      acc1 = f32x4.add(acc1, lookupDot(p0, p1, p2, p3, unpack3second(v), xp + 64));
    }
    let s = hsum(f32x4.add(acc0, acc1));
    const tail = row + <usize>groups * 12;
    for (let c = groups << 5; c < cols; c++) {
      const j = c & 31;
      const lo = (<u32>load<u8>(tail + <usize>(j & 7)) >> (2 * (j >> 3))) & 3;
      const hi = (<u32>load<u8>(tail + 8 + <usize>(j >> 3)) >> (j & 7)) & 1;
      s += load<f32>(tab + (<usize>(lo | (hi << 2)) << 2)) * load<f32>(x + (<usize>c << 2));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}
