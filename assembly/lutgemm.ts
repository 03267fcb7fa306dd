// The int8 fast path of the LUT products on n > 1 vectors (a prompt's batch): matmulLut4Int8 /
// matmulLut3Int8. Each vector gets the bits of its own matvec (lutint8.ts matvecLut4Int8 / 3Int8), so
// sqz ppl --fast scores what sqz run --fast runs: a vector's row accumulator takes the same blocks
// (addBlock of dot32) in the same order and ends in the same finish. The decode of the index layout
// and those operations are lutint8.ts's own (imported, not copied); only the tiling is this file's.
//
// Tiling: a row's unit (one 32-weight group at 4 bits, a 64-weight block at 3 bits) is decoded once
// into registers (the table lookups) and used for a tile of vectors before the next unit, so the
// decode is paid once per tile instead of once per vector. The arithmetic per vector and unit
// (two relaxed dots, an i16 add, the widening dot, the conversion, the scaled add) is fixed by the
// bits the matvec gives; the tile only removes the decode and loop work around it
// (docs/PERFORMANCE.md, "The prompt").
import { addBlock, dot32, finish, recordGroups, rowStride, unitAt, unitLookup, unitScales, unitValues, unitWeights, Q_SHIFT } from './lutint8';

// Vectors per decoded unit: 8 at 3 bits, whose 64-weight blocks cost more to decode (measured
// x1.1-1.2 faster than 4), 4 at 4 bits (8 measured no faster: docs/PERFORMANCE.md, "The prompt").
// @ts-ignore: decorator
@inline function tile(bits: i32): i32 {
  return bits == 4 ? 4 : 8;
}

// The accumulator of one vector after one unit: table values w0..w3 (w2, w3 unused at 4 bits)
// against the vector's activations at xp (values) and xs (scales), as the matvec's rowUnit.
// @ts-ignore: decorator
@inline function unitDot(bits: i32, acc: v128, w0: v128, w1: v128, w2: v128, w3: v128, xp: usize, sp: usize): v128 {
  const a = addBlock(acc, dot32(xp, w0, w1), v128.load32_splat(sp));
  if (bits == 4) return a;
  return addBlock(a, dot32(xp + (32 << Q_SHIFT), w2, w3), v128.load32_splat(sp, 4));
}

