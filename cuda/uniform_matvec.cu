// Uniform (RTN / GPTQ / AWQ) dequant-product: w[r, c] = scales[r, g] * (q(r, c) - zeros[r, g]) with
// g = floor(c / min(groupSize, cols)), q packed as src/format/packing.ts at 3, 4 or 8 bits (kind
// `uniform`, src/format/kinds.ts). Must match matvecUniform / matmulUniform in
// src/kernels/reference.ts. Groups of a multiple of 32 columns (or one group per row) take one scale
// and zero per packed group; other group sizes look them up per weight.
#include "kernels.h"
#include "matmul_packed.cuh"

namespace sqz {

template <int BITS, bool ALIGNED>
struct UniformDecoder {
  static constexpr int TABLE = 1;
  const float* scales;
  const float* zeros;
  const uint8_t* values;
  long row_bytes;
  int group_size;  // min(groupSize, cols)
  int n_groups;
  int cols;

  __device__ __forceinline__ void row_table(int, int, float*) const {}

  __device__ __forceinline__ void weights(int row, int g, const float*, float (&w)[GROUP]) const {
    uint32_t q[Packed<BITS>::WORDS];
    Packed<BITS>::load(values + row * row_bytes + (long)g * Packed<BITS>::BYTES, q);
    const long base = (long)row * n_groups;
    if constexpr (ALIGNED) {
      const long k = base + (long)g * GROUP / group_size;
      const float s = __ldg(scales + k), z = __ldg(zeros + k);
#pragma unroll
      for (int j = 0; j < GROUP; j++) w[j] = s * ((float)Packed<BITS>::index(q, j) - z);
    } else {
#pragma unroll
      for (int j = 0; j < GROUP; j++) {
        const long k = base + min(g * GROUP + j, cols - 1) / group_size;  // padding columns meet x = 0
        w[j] = __ldg(scales + k) * ((float)Packed<BITS>::index(q, j) - __ldg(zeros + k));
      }
    }
  }
};

template <int BITS>
static cudaError_t launch(float* out, const float* scales, const float* zeros, const uint8_t* values, const float* x, int rows, int cols, int n, int group_size, cudaStream_t stream) {
  const int gs = group_size < cols ? group_size : cols;
  const int n_groups = (cols + gs - 1) / gs;
  const long rb = Packed<BITS>::row_bytes(cols);
  if (gs % GROUP == 0 || n_groups == 1) return launch_packed(UniformDecoder<BITS, true>{scales, zeros, values, rb, gs, n_groups, cols}, out, x, rows, cols, n, stream);
  return launch_packed(UniformDecoder<BITS, false>{scales, zeros, values, rb, gs, n_groups, cols}, out, x, rows, cols, n, stream);
}

cudaError_t uniform_matmul(float* out, const float* scales, const float* zeros, const uint8_t* values, const float* x, int rows, int cols, int n, int group_size, int bits, cudaStream_t stream) {
  if (group_size < 1) return cudaErrorInvalidValue;
  switch (bits) {
    case 3: return launch<3>(out, scales, zeros, values, x, rows, cols, n, group_size, stream);
    case 4: return launch<4>(out, scales, zeros, values, x, rows, cols, n, group_size, stream);
    case 8: return launch<8>(out, scales, zeros, values, x, rows, cols, n, group_size, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace sqz
