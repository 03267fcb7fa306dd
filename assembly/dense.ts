// Dense f32 kernels. Pointers are byte offsets into the host-managed linear memory;
// matrices are row-major [rows, cols], one row per output.

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
