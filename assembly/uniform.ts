// Uniform (RTN / GPTQ / AWQ) matvec and matmul: row r's weight at column c is
//   w[r, c] = scale[r, g] * (q(r, c) - zero[r, g]),  g = floor(c / gs),  gs = min(groupSize, cols),
// with q packed in groups of 32 as in src/format/packing.ts (3, 4 or 8 bits; docs/FORMAT.md) and
// scales, zeros f32 [rows, nGroups], nGroups = ceil(cols / gs).
//
// matvec: out[r] = sum_g scale[r, g] * sum_{c in g} (q(r, c) - zero[r, g]) * x[c]. The inner sums
// take 16 weights at a time: the 16 values in byte lanes (simd.ts's shared decoder, as for the LUT
// kernels) are widened u8 -> u16 -> u32, converted to f32, the group's zero subtracted (exact when
// the zero is an integer, as every quantizer here writes it), multiplied with x and summed into a
// per-group f32x4 accumulator; each group's accumulator is then scaled once and added to the row
// total. Subtracting the zero per weight (instead of scale * (sum q x - zero * sum x)) keeps the
// sums as well conditioned as a plain f32 dot product.
//
// matmul: a tile of rows is dequantized once to (q - zero) * scale, the f32 weights, into the
// caller's scratch, and multiplied with all n vectors by the dense register-blocked matmul.
//
// Whole 32-weight chunks go this way when every chunk lies inside one group (gs a multiple of 32,
// or one group per row). The row's last partial chunk (cols % 32 != 0) is decoded weight by weight
// so x is never read past cols. Any other group size takes a scalar path (correct, slower).
// A 3-bit chunk is 12 bytes but is loaded as one v128: the kernel reads up to 4 bytes past the last
// chunk (the host leaves 16 bytes of slack after every block).
import { matmulTile, tileRows } from './dense';
import { dot16, groupBytes, hsum, indicesFirst, indicesSecond, packedAt } from './simd';

// Values 4j..4j+3 (j constant) of the 16 in q's byte lanes, as f32, minus z.
// @ts-ignore: decorator
@inline function lanes4(q: v128, j: i32, z: v128): v128 {
  const h = j < 2 ? i16x8.extend_low_i8x16_u(q) : i16x8.extend_high_i8x16_u(q);
  const w = (j & 1) == 0 ? i32x4.extend_low_i16x8_u(h) : i32x4.extend_high_i16x8_u(h);
  return f32x4.sub(f32x4.convert_i32x4_s(w), z);
}

// sum over 16 weights (as 4 lanes) of (q[j] - z) * x[j], q in the 16 byte lanes of `q`.
// @ts-ignore: decorator
@inline function zeroDot(q: v128, z: v128, xp: usize): v128 {
  return dot16(lanes4(q, 0, z), lanes4(q, 1, z), lanes4(q, 2, z), lanes4(q, 3, z), xp);
}

// Where row r's values, scales and zeros start.
// @ts-ignore: decorator
@inline function rowValues(values: usize, r: i32, bits: i32, cols: i32): usize {
  return values + <usize>r * <usize>((cols + 31) >> 5) * groupBytes(bits);
}
// @ts-ignore: decorator
@inline function rowParams(params: usize, r: i32, nG: i32): usize {
  return params + ((<usize>r * <usize>nG) << 2);
}

// The partial chunk at the end of a row (columns full * 32 .. cols - 1), scalar, in group `g`.
// @ts-ignore: decorator
@inline function tailSum(row: usize, x: usize, cols: i32, bits: i32, z: f32): f32 {
  let s: f32 = 0;
  for (let c = cols & ~31; c < cols; c++) s += (<f32>packedAt(row, c, bits) - z) * load<f32>(x + (<usize>c << 2));
  return s;
}

