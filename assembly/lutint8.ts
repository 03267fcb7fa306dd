// The int8 fast path of the LUT products (opt-in, not exact; docs/KERNELS.md, "LUT products", has its
// error and speed). One source, two builds: with relaxed SIMD (build/kernels-relaxed.wasm,
// ASC_FEATURE_RELAXED_SIMD) a 32-weight group is two i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw), one
// i16 add and one widening i32x4.dot_i16x8_s against ones (pmaddwd); the plain SIMD build
// (build/kernels.wasm) widens both sides to i16 and uses i32x4.dot_i16x8_s. Both compute the same
// integers.
//
// - Table, once at load (src/backend/wasm/layout.ts lutInt8Table, ref.lutToUint7): each row's 8 or 16
//   entries as 7-bit integers t in [0, 127] with an f32 step and offset, entry = lo + step * t.
//   16 bytes per row (lanes 8..15 unused at 3 bits): one swizzle looks up 16 weights.
// - Activations, once per product (quantizeActivations): integers in [-64, 64] per block of 32 columns
//   (one packed group), scale = max|x| / 64, plus the sum S = sum_b scale_b * sum_{c in b} q[c] (f32).
//   64, not 127: a pair of products is then at most 2 * 127 * 64 = 16256, so the two halves of a
//   group add in i16 without overflow and the group needs one widening instead of two (V8 11.3, Node
//   20, lowers each relaxed dot to pmaddubsw and each widening to pmaddwd: no VNNI). Measured ×1.36
//   faster than widening each half (docs/KERNELS.md, "LUT products"), for an activation step twice as
//   coarse.
// - Row r: out[r] = step_r * sum_b scale_b * sum_{c in b} t[idx(r, c)] * q[c] + lo_r * S. The block
//   sums are exact i32 (at most 32 * 127 * 64 < 2^24, so their conversion to f32 is exact too); each
//   is scaled into an f32x4 accumulator. The relaxed dot needs its second operand below 128: that is
//   why the table is 7-bit and offset rather than signed int8.
//
// A row's result does not depend on which rows it is computed with (two at a time at 3 bits), and the
// batched kernel (lutgemm.ts) computes each vector's outputs with the same operations in the same
// order, so a batch gives every vector the bits of its own matvec (sqz ppl --fast scores what sqz run
// --fast runs). It imports the helpers below, the one decoder of the index layout.
import { planeEntry } from './lut';
import { groupBytes, hsum, nibbleMask, nibblesFirst, nibblesSecond } from './simd';
import { csrRowSum } from './sparse';

// Largest quantized activation (see above).
const Q_MAX: f32 = 64;
// i16 ones: i32x4.dot_i16x8_s with them adds lane pairs (loaded, not built: see simd.ts DECODE).
const ONES = memory.data<i16>([1, 1, 1, 1, 1, 1, 1, 1], 16);

// The lane constants of the decode and the dot products (the nibble mask, the 3-bit masks, the ones
// above) are loaded by the matvec once before its loops and handed down in locals: V8 (TurboFan,
// Node 20) moves neither a load nor a v128.const out of a loop, so each one used inside the loop was
// one more instruction per group (docs/KERNELS.md, "LUT products"). The helpers without "With" load
// them where they are used (the batched kernel's).
// @ts-ignore: decorator
@inline function onesI16(): v128 {
  // the plain build's dot32 takes no ones (a constant it drops, rather than a load it must keep)
  return ASC_FEATURE_RELAXED_SIMD ? v128.load(ONES) : i16x8.splat(1);
}
// log2 of the bytes per stored activation: int8 for the relaxed dot; the plain build stores the same
// values as int16, which i32x4.dot_i16x8_s takes as they are (no widening per row).
export const Q_SHIFT: i32 = ASC_FEATURE_RELAXED_SIMD ? 0 : 1;

// Groups of the activation record: whole blocks of 64 columns.
// @ts-ignore: decorator
@inline export function recordGroups(cols: i32): i32 {
  return ((cols + 63) >> 6) << 1;
}

// Bytes of the activation record for `cols` columns: the values of whole blocks of 64 columns (two
// groups; 0 past cols; int8, or int16 in the plain build), one f32 scale per group (0 for a group
// past cols), then the f32 sum S.
export function activationBytes(cols: i32): usize {
  const groups = <usize>recordGroups(cols);
  return (groups << (5 + Q_SHIFT)) + (groups << 2) + 4;
}

