// Residual connection: out = a + b elementwise (out may be a or b). Must match add in src/kernels/reference.ts.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

__global__ void residual_add_kernel(float* out, const float* a, const float* b, long n) {
  const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

cudaError_t residual_add(float* out, const float* a, const float* b, long n, cudaStream_t stream) {
  if (n > 0) residual_add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(out, a, b, n);
  return cudaGetLastError();
}

}  // namespace sqz
