// SwiGLU: out = silu(gate) * up, silu(g) = g / (1 + e^-g). Must match swiglu in src/kernels/reference.ts.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

__global__ void swiglu_kernel(float* out, const float* gate, const float* up, long n) {
  const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = gate[i];
    out[i] = (g / (1.f + expf(-g))) * up[i];
  }
}

cudaError_t swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream) {
  if (n > 0) swiglu_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(out, gate, up, n);
  return cudaGetLastError();
}

}  // namespace sqz