// xq (activationBytes(cols) bytes) = x quantized (see the top of this file): per group of 32 columns,
// scale = max|x| / 64 and q[c] = nearest(x[c] / scale) (0 for a group of zeros, and past cols).
export function quantizeActivations(xq: usize, x: usize, cols: i32): void {
  const groups = recordGroups(cols);
  const scales = xq + (<usize>groups << (5 + Q_SHIFT));
  let sum: f32 = 0;
  for (let g = 0; g < groups; g++) {
    const c0 = g << 5;
    const xp = x + (<usize>c0 << 2);
    const qp = xq + (<usize>c0 << Q_SHIFT);
    let m: f32 = 0;
    let total: i32 = 0;
    if (cols - c0 >= 32) {
      let m4 = f32x4.abs(v128.load(xp));
      for (let o: usize = 16; o < 128; o += 16) m4 = f32x4.max(m4, f32x4.abs(v128.load(xp + o)));
      m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
      const iv = f32x4.splat(m > 0 ? Q_MAX / m : 0);
      let t4 = i32x4.splat(0);
      for (let o: usize = 0; o < 128; o += 64) {
        const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xp + o), iv)));
        const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xp + o, 16), iv)));
        const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xp + o, 32), iv)));
        const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xp + o, 48), iv)));
        t4 = i32x4.add(t4, i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
        if (ASC_FEATURE_RELAXED_SIMD) v128.store(qp + (o >> 2), i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
        else {
          v128.store(qp + (o >> 1), i16x8.narrow_i32x4_s(a, b));
          v128.store(qp + (o >> 1), i16x8.narrow_i32x4_s(c, d), 16);
        }
      }
      total = i32x4.extract_lane(t4, 0) + i32x4.extract_lane(t4, 1) + i32x4.extract_lane(t4, 2) + i32x4.extract_lane(t4, 3);
    } else {
      // the partial last group, weight by weight, zeros to its end
      for (let c = c0; c < cols; c++) m = max(m, abs(load<f32>(x + (<usize>c << 2))));
      const inv: f32 = m > 0 ? Q_MAX / m : 0;
      for (let j = 0; j < 32; j++) {
        const c = c0 + j;
        const q = c < cols ? <i32>nearest(load<f32>(x + (<usize>c << 2)) * inv) : 0;
        if (ASC_FEATURE_RELAXED_SIMD) store<i8>(qp + <usize>j, <i8>q);
        else store<i16>(qp + (<usize>j << 1), <i16>q);
        total += q;
      }
    }
    const scale = m / Q_MAX;
    store<f32>(scales + (<usize>g << 2), scale);
    sum += <f32>total * scale;
  }
  store<f32>(scales + (<usize>groups << 2), sum);
}

// i32x4 partial sums of the 32 products of one group: the activations at xp (x in [-64, 64]) with
// the table values w0 (weights 0..15) and w1 (16..31), in [0, 127]; the four lanes add up to the dot.
// @ts-ignore: decorator
@inline export function dot32(xp: usize, w0: v128, w1: v128): v128 {
  return dot32With(xp, w0, w1, onesI16());
}
// @ts-ignore: decorator
@inline function dot32With(xp: usize, w0: v128, w1: v128, ones: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.dot_i16x8_s(i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xp), w0), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xp, 16), w1)), ones);
  }
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(w0), v128.load(xp)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(w0), v128.load(xp, 16))),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(w1), v128.load(xp, 32)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(w1), v128.load(xp, 48))),
  );
}

// 16 table entries by index (every index is below 16, so the relaxed swizzle is exact: one pshufb
// instead of the saturating add and pshufb of i8x16.swizzle).
// @ts-ignore: decorator
@inline function lookup(t: v128, k: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(t, k);
  return i8x16.swizzle(t, k);
}

// acc + f32(sum) * scale (fused where the relaxed build can).
// @ts-ignore: decorator
@inline export function addBlock(acc: v128, sum: v128, scale: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(f32x4.convert_i32x4_s(sum), scale, acc);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(sum), scale));
}

