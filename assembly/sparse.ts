// Sparse kernels: the SqueezeLLM sparse part (outliers and sensitive weights kept in f32, CSR).

// out[r] += sum_{k = rowPtr[r]}^{rowPtr[r+1]-1} values[k] * x[colIdx[k]] for r0 <= r < r1; rowPtr
// and colIdx are i32, values f32. Scalar (gathers), two accumulators.
export function spmvCsrAdd(out: usize, rowPtr: usize, colIdx: usize, values: usize, x: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const k0 = load<i32>(rowPtr + (<usize>r << 2));
    const k1 = load<i32>(rowPtr + (<usize>r << 2), 4);
    let s0: f32 = 0;
    let s1: f32 = 0;
    let k = k0;
    for (; k + 2 <= k1; k += 2) {
      const o = <usize>k << 2;
      s0 += load<f32>(values + o) * load<f32>(x + (<usize>load<i32>(colIdx + o) << 2));
      s1 += load<f32>(values + o, 4) * load<f32>(x + (<usize>load<i32>(colIdx + o, 4) << 2));
    }
    if (k < k1) {
      const o = <usize>k << 2;
      s0 += load<f32>(values + o) * load<f32>(x + (<usize>load<i32>(colIdx + o) << 2));
    }
    const po = out + (<usize>r << 2);
    store<f32>(po, load<f32>(po) + (s0 + s1));
  }
}
