// Small SIMD helpers shared by the kernels (inlined; nothing here is exported to the host).

// Sum of the four lanes of an f32x4.
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// e^x per lane (Cephes expf: range reduction x = n ln2 + r with a two-part ln2, degree-6 polynomial
// in r, then 2^n applied as two factors 2^(n >> 1) * 2^(n - (n >> 1)) so that results down to the
// f32 subnormals come out right); relative error about 2 ulp. Inputs are clamped to [-104, 88.7228]
// (e^-104 rounds to 0 in f32), x > 88.7228 gives +inf.
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-104.0)), f32x4.splat(88.72283));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, z), r), f32x4.splat(1.0));
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const bias = i32x4.splat(127);
  const y = f32x4.mul(f32x4.mul(p, i32x4.shl(i32x4.add(n1, bias), 23)), i32x4.shl(i32x4.add(n2, bias), 23));
  return v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(88.72283)));
}

// Dot product of the f32 vectors at byte addresses a and b, length n (two accumulators).
// @ts-ignore: decorator
@inline export function dot(a: usize, b: usize, n: i32): f32 {
  const vecEnd = n & ~3;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= vecEnd; c += 8) {
    const off = <usize>c << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(a + off), v128.load(b + off)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(a + off + 16), v128.load(b + off + 16)));
  }
  for (; c < vecEnd; c += 4) {
    const off = <usize>c << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(a + off), v128.load(b + off)));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; c < n; c++) s += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return s;
}

// sum over 16 weights of w[j] * x[j], as 4 lanes: w0..w3 hold weights 0..3, 4..7, 8..11, 12..15
// and x is at xp. Shared by every kernel that decodes weights into registers (lut.ts, uniform.ts).
// @ts-ignore: decorator
@inline export function dot16(w0: v128, w1: v128, w2: v128, w3: v128, xp: usize): v128 {
  const s01 = f32x4.add(f32x4.mul(w0, v128.load(xp)), f32x4.mul(w1, v128.load(xp, 16)));
  const s23 = f32x4.add(f32x4.mul(w2, v128.load(xp, 32)), f32x4.mul(w3, v128.load(xp, 48)));
  return f32x4.add(s01, s23);
}

// Decoding one packed 32-weight group (layouts in src/format/packing.ts) into the indices of its
// weights 0..15 ("first") and 16..31 ("second"), one per byte lane. Shared by the LUT and the
// uniform kernels, so the bit layout is decoded in one place. `bits` is a constant at every call
// (3, 4 or 8), so each kernel keeps only its own branch.

// Bytes of one packed 32-weight group.
// @ts-ignore: decorator
@inline export function groupBytes(bits: i32): usize {
  return bits == 8 ? 32 : bits == 4 ? 16 : 12;
}

// Indices of weights 0..15 of a group whose first 16 bytes are v.
// @ts-ignore: decorator
@inline export function indicesFirst(bits: i32, v: v128): v128 {
  if (bits == 4) return unpack4first(v);
  if (bits == 3) return unpack3first(v);
  return v;
}

// Indices of weights 16..31 of the group at p, whose first 16 bytes are v (8 bits: the next 16 bytes).
// @ts-ignore: decorator
@inline export function indicesSecond(bits: i32, v: v128, p: usize): v128 {
  if (bits == 4) return unpack4second(v);
  if (bits == 3) return unpack3second(v);
  return v128.load(p, 16);
}

// The index of column c of a row whose packed groups start at `row`, weight by weight (for the
// partial group at the end of a row, and for group sizes the SIMD paths do not take).
// @ts-ignore: decorator
@inline export function packedAt(row: usize, c: i32, bits: i32): u32 {
  const j = c & 31;
  const group = row + <usize>(c >> 5) * groupBytes(bits);
  if (bits == 8) return <u32>load<u8>(group + <usize>j);
  if (bits == 4) {
    const b = <u32>load<u8>(group + <usize>(j & 15));
    return j < 16 ? b & 15 : b >> 4;
  }
  const lo = (<u32>load<u8>(group + <usize>(j & 7)) >> (2 * (j >> 3))) & 3;
  const hi = (<u32>load<u8>(group + 8 + <usize>(j >> 3)) >> (j & 7)) & 1;
  return lo | (hi << 2);
}

