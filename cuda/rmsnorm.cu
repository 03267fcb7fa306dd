// RMSNorm: out = w * (x / sqrt(mean(x^2) + eps)), one block per vector of `dim`; out may equal x.
// Must match rmsnorm in src/kernels/reference.ts (same order: w * (x * inv)).
#include "common.cuh"
#include "kernels.h"

namespace sqz {

constexpr int RN_THREADS = 256;

__global__ void __launch_bounds__(RN_THREADS) rmsnorm_kernel(float* out, const float* x, const float* __restrict__ w, int dim, float eps) {
  __shared__ float scratch[WARP];
  const float* xv = x + (long)blockIdx.x * dim;
  float* ov = out + (long)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xv[i], xv[i], ss);
  ss = block_sum(ss, scratch);
  const float inv = 1.f / sqrtf(ss / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ov[i] = w[i] * (xv[i] * inv);
}

cudaError_t rmsnorm(float* out, const float* x, const float* w, int dim, int n, float eps, cudaStream_t stream) {
  rmsnorm_kernel<<<n, RN_THREADS, 0, stream>>>(out, x, w, dim, eps);
  return cudaGetLastError();
}

}  // namespace sqz
