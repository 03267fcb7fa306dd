// IEEE 754 binary16 -> f32 conversion (f16 checkpoints, f16 KV caches).

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

// out[i] = f32 value of the binary16 bits src[i] (u16, little-endian) for 0 <= i < n; exact,
// subnormals, infinities and NaN (payload kept) included. SIMD: 8 halves per load, widened to two
// i32x4 with extend_low/high; per 4 lanes (h & 0x7fff) << 13 reinterpreted as f32 times 2^112 gives
// normals and subnormals; lanes with exponent 31 get f32 exponent 255 by a bitselect; the sign is OR'd.
export function f16ToF32(out: usize, src: usize, n: i32): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(out + (<usize>i << 2), convert4(i32x4.extend_low_i16x8_u(h)));
    v128.store(out + (<usize>i << 2) + 16, convert4(i32x4.extend_high_i16x8_u(h)));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), halfBitsToF32(<u32>load<u16>(src + (<usize>i << 1))));
}

// @ts-ignore: decorator
@inline function convert4(h: v128): v128 {
  const mag = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const finite = f32x4.mul(mag, f32x4.splat(TWO_112));
  const special = v128.or(mag, i32x4.splat(0x7f800000));
  const isSpecial = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  return v128.or(v128.bitselect(special, finite, isSpecial), sign);
}
