// Uniform (RTN / GPTQ / AWQ) matvec: row r's weight at column c is
//   w[r, c] = scale[r, g] * (q(r, c) - zero[r, g]),  g = floor(c / gs),  gs = min(groupSize, cols),
// with q packed in groups of 32 as in src/format/packing.ts (3, 4 or 8 bits; docs/FORMAT.md) and
// scales, zeros f32 [rows, nGroups], nGroups = ceil(cols / gs).
//
// out[r] = sum_g scale[r, g] * sum_{c in g} (q(r, c) - zero[r, g]) * x[c]. The inner sums take 16
// weights at a time: the 16 values in byte lanes (4-bit: v & 0x0f and v >> 4 of one 16-byte load;
// 8-bit: the bytes themselves; 3-bit: the two low-bit planes and the high-bit bytes, decoded by
// simd.ts's unpack helpers, as for the LUT kernels) are widened u8 -> u16 -> u32, converted to
// f32, the group's zero subtracted (exact when the zero is an integer, as every quantizer here
// writes it), multiplied with x and summed into a
// per-group f32x4 accumulator; each group's accumulator is then scaled once and added to the row
// total. Subtracting the zero per weight (instead of scale * (sum q x - zero * sum x)) keeps the
// sums as well conditioned as a plain f32 dot product.
//
// Whole 32-weight chunks go this way when every chunk lies inside one group (gs a multiple of 32,
// or one group per row). The row's last partial chunk (cols % 32 != 0) is decoded weight by weight
// so x is never read past cols. Any other group size takes a scalar path (correct, slower).
// A 3-bit chunk is 12 bytes but is loaded as one v128: the kernel reads up to 4 bytes past the last
// chunk (the host leaves 16 bytes of slack after every block).
import { hsum, unpack3first, unpack3second, unpack4first, unpack4second } from './simd';

// sum over 16 weights (as 4 lanes) of (q[j] - z) * x[j], q in the 16 byte lanes of `q`.
// @ts-ignore: decorator
@inline function dot16(q: v128, z: v128, xp: usize): v128 {
  const l = i16x8.extend_low_i8x16_u(q);
  const h = i16x8.extend_high_i8x16_u(q);
  const w0 = f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(l)), z);
  const w1 = f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(l)), z);
  const w2 = f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(h)), z);
  const w3 = f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(h)), z);
  const s01 = f32x4.add(f32x4.mul(w0, v128.load(xp)), f32x4.mul(w1, v128.load(xp, 16)));
  const s23 = f32x4.add(f32x4.mul(w2, v128.load(xp, 32)), f32x4.mul(w3, v128.load(xp, 48)));
  return f32x4.add(s01, s23);
}

// The value q of column c of a row whose packed bytes start at `row` (scalar decode).
// @ts-ignore: decorator
@inline function valueAt(row: usize, c: i32, bits: i32): u32 {
  const j = c & 31;
  const chunk = <usize>(c >> 5);
  if (bits == 8) return <u32>load<u8>(row + (chunk << 5) + <usize>j);
  if (bits == 4) {
    const b = <u32>load<u8>(row + (chunk << 4) + <usize>(j & 15));
    return j < 16 ? b & 15 : b >> 4;
  }
  const base = row + chunk * 12;
  const lo = (<u32>load<u8>(base + <usize>(j & 7)) >> (2 * (j >> 3))) & 3;
  const hi = (<u32>load<u8>(base + 8 + <usize>(j >> 3)) >> (j & 7)) & 1;
  return lo | (hi << 2);
}

// Bytes of one packed 32-weight chunk.
// @ts-ignore: decorator
@inline function chunkBytes(bits: i32): usize {
  return bits == 8 ? 32 : bits == 4 ? 16 : 12;
}

// The partial chunk at the end of a row (columns full * 32 .. cols - 1), scalar, in group `g`.
// @ts-ignore: decorator
@inline function tailSum(row: usize, x: usize, cols: i32, bits: i32, z: f32): f32 {
  let s: f32 = 0;
  for (let c = cols & ~31; c < cols; c++) s += (<f32>valueAt(row, c, bits) - z) * load<f32>(x + (<usize>c << 2));
  return s;
}