// Indices:
// - 4 bits: the format's layout, group by group (the record's pad group is never read).
// - 3 bits: repacked at load (layout.ts int8Indices), 24 bytes per 64-weight block, rows padded to
//   whole blocks, k(i) the index of the block's weight i:
//   bytes 0..15:  byte j = k(j) | k(16 + j) << 3 | (k(32 + j) >> 1) << 6;
//   bytes 16..23: byte i = n(2i) | n(2i + 1) << 4, nibble n(l) = (k(32 + l) & 1) | k(48 + l) << 1.
//   With A the first 16 bytes and N the nibbles spread one to a byte lane (N = the 8 bytes interleaved
//   with themselves shifted right by 4: one psrlw and one punpcklbw), weights 0..15 are A & 7,
//   16..31 (A >> 3) & 7, 32..47 ((A >> 5) & 6) | (N & 1), 48..63 (N >> 1) & 7 (16-bit shifts: what a
//   byte takes from its neighbour lands above the mask). 11 instructions per 64 weights, and the
//   table in its natural order. The layout before (2-bit fields and a bit mask per high bit, against
//   a permuted table) took 20; the format's 3-bit layout 34.
const BLOCK_BYTES3: usize = 24;
const SEVENS = memory.data<u8>([7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7], 16);
const SIXES = memory.data<u8>([6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6], 16);
const ONES8 = memory.data<u8>([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 16);

// The nibbles of the 3-bit block at bp, one to a byte lane (lane l holds n(l) in bits 0..3).
// @ts-ignore: decorator
@inline function nibbles3(bp: usize): v128 {
  const h = v128.load64_zero(bp, 16);
  return i8x16.shuffle(h, i16x8.shr_u(h, 4), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

// The indices of weights 16m..16m+15 of the 3-bit block whose first 16 bytes are a and nibbles n
// (nibbles3), the masks given: sevens, sixes, ones (SEVENS, SIXES, ONES8).
// @ts-ignore: decorator
@inline function key3With(a: v128, n: v128, m: i32, sevens: v128, sixes: v128, ones: v128): v128 {
  if (m == 0) return v128.and(a, sevens);
  if (m == 1) return v128.and(i16x8.shr_u(a, 3), sevens);
  if (m == 2) return v128.or(v128.and(i16x8.shr_u(a, 5), sixes), v128.and(n, ones));
  return v128.and(i16x8.shr_u(n, 1), sevens);
}

// Bytes of one row's indices as the int8 kernels read them (4 bits: the format's; 3 bits: repacked).
// @ts-ignore: decorator
@inline export function rowStride(bits: i32, cols: i32): usize {
  if (bits == 4) return <usize>((cols + 31) >> 5) * groupBytes(4);
  return <usize>((cols + 63) >> 6) * BLOCK_BYTES3;
}

// The kernels step through a row in units: one 32-weight group at 4 bits (two blocks of 64 weights
// measured ×0.7 as fast: more vectors live at once), one 64-weight block at 3 bits.
// @ts-ignore: decorator
@inline export function unitWeights(bits: i32): i32 {
  return bits == 4 ? 32 : 64;
}

// Address of unit u of a row.
// @ts-ignore: decorator
@inline export function unitAt(bits: i32, row: usize, u: i32): usize {
  return row + <usize>u * (bits == 4 ? groupBytes(4) : BLOCK_BYTES3);
}

// Offset of unit u's activation values in the record, and of its first scale from the scales.
// @ts-ignore: decorator
@inline export function unitValues(bits: i32, u: i32): usize {
  return <usize>(u * unitWeights(bits)) << Q_SHIFT;
}
// @ts-ignore: decorator
@inline export function unitScales(bits: i32, u: i32): usize {
  return <usize>(u * unitWeights(bits)) >> 3;
}

// Table values of weights 16m..16m+15 of the unit at bp (m = 0, 1 at 4 bits; 0..3 at 3 bits), table
// t. The calls for one 3-bit block load the same bytes; the optimizer keeps one load of each
// (build/kernels*.wat).
// @ts-ignore: decorator
@inline export function unitLookup(bits: i32, t: v128, bp: usize, m: i32): v128 {
  const k0 = bits == 4 ? nibbleMask() : v128.load(SEVENS);
  return unitLookupWith(bits, t, bp, m, k0, bits == 4 ? k0 : v128.load(SIXES), bits == 4 ? k0 : v128.load(ONES8));
}
// The same with the masks given: k0 = nibbleMask() at 4 bits (k1, k2 unused); SEVENS, SIXES, ONES8 at 3.
// @ts-ignore: decorator
@inline function unitLookupWith(bits: i32, t: v128, bp: usize, m: i32, k0: v128, k1: v128, k2: v128): v128 {
  if (bits == 4) {
    const v = v128.load(bp);
    return lookup(t, m == 0 ? nibblesFirst(v, k0) : nibblesSecond(v, k0));
  }
  return lookup(t, key3With(v128.load(bp), nibbles3(bp), m, k0, k1, k2));
}

// The accumulator after the two groups of a block: table values w0..w3 (weights 0..15, ..., 48..63)
// against the activations of groups 2b and 2b + 1 (values at xp, scales at sp), each group scaled by
// its own scale.
// @ts-ignore: decorator
@inline function blockDot(acc: v128, w0: v128, w1: v128, w2: v128, w3: v128, xp: usize, sp: usize): v128 {
  return blockDotWith(acc, w0, w1, w2, w3, xp, sp, onesI16());
}
// @ts-ignore: decorator
@inline function blockDotWith(acc: v128, w0: v128, w1: v128, w2: v128, w3: v128, xp: usize, sp: usize, ones: v128): v128 {
  const a = addBlock(acc, dot32With(xp, w0, w1, ones), v128.load32_splat(sp));
  return addBlock(a, dot32With(xp + (32 << Q_SHIFT), w2, w3, ones), v128.load32_splat(sp, 4));
}

// One row's unit (indices at bp, table t) against one vector (values at xp, scales at sp), the
// constants given (k0..k2: unitLookupWith's).
// @ts-ignore: decorator
@inline function rowUnit(bits: i32, acc: v128, t: v128, bp: usize, xp: usize, sp: usize, k0: v128, k1: v128, k2: v128, ones: v128): v128 {
  const w0 = unitLookupWith(bits, t, bp, 0, k0, k1, k2);
  const w1 = unitLookupWith(bits, t, bp, 1, k0, k1, k2);
  if (bits == 4) return addBlock(acc, dot32With(xp, w0, w1, ones), v128.load32_splat(sp));
  return blockDotWith(acc, w0, w1, unitLookupWith(bits, t, bp, 2, k0, k1, k2), unitLookupWith(bits, t, bp, 3, k0, k1, k2), xp, sp, ones);
}

// A row's output from its accumulator: step * sum + lo * S (params: the row's step, lo).
// @ts-ignore: decorator
@inline export function finish(acc: v128, params: usize, sumS: f32): f32 {
  return hsum(acc) * load<f32>(params) + load<f32>(params, 4) * sumS;
}

// The sparse part of a matvec (CSR: rowPtr, colIdx, values; x the f32 input), added to each row in the
// row pass; rowPtr 0: none. The same bits as spmvCsrAdd after the dense pass (which the batched kernel
// takes), without a second pass over the rows.
// @ts-ignore: decorator
@inline function storeRow(o: usize, dense: f32, rowPtr: usize, colIdx: usize, values: usize, x: usize, r: i32): void {
  store<f32>(o, rowPtr == 0 ? dense : dense + csrRowSum(rowPtr, colIdx, values, x, r));
}

// out[r] for rows r0 <= r < r1 and one vector. Every row sums its units in order into one
// accumulator, as the batched kernel does (so a batch has the matvec's bits); how the loops are laid
// out only changes the instructions around that chain. Each loop steps three pointers (indices,
// activation values, scales) instead of computing the unit's addresses from its number, and keeps
// the lane constants in locals (above): 4-bit from ~32 instructions per 32-weight group to ~19 in
// V8's code (docs/KERNELS.md, "LUT products").
// - 4 bits: one row at a time (two rows measured no faster from memory), two groups per loop step
//   (one loop test and stack check per 64 weights; four per step measured slower).
// - 3 bits: two rows at a time sharing the activation loads (x1.13 over one before this layout of
//   the loops; about even after it), one 64-weight block per step.
// @ts-ignore: decorator
@inline function lutRowsInt8(bits: i32, out: usize, table: usize, params: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize): void {
  const groups = recordGroups(cols);
  const units = (cols + unitWeights(bits) - 1) / unitWeights(bits);
  const stride = rowStride(bits, cols);
  const xs = xq + (<usize>groups << (5 + Q_SHIFT));
  const sumS = load<f32>(xs + (<usize>groups << 2));
  const k0 = bits == 4 ? nibbleMask() : v128.load(SEVENS);
  const k1 = bits == 4 ? k0 : v128.load(SIXES);
  const k2 = bits == 4 ? k0 : v128.load(ONES8);
  const ones = onesI16();
  // one unit's step of the three pointers
  const bStep = unitAt(bits, 0, 1);
  const xStep = unitValues(bits, 1);
  const sStep = <usize>unitScales(bits, 1);
  let r = r0;
  if (bits == 3) {
    for (; r + 2 <= r1; r += 2) {
      const t0 = v128.load(table + (<usize>r << 4));
      const t1 = v128.load(table + (<usize>r << 4), 16);
      let bp = idx + <usize>r * stride;
      const end = bp + <usize>units * bStep;
      let xp = xq;
      let sp = xs;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      for (; bp < end; bp += bStep, xp += xStep, sp += sStep) {
        a0 = rowUnit(bits, a0, t0, bp, xp, sp, k0, k1, k2, ones);
        a1 = rowUnit(bits, a1, t1, bp + stride, xp, sp, k0, k1, k2, ones);
      }
      const pp = params + (<usize>r << 3);
      const o = out + (<usize>r << 2);
      storeRow(o, finish(a0, pp, sumS), rowPtr, colIdx, values, x, r);
      storeRow(o + 4, finish(a1, pp + 8, sumS), rowPtr, colIdx, values, x, r + 1);
    }
  }
  for (; r < r1; r++) {
    const t = v128.load(table + (<usize>r << 4));
    let bp = idx + <usize>r * stride;
    let xp = xq;
    let sp = xs;
    let acc = f32x4.splat(0);
    if (bits == 4) {
      const pairsEnd = bp + <usize>(units >> 1) * (bStep << 1);
      for (; bp < pairsEnd; bp += bStep << 1, xp += xStep << 1, sp += sStep << 1) {
        acc = rowUnit(bits, acc, t, bp, xp, sp, k0, k1, k2, ones);
        acc = rowUnit(bits, acc, t, bp + bStep, xp + xStep, sp + sStep, k0, k1, k2, ones);
      }
    }
    const end = idx + <usize>r * stride + <usize>units * bStep;
    for (; bp < end; bp += bStep, xp += xStep, sp += sStep) acc = rowUnit(bits, acc, t, bp, xp, sp, k0, k1, k2, ones);
    storeRow(out + (<usize>r << 2), finish(acc, params + (<usize>r << 3), sumS), rowPtr, colIdx, values, x, r);
  }
}

// The int8 fast path of matvecLut4: table [rows, 16] bytes (7-bit entries), params f32 [rows, 2]
// (step, lo), 4-bit packed indices, xq from quantizeActivations; rows r0 <= r < r1.
export function matvecLut4Int8(out: usize, table: usize, params: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32): void {
  lutRowsInt8(4, out, table, params, idx, xq, cols, r0, r1, 0, 0, 0, 0);
}

// The same with 3-bit packed indices (table lanes 8..15 unused).
export function matvecLut3Int8(out: usize, table: usize, params: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32): void {
  lutRowsInt8(3, out, table, params, idx, xq, cols, r0, r1, 0, 0, 0, 0);
}

// matvecLut4Int8 plus a sparse part (CSR rowPtr, colIdx i32, values f32, rowPtr non-zero) against the
// f32 input x, in the same row pass: the bits of matvecLut4Int8 then spmvCsrAdd.
export function matvecLut4Int8Sparse(out: usize, table: usize, params: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize): void {
  lutRowsInt8(4, out, table, params, idx, xq, cols, r0, r1, rowPtr, colIdx, values, x);
}

// The same with 3-bit packed indices.
export function matvecLut3Int8Sparse(out: usize, table: usize, params: usize, idx: usize, xq: usize, cols: i32, r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize): void {
  lutRowsInt8(3, out, table, params, idx, xq, cols, r0, r1, rowPtr, colIdx, values, x);
}

// Rows r0 <= r < r1 of a 3-bit matrix with its indices in the int8 kernels' layout (layout.ts
// int8Indices) as f32 into dst (row r at dst + (r - r0) * cols * 4), each weight exactly its entry of
// the byte planes: the embedding lookup on the fast path, which keeps only this copy of the indices.
// Weight by weight (one row per token).
export function dequantLut3Blocks(dst: usize, planes: usize, idx: usize, cols: i32, r0: i32, r1: i32): void {
  const stride = rowStride(3, cols);
  for (let r = r0; r < r1; r++) {
    const pl = planes + (<usize>r << 6);
    const row = idx + <usize>r * stride;
    const d = dst + <usize>(r - r0) * (<usize>cols << 2);
    for (let c = 0; c < cols; c++) {
      const bp = unitAt(3, row, c >> 6);
      const m = (c >> 4) & 3;
      const l = c & 15;
      const a = <u32>load<u8>(bp + <usize>l);
      const n = (<u32>load<u8>(bp + 16 + <usize>(l >> 1)) >> (4 * (l & 1))) & 15;
      const k = m == 0 ? a & 7 : m == 1 ? (a >> 3) & 7 : m == 2 ? ((a >> 6) << 1) | (n & 1) : n >> 1;
      store<f32>(d + (<usize>c << 2), planeEntry(pl, k));
    }
  }
}
