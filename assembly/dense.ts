// Dense f32 kernels. Pointers are byte offsets into the host-managed linear memory;
// matrices are row-major [rows, cols], one row per output.
import { dot, hsum } from './simd';

// out[r] = sum_c w[r, c] * x[c] for r0 <= r < r1.
export function matvecF32(out: usize, w: usize, x: usize, cols: i32, r0: i32, r1: i32): void {
  const vecEnd = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const row = w + <usize>r * <usize>cols * 4;
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < vecEnd; c += 4) {
      acc = f32x4.add(acc, f32x4.mul(v128.load(row + (<usize>c << 2)), v128.load(x + (<usize>c << 2))));
    }
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; c < cols; c++) s += load<f32>(row + (<usize>c << 2)) * load<f32>(x + (<usize>c << 2));
    store<f32>(out + (<usize>r << 2), s);
  }
}

// Rows of a cache tile over `cols` columns: about 128 KiB of f32 weights, at least 4 (all rows when
// cols is 0).
// @ts-ignore: decorator
@inline export function tileRows(cols: i32): i32 {
  return cols > 0 ? max(4, 32768 / cols) : i32.MAX_VALUE;
}

// Bytes of scratch the quantized matmuls (lut.ts, uniform.ts) need for `cols` columns: one tile of
// decoded f32 rows.
export function matmulScratchBytes(cols: i32): usize {
  return cols > 0 ? <usize>tileRows(cols) * <usize>cols * 4 : 0;
}

// out[i * oStride + r * 4] = sum_c w[r, c] * x[i, c] for the m rows of one tile (row r at
// w + r * cols * 4) and n activation vectors (x[i, :] at x + i * cols * 4). Register-blocked: each
// 4-float chunk of a weight row is loaded once and multiplied into four activation vectors at a
// time (four accumulators), then one vector at a time for n % 4.
// @ts-ignore: decorator
@inline export function matmulTile(out: usize, oStride: usize, w: usize, m: i32, x: usize, cols: i32, n: i32): void {
  const stride = <usize>cols << 2;
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const xi = x + <usize>i * stride;
    const oi = out + <usize>i * oStride;
    for (let r = 0; r < m; r++) dot4(oi + (<usize>r << 2), oStride, w + <usize>r * stride, xi, stride, cols);
  }
  for (; i < n; i++) {
    const xi = x + <usize>i * stride;
    const oi = out + <usize>i * oStride;
    for (let r = 0; r < m; r++) store<f32>(oi + (<usize>r << 2), dot(w + <usize>r * stride, xi, cols));
  }
}

// out[i * rows + r] = sum_c w[r, c] * x[i, c] for every row r and every one of the n activation
// vectors i; x is [n, cols], out is [n, rows]. Cache-blocked over rows: a tile of weight rows
// (tileRows) meets every block of four activation vectors (matmulTile) before the next tile is
// touched, so each weight byte comes from DRAM once.
export function matmulF32(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32): void {
  const stride = <usize>cols << 2;
  const tile = tileRows(cols);
  for (let t0 = 0; t0 < rows; t0 += tile) {
    matmulTile(out + (<usize>t0 << 2), <usize>rows << 2, w + <usize>t0 * stride, min(rows - t0, tile), x, cols, n);
  }
}

// Dots one weight row with the four vectors at x0, x0 + xStride, ...; stores at o, o + oStride, ...
// @ts-ignore: decorator
@inline function dot4(o: usize, oStride: usize, row: usize, x0: usize, xStride: usize, cols: i32): void {
  const vecEnd = cols & ~3;
  const x1 = x0 + xStride;
  const x2 = x1 + xStride;
  const x3 = x2 + xStride;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let c = 0;
  for (; c < vecEnd; c += 4) {
    const off = <usize>c << 2;
    const wv = v128.load(row + off);
    a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x0 + off)));
    a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(x1 + off)));
    a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(x2 + off)));
    a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(x3 + off)));
  }
  let s0 = hsum(a0);
  let s1 = hsum(a1);
  let s2 = hsum(a2);
  let s3 = hsum(a3);
  for (; c < cols; c++) {
    const off = <usize>c << 2;
    const wc = load<f32>(row + off);
    s0 += wc * load<f32>(x0 + off);
    s1 += wc * load<f32>(x1 + off);
    s2 += wc * load<f32>(x2 + off);
    s3 += wc * load<f32>(x3 + off);
  }
  store<f32>(o, s0);
  store<f32>(o + oStride, s1);
  store<f32>(o + 2 * oStride, s2);
  store<f32>(o + 3 * oStride, s3);
}
