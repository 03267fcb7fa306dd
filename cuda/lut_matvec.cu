// SqueezeLLM lookup-table product, 3- and 4-bit, exactly as stored in .sqz: row r's weight at column
// c is lut[r, idx(r, c)], idx packed as src/format/packing.ts, the table f32 or binary16 (lutType
// 'f16', src/format/kinds.ts). Must match matvecLut / matmulLut in src/kernels/reference.ts.
// The row's table sits in shared memory as f32 (at most 16 distinct addresses per lookup, so a
// warp's lookups never conflict), activations are staged in shared memory by the packed-group
// driver (matmul_packed.cuh), sums are f32. n = 1 is the decode matvec; n > 1 the prompt's batch,
// each weight decoded once for PK_BATCH vectors.
#include "kernels.h"
#include "matmul_packed.cuh"

namespace sqz {

template <int BITS, bool HALF>
struct LutDecoder {
  static constexpr int TABLE = 1 << BITS;
  const void* lut;
  const uint8_t* idx;
  long row_bytes;

  __device__ __forceinline__ void row_table(int row, int lane, float* tab) const {
    if (lane < TABLE) {
      const long k = (long)row * TABLE + lane;
      tab[lane] = HALF ? __half2float(static_cast<const __half*>(lut)[k]) : static_cast<const float*>(lut)[k];
    }
  }

  __device__ __forceinline__ void weights(int row, int g, const float* tab, float (&w)[GROUP]) const {
    uint32_t q[Packed<BITS>::WORDS];
    Packed<BITS>::load(idx + row * row_bytes + (long)g * Packed<BITS>::BYTES, q);
#pragma unroll
    for (int j = 0; j < GROUP; j++) w[j] = tab[Packed<BITS>::index(q, j)];
  }
};

template <int BITS, bool HALF>
static cudaError_t launch(float* out, const void* lut, const uint8_t* idx, const float* x, int rows, int cols, int n, cudaStream_t stream) {
  const LutDecoder<BITS, HALF> dec{lut, idx, Packed<BITS>::row_bytes(cols)};
  return launch_packed(dec, out, x, rows, cols, n, stream);
}

cudaError_t lut_matmul(float* out, const void* lut, bool lut_half, const uint8_t* idx, const float* x, int rows, int cols, int n, int bits, cudaStream_t stream) {
  if (bits == 4) return lut_half ? launch<4, true>(out, lut, idx, x, rows, cols, n, stream) : launch<4, false>(out, lut, idx, x, rows, cols, n, stream);
  if (bits == 3) return lut_half ? launch<3, true>(out, lut, idx, x, rows, cols, n, stream) : launch<3, false>(out, lut, idx, x, rows, cols, n, stream);
  return cudaErrorInvalidValue;
}

}  // namespace sqz