// Row r's outputs for m vectors of the batch (1 <= m <= width; width 8 or 4, a constant at each
// call), vector i at x + i * xqStride, its output at o + i * oStride. The places past m take vector
// m - 1 again (the same bits stored twice); at width 4 the accumulators a4..a7 fold away.
// @ts-ignore: decorator
@inline function rowTile(bits: i32, width: i32, o: usize, oStride: usize, t: v128, row: usize, pp: usize, x: usize, xqStride: usize, m: i32, units: i32, xs: usize, sumAt: usize): void {
  const last = m - 1;
  const x0 = x;
  const x1 = x + <usize>min(1, last) * xqStride;
  const x2 = x + <usize>min(2, last) * xqStride;
  const x3 = x + <usize>min(3, last) * xqStride;
  const x4 = width == 8 ? x + <usize>min(4, last) * xqStride : x3;
  const x5 = width == 8 ? x + <usize>min(5, last) * xqStride : x3;
  const x6 = width == 8 ? x + <usize>min(6, last) * xqStride : x3;
  const x7 = width == 8 ? x + <usize>min(7, last) * xqStride : x3;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  let a6 = f32x4.splat(0);
  let a7 = f32x4.splat(0);
  for (let u = 0; u < units; u++) {
    const bp = unitAt(bits, row, u);
    const w0 = unitLookup(bits, t, bp, 0);
    const w1 = unitLookup(bits, t, bp, 1);
    const w2 = bits == 4 ? w0 : unitLookup(bits, t, bp, 2);
    const w3 = bits == 4 ? w1 : unitLookup(bits, t, bp, 3);
    const xo = unitValues(bits, u);
    const so = xs + unitScales(bits, u);
    a0 = unitDot(bits, a0, w0, w1, w2, w3, x0 + xo, x0 + so);
    a1 = unitDot(bits, a1, w0, w1, w2, w3, x1 + xo, x1 + so);
    a2 = unitDot(bits, a2, w0, w1, w2, w3, x2 + xo, x2 + so);
    a3 = unitDot(bits, a3, w0, w1, w2, w3, x3 + xo, x3 + so);
    if (width == 8) {
      a4 = unitDot(bits, a4, w0, w1, w2, w3, x4 + xo, x4 + so);
      a5 = unitDot(bits, a5, w0, w1, w2, w3, x5 + xo, x5 + so);
      a6 = unitDot(bits, a6, w0, w1, w2, w3, x6 + xo, x6 + so);
      a7 = unitDot(bits, a7, w0, w1, w2, w3, x7 + xo, x7 + so);
    }
  }
  store<f32>(o, finish(a0, pp, load<f32>(x0 + sumAt)));
  store<f32>(o + <usize>min(1, last) * oStride, finish(a1, pp, load<f32>(x1 + sumAt)));
  store<f32>(o + <usize>min(2, last) * oStride, finish(a2, pp, load<f32>(x2 + sumAt)));
  store<f32>(o + <usize>min(3, last) * oStride, finish(a3, pp, load<f32>(x3 + sumAt)));
  if (width == 8) {
    store<f32>(o + <usize>min(4, last) * oStride, finish(a4, pp, load<f32>(x4 + sumAt)));
    store<f32>(o + <usize>min(5, last) * oStride, finish(a5, pp, load<f32>(x5 + sumAt)));
    store<f32>(o + <usize>min(6, last) * oStride, finish(a6, pp, load<f32>(x6 + sumAt)));
    store<f32>(o + <usize>min(7, last) * oStride, finish(a7, pp, load<f32>(x7 + sumAt)));
  }
}

// The int8 matvec on n vectors (xq: n activation records xqStride bytes apart; out [n, rows]) for rows
// r0 <= r < r1: row by row, tile(bits) vectors per decoded unit, the rest four at a time.
// @ts-ignore: decorator
@inline function lutMatmulInt8(bits: i32, out: usize, table: usize, params: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32): void {
  const groups = recordGroups(cols);
  const units = (cols + unitWeights(bits) - 1) / unitWeights(bits);
  const stride = rowStride(bits, cols);
  const xs = <usize>groups << (5 + Q_SHIFT);
  const sumAt = xs + (<usize>groups << 2);
  const oStride = <usize>rows << 2;
  const full = tile(bits) == 8 ? n - n % 8 : 0;
  for (let r = r0; r < r1; r++) {
    const t = v128.load(table + (<usize>r << 4));
    const row = idx + <usize>r * stride;
    const pp = params + (<usize>r << 3);
    const o = out + (<usize>r << 2);
    let i = 0;
    for (; i < full; i += 8) rowTile(bits, 8, o + <usize>i * oStride, oStride, t, row, pp, xq + <usize>i * xqStride, xqStride, 8, units, xs, sumAt);
    for (; i < n; i += 4) rowTile(bits, 4, o + <usize>i * oStride, oStride, t, row, pp, xq + <usize>i * xqStride, xqStride, n - i, units, xs, sumAt);
  }
}

// matvecLut4Int8 on n vectors, bit for bit: xq holds n quantizeActivations records xqStride bytes
// apart, out [n, rows], rows r0 <= r < r1 of every vector.
export function matmulLut4Int8(out: usize, table: usize, params: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32): void {
  lutMatmulInt8(4, out, table, params, idx, xq, xqStride, rows, cols, n, r0, r1);
}

// The same with 3-bit packed indices.
export function matmulLut3Int8(out: usize, table: usize, params: usize, idx: usize, xq: usize, xqStride: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32): void {
  lutMatmulInt8(3, out, table, params, idx, xq, xqStride, rows, cols, n, r0, r1);
}
