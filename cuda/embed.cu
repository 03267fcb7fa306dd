// Embedding lookup: row `row` of the token-embedding matrix as f32 into out[0..cols), whatever its
// kind (src/format/kinds.ts): f32 (a copy), f16 (widened), nuq (table lookups plus the row's sparse
// values: nuqRowInto in kinds.ts), uniform (dequantUniformRow in src/kernels/reference.ts). One
// block walks the row, so the sparse adds can follow the dense values after one barrier.
#include "common.cuh"
#include "kernels.h"
#include "packed.cuh"

namespace sqz {

constexpr int EM_THREADS = 256;

__global__ void embed_f16_kernel(float* out, const __half* w, int cols) {
  for (int c = threadIdx.x; c < cols; c += blockDim.x) out[c] = __half2float(w[c]);
}

template <int BITS>
__device__ __forceinline__ uint32_t index_at(const uint8_t* row, int c) {
  uint32_t q[Packed<BITS>::WORDS];
  Packed<BITS>::load(row + (long)(c / GROUP) * Packed<BITS>::BYTES, q);
  return Packed<BITS>::index(q, c % GROUP);
}

template <int BITS>
__global__ void embed_lut_kernel(float* out, const void* lut, bool lut_half, const uint8_t* idx, const int32_t* row_ptr, const int32_t* col_idx, const float* values, int row, int cols) {
  const uint8_t* r = idx + row * Packed<BITS>::row_bytes(cols);
  const long base = (long)row << BITS;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const long k = base + index_at<BITS>(r, c);
    out[c] = lut_half ? __half2float(static_cast<const __half*>(lut)[k]) : static_cast<const float*>(lut)[k];
  }
  if (row_ptr == nullptr) return;
  __syncthreads();
  for (int k = row_ptr[row] + threadIdx.x; k < row_ptr[row + 1]; k += blockDim.x) atomicAdd(out + col_idx[k], values[k]);
}

template <int BITS>
__global__ void embed_uniform_kernel(float* out, const float* scales, const float* zeros, const uint8_t* values, int row, int cols, int gs, int n_groups) {
  const uint8_t* r = values + row * Packed<BITS>::row_bytes(cols);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const long g = (long)row * n_groups + c / gs;
    out[c] = scales[g] * ((float)index_at<BITS>(r, c) - zeros[g]);
  }
}

cudaError_t embed_f32(float* out, const float* w, int row, int cols, cudaStream_t stream) {
  return cudaMemcpyAsync(out, w + (long)row * cols, sizeof(float) * cols, cudaMemcpyDeviceToDevice, stream);
}

cudaError_t embed_f16(float* out, const void* w, int row, int cols, cudaStream_t stream) {
  embed_f16_kernel<<<1, EM_THREADS, 0, stream>>>(out, static_cast<const __half*>(w) + (long)row * cols, cols);
  return cudaGetLastError();
}

cudaError_t embed_lut(float* out, const void* lut, bool lut_half, const uint8_t* idx, const int32_t* row_ptr, const int32_t* col_idx, const float* values, int row, int cols, int bits, cudaStream_t stream) {
  if (bits == 4) embed_lut_kernel<4><<<1, EM_THREADS, 0, stream>>>(out, lut, lut_half, idx, row_ptr, col_idx, values, row, cols);
  else if (bits == 3) embed_lut_kernel<3><<<1, EM_THREADS, 0, stream>>>(out, lut, lut_half, idx, row_ptr, col_idx, values, row, cols);
  else return cudaErrorInvalidValue;
  return cudaGetLastError();
}

cudaError_t embed_uniform(float* out, const float* scales, const float* zeros, const uint8_t* values, int row, int cols, int group_size, int bits, cudaStream_t stream) {
  const int gs = group_size < cols ? group_size : cols;
  const int n_groups = (cols + gs - 1) / gs;
  switch (bits) {
    case 3: embed_uniform_kernel<3><<<1, EM_THREADS, 0, stream>>>(out, scales, zeros, values, row, cols, gs, n_groups); break;
    case 4: embed_uniform_kernel<4><<<1, EM_THREADS, 0, stream>>>(out, scales, zeros, values, row, cols, gs, n_groups); break;
    case 8: embed_uniform_kernel<8><<<1, EM_THREADS, 0, stream>>>(out, scales, zeros, values, row, cols, gs, n_groups); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace sqz
