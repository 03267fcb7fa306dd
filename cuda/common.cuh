// Helpers every kernel file shares: warp reductions and the launch geometry constants.
#pragma once
#include <cstdint>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace sqz {

constexpr int WARP = 32;
constexpr unsigned FULL_MASK = 0xffffffffu;

/** Sum of v over the 32 lanes of a warp; every lane gets the total. */
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}

/** Max of v over the 32 lanes of a warp; every lane gets it. */
__device__ __forceinline__ float warp_max(float v) {
  for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
  return v;
}

/**
 * Sum of v over a whole block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
 * `scratch` is 32 floats of shared memory; the call ends with the block synchronised.
 */
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

inline unsigned blocks_for(long n, int threads) { return (unsigned)((n + threads - 1) / threads); }

}  // namespace sqz
