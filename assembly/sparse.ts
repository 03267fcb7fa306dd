// Sparse kernels: the SqueezeLLM sparse part (outliers and sensitive weights kept in f32, CSR).

// out[r] += sum_{k = rowPtr[r]}^{rowPtr[r+1]-1} values[k] * x[colIdx[k]] for r0 <= r < r1; rowPtr
// and colIdx are i32, values f32.
export function spmvCsrAdd(out: usize, rowPtr: usize, colIdx: usize, values: usize, x: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const po = out + (<usize>r << 2);
    store<f32>(po, load<f32>(po) + csrRowSum(rowPtr, colIdx, values, x, r));
  }
}

// Row r's sparse sum: scalar (gathers), entries alternately into two accumulators, an odd last one
// into the first. The int8 LUT matvec adds it to its row in the same pass (lutint8.ts): the same bits
// as spmvCsrAdd after it.
// @ts-ignore: decorator
@inline export function csrRowSum(rowPtr: usize, colIdx: usize, values: usize, x: usize, r: i32): f32 {
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
  return s0 + s1;
}

// spmvCsrAdd for n vectors: out[i * rows + r] += sum_k values[k] * x[i * cols + colIdx[k]] for
// r0 <= r < r1. Four vectors at a time share each entry's value and column (one load of each for
// four multiply-adds); the n % 4 others take spmvCsrAdd. Each vector's sum is taken as spmvCsrAdd
// takes it (entries alternately into two accumulators, an odd last one into the first), so every
// output has spmvCsrAdd's bits: the int8 fast path's batches then give what one token gives.
export function spmmCsrAdd(out: usize, rowPtr: usize, colIdx: usize, values: usize, x: usize, rows: i32, cols: i32, n: i32, r0: i32, r1: i32): void {
  const oStride = <usize>rows << 2;
  const xStride = <usize>cols << 2;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x0 = x + <usize>i * xStride;
    const o0 = out + <usize>i * oStride;
    for (let r = r0; r < r1; r++) {
      const k1 = load<i32>(rowPtr + (<usize>r << 2), 4);
      let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
      let b0: f32 = 0, b1: f32 = 0, b2: f32 = 0, b3: f32 = 0;
      let k = load<i32>(rowPtr + (<usize>r << 2));
      for (; k + 2 <= k1; k += 2) {
        const o = <usize>k << 2;
        const v = load<f32>(values + o);
        const w = load<f32>(values + o, 4);
        const xa = x0 + (<usize>load<i32>(colIdx + o) << 2);
        const xb = x0 + (<usize>load<i32>(colIdx + o, 4) << 2);
        a0 += v * load<f32>(xa);
        a1 += v * load<f32>(xa + xStride);
        a2 += v * load<f32>(xa + 2 * xStride);
        a3 += v * load<f32>(xa + 3 * xStride);
        b0 += w * load<f32>(xb);
        b1 += w * load<f32>(xb + xStride);
        b2 += w * load<f32>(xb + 2 * xStride);
        b3 += w * load<f32>(xb + 3 * xStride);
      }
      if (k < k1) {
        const o = <usize>k << 2;
        const v = load<f32>(values + o);
        const xa = x0 + (<usize>load<i32>(colIdx + o) << 2);
        a0 += v * load<f32>(xa);
        a1 += v * load<f32>(xa + xStride);
        a2 += v * load<f32>(xa + 2 * xStride);
        a3 += v * load<f32>(xa + 3 * xStride);
      }
      const po = o0 + (<usize>r << 2);
      store<f32>(po, load<f32>(po) + (a0 + b0));
      store<f32>(po + oStride, load<f32>(po + oStride) + (a1 + b1));
      store<f32>(po + 2 * oStride, load<f32>(po + 2 * oStride) + (a2 + b2));
      store<f32>(po + 3 * oStride, load<f32>(po + 3 * oStride) + (a3 + b3));
    }
  }
  for (; i < n; i++) spmvCsrAdd(out + <usize>i * oStride, rowPtr, colIdx, values, x + <usize>i * xStride, r0, r1);
}