// Fast rows for 4-bit values: chunks of 32 inside one group each (cpg chunks per group).
function rows4(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, nG: i32, cpg: i32, r0: i32, r1: i32): void {
  const full = cols >> 5;
  const stride = <usize>((cols + 31) >> 5) << 4;
  for (let r = r0; r < r1; r++) {
    const row = values + <usize>r * stride;
    const sp = scales + ((<usize>r * <usize>nG) << 2);
    const zp = zeros + ((<usize>r * <usize>nG) << 2);
    let tot = f32x4.splat(0);
    let k = 0;
    for (let g = 0; g < nG; g++) {
      const z = f32x4.splat(load<f32>(zp + (<usize>g << 2)));
      const end = min(k + cpg, full);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      for (; k < end; k++) {
        const v = v128.load(row + (<usize>k << 4));
        const xp = x + (<usize>k << 7);
        a0 = f32x4.add(a0, dot16(unpack4first(v), z, xp));
        a1 = f32x4.add(a1, dot16(unpack4second(v), z, xp + 64));
      }
      tot = f32x4.add(tot, f32x4.mul(f32x4.add(a0, a1), f32x4.splat(load<f32>(sp + (<usize>g << 2)))));
    }
    let s = hsum(tot);
    if (cols & 31) {
      const last = <usize>(nG - 1) << 2;
      s += load<f32>(sp + last) * tailSum(row, x, cols, 4, load<f32>(zp + last));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Fast rows for 8-bit values.
function rows8(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, nG: i32, cpg: i32, r0: i32, r1: i32): void {
  const full = cols >> 5;
  const stride = <usize>((cols + 31) >> 5) << 5;
  for (let r = r0; r < r1; r++) {
    const row = values + <usize>r * stride;
    const sp = scales + ((<usize>r * <usize>nG) << 2);
    const zp = zeros + ((<usize>r * <usize>nG) << 2);
    let tot = f32x4.splat(0);
    let k = 0;
    for (let g = 0; g < nG; g++) {
      const z = f32x4.splat(load<f32>(zp + (<usize>g << 2)));
      const end = min(k + cpg, full);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      for (; k < end; k++) {
        const cp = row + (<usize>k << 5);
        const xp = x + (<usize>k << 7);
        a0 = f32x4.add(a0, dot16(v128.load(cp), z, xp));
        a1 = f32x4.add(a1, dot16(v128.load(cp, 16), z, xp + 64));
      }
      tot = f32x4.add(tot, f32x4.mul(f32x4.add(a0, a1), f32x4.splat(load<f32>(sp + (<usize>g << 2)))));
    }
    let s = hsum(tot);
    if (cols & 31) {
      const last = <usize>(nG - 1) << 2;
      s += load<f32>(sp + last) * tailSum(row, x, cols, 8, load<f32>(zp + last));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Fast rows for 3-bit values (indices by simd.ts's unpack3first / unpack3second).
function rows3(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, nG: i32, cpg: i32, r0: i32, r1: i32): void {
  const full = cols >> 5;
  const stride = <usize>((cols + 31) >> 5) * 12;
  for (let r = r0; r < r1; r++) {
    const row = values + <usize>r * stride;
    const sp = scales + ((<usize>r * <usize>nG) << 2);
    const zp = zeros + ((<usize>r * <usize>nG) << 2);
    let tot = f32x4.splat(0);
    let k = 0;
    for (let g = 0; g < nG; g++) {
      const z = f32x4.splat(load<f32>(zp + (<usize>g << 2)));
      const end = min(k + cpg, full);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      for (; k < end; k++) {
        const v = v128.load(row + <usize>k * 12);
        const xp = x + (<usize>k << 7);
        a0 = f32x4.add(a0, dot16(unpack3first(v), z, xp));
        a1 = f32x4.add(a1, dot16(unpack3second(v), z, xp + 64));
      }
      tot = f32x4.add(tot, f32x4.mul(f32x4.add(a0, a1), f32x4.splat(load<f32>(sp + (<usize>g << 2)))));
    }
    let s = hsum(tot);
    if (cols & 31) {
      const last = <usize>(nG - 1) << 2;
      s += load<f32>(sp + last) * tailSum(row, x, cols, 3, load<f32>(zp + last));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Any group size, any bits: weight by weight, one f32 sum per group.
function rowsScalar(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, gs: i32, nG: i32, bits: i32, r0: i32, r1: i32): void {
  const stride = <usize>((cols + 31) >> 5) * chunkBytes(bits);
  for (let r = r0; r < r1; r++) {
    const row = values + <usize>r * stride;
    const sp = scales + ((<usize>r * <usize>nG) << 2);
    const zp = zeros + ((<usize>r * <usize>nG) << 2);
    let s: f32 = 0;
    for (let g = 0; g < nG; g++) {
      const z = load<f32>(zp + (<usize>g << 2));
      const c1 = min(cols, (g + 1) * gs);
      let a: f32 = 0;
      for (let c = g * gs; c < c1; c++) a += (<f32>valueAt(row, c, bits) - z) * load<f32>(x + (<usize>c << 2));
      s += load<f32>(sp + (<usize>g << 2)) * a;
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// out[r] = sum_c scale[r, g(c)] * (q(r, c) - zero[r, g(c)]) * x[c] for r0 <= r < r1; bits 3, 4 or 8
// (anything else: nothing is written). Row stride of `values`: ceil(cols / 32) * 4 * bits bytes;
// scales and zeros f32 [rows, ceil(cols / min(groupSize, cols))].
export function matvecUniform(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, groupSize: i32, bits: i32, r0: i32, r1: i32): void {
  if (cols <= 0 || groupSize <= 0 || r1 <= r0) return;
  if (bits != 3 && bits != 4 && bits != 8) return;
  const gs = groupSize < cols ? groupSize : cols;
  const nG = (cols + gs - 1) / gs;
  if (gs == cols || (gs & 31) == 0) {
    // chunks per group; one group per row takes every chunk
    const cpg = gs == cols ? (cols >> 5) + 1 : gs >> 5;
    if (bits == 4) rows4(out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
    else if (bits == 8) rows8(out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
    else rows3(out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
  } else rowsScalar(out, scales, zeros, values, x, cols, gs, nG, bits, r0, r1);
}
