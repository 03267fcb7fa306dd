// CSR sparse part of a SqueezeLLM dense-and-sparse matrix, added into the dense product:
//   out[v, r] += sum_{k in rowPtr[r] .. rowPtr[r+1]-1} values[k] * x[v, colIdx[k]]
// Must match spmvCsrAdd / spmmCsrAdd in src/kernels/reference.ts.
//
// Balanced: warp s takes the rows segments[s] .. segments[s+1]-1, a split with about the same number
// of non-zeros per warp that keeps the file's recorded rowSplit boundaries (built on the host,
// sparseSegments in src/backend/cuda/layout.ts). Plain CSR (one warp per row) leaves most warps idle
// on outlier-poor rows and one warp crawling on a dense one; here a warp's work is even, and inside
// it four rows run at once, eight lanes each. Each row is summed by one group of lanes in a fixed
// order, so results do not depend on scheduling (no atomics). blockIdx.y is the vector.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

constexpr int SP_WARPS = 8;
constexpr int SP_LANES_PER_ROW = 8;
constexpr int SP_ROWS_AT_ONCE = WARP / SP_LANES_PER_ROW;

__global__ void __launch_bounds__(SP_WARPS * WARP) csr_spmm_add_kernel(float* __restrict__ out, const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx, const float* __restrict__ values, const int32_t* __restrict__ segments, int n_segments, const float* __restrict__ x, int rows, int cols) {
  const int seg = blockIdx.x * SP_WARPS + threadIdx.x / WARP;
  if (seg >= n_segments) return;
  const int lane = threadIdx.x % WARP, sub = lane / SP_LANES_PER_ROW, sl = lane % SP_LANES_PER_ROW;
  const unsigned mask = 0xffu << (sub * SP_LANES_PER_ROW);  // the lanes of this row
  const float* xv = x + (long)blockIdx.y * cols;
  float* ov = out + (long)blockIdx.y * rows;
  const int r1 = segments[seg + 1];
  for (int r = segments[seg] + sub; r < r1; r += SP_ROWS_AT_ONCE) {
    float s = 0.f;
    for (int k = row_ptr[r] + sl; k < row_ptr[r + 1]; k += SP_LANES_PER_ROW) s = fmaf(__ldg(values + k), __ldg(xv + __ldg(col_idx + k)), s);
#pragma unroll
    for (int o = SP_LANES_PER_ROW / 2; o > 0; o >>= 1) s += __shfl_xor_sync(mask, s, o, SP_LANES_PER_ROW);
    if (sl == 0) ov[r] += s;
  }
}

cudaError_t csr_spmm_add(float* out, const int32_t* row_ptr, const int32_t* col_idx, const float* values, const int32_t* segments, int n_segments, const float* x, int rows, int cols, int n, cudaStream_t stream) {
  if (n_segments < 1) return cudaSuccess;
  csr_spmm_add_kernel<<<dim3(blocks_for(n_segments, SP_WARPS), n), SP_WARPS * WARP, 0, stream>>>(out, row_ptr, col_idx, values, segments, n_segments, x, rows, cols);
  return cudaGetLastError();
}

}  // namespace sqz