// Fast rows (chunks of 32 inside one group each, cpg chunks per group), one vector.
// @ts-ignore: decorator
@inline function fastRows(bits: i32, out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, nG: i32, cpg: i32, r0: i32, r1: i32): void {
  const full = cols >> 5;
  const gb = groupBytes(bits);
  for (let r = r0; r < r1; r++) {
    const row = rowValues(values, r, bits, cols);
    const sp = rowParams(scales, r, nG);
    const zp = rowParams(zeros, r, nG);
    let tot = f32x4.splat(0);
    let k = 0;
    for (let g = 0; g < nG; g++) {
      const z = f32x4.splat(load<f32>(zp + (<usize>g << 2)));
      const end = min(k + cpg, full);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      for (; k < end; k++) {
        const cp = row + <usize>k * gb;
        const v = v128.load(cp);
        const xp = x + (<usize>k << 7);
        a0 = f32x4.add(a0, zeroDot(indicesFirst(bits, v), z, xp));
        a1 = f32x4.add(a1, zeroDot(indicesSecond(bits, v, cp), z, xp + 64));
      }
      tot = f32x4.add(tot, f32x4.mul(f32x4.add(a0, a1), f32x4.splat(load<f32>(sp + (<usize>g << 2)))));
    }
    let s = hsum(tot);
    if (cols & 31) {
      const last = <usize>(nG - 1) << 2;
      s += load<f32>(sp + last) * tailSum(row, x, cols, bits, load<f32>(zp + last));
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Columns c0 <= c < c1 of one row (packed values at `row`, scales at sp, zeros at zp) dequantized
// weight by weight into d, group width gs.
// @ts-ignore: decorator
@inline function dequantScalar(d: usize, row: usize, sp: usize, zp: usize, c0: i32, c1: i32, gs: i32, bits: i32): void {
  for (let c = c0; c < c1; c++) {
    const g = <usize>(c / gs) << 2;
    store<f32>(d + (<usize>c << 2), (<f32>packedAt(row, c, bits) - load<f32>(zp + g)) * load<f32>(sp + g));
  }
}

// Rows t0 <= r < t1 dequantized to f32, (q - zero) * scale, into dst (cols floats per row). With
// chunks inside groups (cpg > 0) 16 values at a time and the row's partial last chunk weight by
// weight; otherwise all weight by weight.
// @ts-ignore: decorator
@inline function dequantRows(bits: i32, dst: usize, scales: usize, zeros: usize, values: usize, cols: i32, gs: i32, nG: i32, cpg: i32, t0: i32, t1: i32): void {
  const full = cpg > 0 ? cols >> 5 : 0;
  const gb = groupBytes(bits);
  for (let r = t0; r < t1; r++) {
    const row = rowValues(values, r, bits, cols);
    const sp = rowParams(scales, r, nG);
    const zp = rowParams(zeros, r, nG);
    const d = dst + <usize>(r - t0) * (<usize>cols << 2);
    let k = 0;
    for (let g = 0; k < full; g++) {
      const z = f32x4.splat(load<f32>(zp + (<usize>g << 2)));
      const sc = f32x4.splat(load<f32>(sp + (<usize>g << 2)));
      const end = min(k + cpg, full);
      for (; k < end; k++) {
        const cp = row + <usize>k * gb;
        const v = v128.load(cp);
        const dp = d + (<usize>k << 7);
        let q = indicesFirst(bits, v);
        v128.store(dp, f32x4.mul(lanes4(q, 0, z), sc));
        v128.store(dp, f32x4.mul(lanes4(q, 1, z), sc), 16);
        v128.store(dp, f32x4.mul(lanes4(q, 2, z), sc), 32);
        v128.store(dp, f32x4.mul(lanes4(q, 3, z), sc), 48);
        q = indicesSecond(bits, v, cp);
        v128.store(dp, f32x4.mul(lanes4(q, 0, z), sc), 64);
        v128.store(dp, f32x4.mul(lanes4(q, 1, z), sc), 80);
        v128.store(dp, f32x4.mul(lanes4(q, 2, z), sc), 96);
        v128.store(dp, f32x4.mul(lanes4(q, 3, z), sc), 112);
      }
    }
    dequantScalar(d, row, sp, zp, full << 5, cols, gs, bits);
  }
}

// Any group size, any bits: weight by weight, one f32 sum per group.
function rowsScalar(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, gs: i32, nG: i32, bits: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const row = rowValues(values, r, bits, cols);
    const sp = rowParams(scales, r, nG);
    const zp = rowParams(zeros, r, nG);
    let s: f32 = 0;
    for (let g = 0; g < nG; g++) {
      const z = load<f32>(zp + (<usize>g << 2));
      const c1 = min(cols, (g + 1) * gs);
      let a: f32 = 0;
      for (let c = g * gs; c < c1; c++) a += (<f32>packedAt(row, c, bits) - z) * load<f32>(x + (<usize>c << 2));
      s += load<f32>(sp + (<usize>g << 2)) * a;
    }
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Group width actually used (groupSize, or cols when larger).
// @ts-ignore: decorator
@inline function groupWidth(groupSize: i32, cols: i32): i32 {
  return groupSize < cols ? groupSize : cols;
}

// Chunks of 32 per group when every chunk lies inside one group (one group per row takes every
// chunk), or 0 when the group size needs the scalar path.
// @ts-ignore: decorator
@inline function chunksPerGroup(gs: i32, cols: i32): i32 {
  if (gs == cols) return (cols >> 5) + 1;
  return (gs & 31) == 0 ? gs >> 5 : 0;
}

// out[r] = sum_c scale[r, g(c)] * (q(r, c) - zero[r, g(c)]) * x[c] for r0 <= r < r1; bits 3, 4 or 8
// (anything else: nothing is written). Row stride of `values`: ceil(cols / 32) * 4 * bits bytes;
// scales and zeros f32 [rows, ceil(cols / min(groupSize, cols))].
export function matvecUniform(out: usize, scales: usize, zeros: usize, values: usize, x: usize, cols: i32, groupSize: i32, bits: i32, r0: i32, r1: i32): void {
  if (cols <= 0 || groupSize <= 0 || r1 <= r0) return;
  if (bits != 3 && bits != 4 && bits != 8) return;
  const gs = groupWidth(groupSize, cols);
  const nG = (cols + gs - 1) / gs;
  const cpg = chunksPerGroup(gs, cols);
  if (cpg == 0) rowsScalar(out, scales, zeros, values, x, cols, gs, nG, bits, r0, r1);
  else if (bits == 4) fastRows(4, out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
  else if (bits == 8) fastRows(8, out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
  else fastRows(3, out, scales, zeros, values, x, cols, nG, cpg, r0, r1);
}

// matvecUniform for n vectors: out [n, rows], x [n, cols], rows r0 <= r < r1 of every vector;
// scratch: matmulScratchBytes(cols) bytes of this thread's own. Tile by tile (dense.ts's tileRows),
// the rows are dequantized once into scratch and multiplied with all n vectors by the dense
// matmulTile, for every group size.
export function matmulUniform(out: usize, scales: usize, zeros: usize, values: usize, x: usize, rows: i32, cols: i32, n: i32, groupSize: i32, bits: i32, r0: i32, r1: i32, scratch: usize): void {
  if (cols <= 0 || groupSize <= 0 || r1 <= r0) return;
  if (bits != 3 && bits != 4 && bits != 8) return;
  const tile = tileRows(cols);
  for (let t0 = r0; t0 < r1; t0 += tile) {
    const t1 = min(r1, t0 + tile);
    dequantUniform(scratch, scales, zeros, values, cols, groupSize, bits, t0, t1);
    matmulTile(out + (<usize>t0 << 2), <usize>rows << 2, scratch, t1 - t0, x, cols, n);
  }
}

// Rows r0 <= r < r1 dequantized to f32, (q - zero) * scale, into dst (cols floats per row, row r at
// dst + (r - r0) * cols * 4): a tile for matmulUniform, or the embedding lookup of a uniform matrix.
// Bits other than 3, 4 and 8 write nothing.
export function dequantUniform(dst: usize, scales: usize, zeros: usize, values: usize, cols: i32, groupSize: i32, bits: i32, r0: i32, r1: i32): void {
  if (cols <= 0 || groupSize <= 0 || r1 <= r0) return;
  const gs = groupWidth(groupSize, cols);
  const nG = (cols + gs - 1) / gs;
  const cpg = chunksPerGroup(gs, cols);
  if (bits == 4) dequantRows(4, dst, scales, zeros, values, cols, gs, nG, cpg, r0, r1);
  else if (bits == 8) dequantRows(8, dst, scales, zeros, values, cols, gs, nG, cpg, r0, r1);
  else if (bits == 3) dequantRows(3, dst, scales, zeros, values, cols, gs, nG, cpg, r0, r1);
}