// The decoders' lane constants, loaded from static data at each use. V8 (Turbofan, Node 20) builds a
// v128.const again at every use inside a loop (3-4 instructions each) unless registers are free;
// a load is one instruction (docs/KERNELS.md, "The 3-bit decode").
const DECODE = memory.data<u8>([
  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, // LOW4: a 4-bit index
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, //                  LOW2: the low two bits of a 3-bit index
  1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, //       BIT: bit (lane mod 8)
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, //                  HIGH: the high bit of a 3-bit index
], 16);
const LOW4: usize = 0;
const LOW2: usize = 16;
const BIT: usize = 32;
const HIGH: usize = 48;

// 4 bits: `v` is the group's 16 bytes. The shift is 16-bit (one psrlw; an i8x16 shift is emulated
// with a shift and a mask): the bits a byte takes from its neighbour are above bit 3 and the AND drops them.
// @ts-ignore: decorator
@inline function unpack4first(v: v128): v128 {
  return nibblesFirst(v, nibbleMask());
}
// @ts-ignore: decorator
@inline function unpack4second(v: v128): v128 {
  return nibblesSecond(v, nibbleMask());
}
// The same with the mask given, for a kernel that loads it once before its loop (nibbleMask).
// @ts-ignore: decorator
@inline export function nibblesFirst(v: v128, mask: v128): v128 {
  return v128.and(v, mask);
}
// @ts-ignore: decorator
@inline export function nibblesSecond(v: v128, mask: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), mask);
}
// The mask of a 4-bit index in every lane.
// @ts-ignore: decorator
@inline export function nibbleMask(): v128 {
  return v128.load(DECODE + LOW4);
}

// 3 bits: `v` holds the group's 12 bytes in lanes 0..11.
// Low two bits: bytes 0..7 beside the same bytes shifted right by 2 (one punpcklqdq) hold those of
// weights 0..15 at bits 0..1 of each lane, and that vector shifted right by 4 those of 16..31. The
// shifts are 16-bit, as for 4 bits: what a byte takes from its neighbour lands above bit 1.
// High bit: the one of weight 8i + b is bit b of byte 8 + i. Unpacks (shuffles V8 lowers to
// punpck*, with no constant) copy byte 8 + i over lanes 8i..8i+7, and the per-lane bit is tested.
// @ts-ignore: decorator
@inline function low3(v: v128): v128 {
  return i8x16.shuffle(v, i16x8.shr_u(v, 2), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}
// Bytes 8..11 of v, each over four lanes (punpckhbw, punpcklwd).
// @ts-ignore: decorator
@inline function high3(v: v128): v128 {
  const w = i8x16.shuffle(v, v, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  return i8x16.shuffle(w, w, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
// @ts-ignore: decorator
@inline function unpack3first(v: v128): v128 {
  const h = high3(v);
  const lo = v128.and(low3(v), v128.load(DECODE + LOW2));
  return v128.or(lo, highBit3(i8x16.shuffle(h, h, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23)));
}
// @ts-ignore: decorator
@inline function unpack3second(v: v128): v128 {
  const h = high3(v);
  const lo = v128.and(i16x8.shr_u(low3(v), 4), v128.load(DECODE + LOW2));
  return v128.or(lo, highBit3(i8x16.shuffle(h, h, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31)));
}
// 4 in each lane whose bit (lane mod 8) of `hb` is set.
// @ts-ignore: decorator
@inline function highBit3(hb: v128): v128 {
  const bit = v128.load(DECODE + BIT);
  return v128.and(i8x16.eq(v128.and(hb, bit), bit), v128.load(DECODE + HIGH));
}
