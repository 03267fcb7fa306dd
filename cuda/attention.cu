// Causal attention of one query position over the KV cache, grouped-query: head h reads KV head
// h / (n_heads / n_kv_heads); scores scaled by 1/sqrt(head_size), softmax with the max subtracted,
// then the weighted sum of V. q, out [n_heads * head_size]; caches [n_pos, n_kv_heads * head_size].
// Must match attention in src/kernels/reference.ts.
//
// One block per head. The scores (n_pos floats) live in dynamic shared memory; warps take
// positions in turn for the q.k dots; for the V sum the block's threads split into `parts` groups of
// head_size, each summing every parts-th position, and the parts are added at the end.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

__global__ void attention_kernel(float* __restrict__ out, const float* __restrict__ q, const float* __restrict__ k_cache, const float* __restrict__ v_cache, int group, int head_size, int kv_dim, int n_pos, float scale) {
  extern __shared__ float smem[];
  float* qs = smem;                    // [head_size]
  float* att = qs + head_size;         // [n_pos]
  float* partial = att + n_pos;        // [parts * head_size]
  __shared__ float scratch[WARP];
  const int h = blockIdx.x, kv_off = (h / group) * head_size;
  const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
  for (int i = threadIdx.x; i < head_size; i += blockDim.x) qs[i] = q[(long)h * head_size + i];
  __syncthreads();

  for (int t = warp; t < n_pos; t += warps) {
    const float* k = k_cache + (long)t * kv_dim + kv_off;
    float s = 0.f;
    for (int i = lane; i < head_size; i += WARP) s = fmaf(qs[i], k[i], s);
    s = warp_sum(s);
    if (lane == 0) att[t] = s * scale;
  }
  __syncthreads();

  float m = -INFINITY;
  for (int t = threadIdx.x; t < n_pos; t += blockDim.x) m = fmaxf(m, att[t]);
  m = warp_max(m);
  if (lane == 0) scratch[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int i = 0; i < warps; i++) m = fmaxf(m, scratch[i]);
  __syncthreads();
  float sum = 0.f;
  for (int t = threadIdx.x; t < n_pos; t += blockDim.x) {
    const float e = expf(att[t] - m);
    att[t] = e;
    sum += e;
  }
  sum = block_sum(sum, scratch);  // ends synchronised: att is complete
  const float inv = 1.f / sum;

  const int parts = blockDim.x / head_size;
  const int i = threadIdx.x % head_size, part = threadIdx.x / head_size;
  if (part < parts) {
    float s = 0.f;
    for (int t = part; t < n_pos; t += parts) s = fmaf(att[t] * inv, v_cache[(long)t * kv_dim + kv_off + i], s);
    partial[part * head_size + i] = s;
  }
  __syncthreads();
  if (threadIdx.x < head_size) {
    float s = 0.f;
    for (int p = 0; p < parts; p++) s += partial[p * head_size + threadIdx.x];
    out[(long)h * head_size + threadIdx.x] = s;
  }
}

static int threads_for(int head_size) {
  const int t = head_size <= 256 ? 256 : ((head_size + WARP - 1) / WARP) * WARP;
  return t;
}

int attention_prepare() {
  int dev = 0, optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) return 0;
  // the kernel's static scratch comes out of the same budget
  const int dynamic_max = optin - WARP * (int)sizeof(float);
  if (cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic_max) != cudaSuccess) return 0;
  return dynamic_max;
}

cudaError_t attention(float* out, const float* q, const float* k_cache, const float* v_cache, int n_heads, int n_kv_heads, int head_size, int n_pos, cudaStream_t stream) {
  const int threads = threads_for(head_size);
  if (threads > 1024) return cudaErrorInvalidValue;
  const int parts = threads / head_size;
  const size_t bytes = sizeof(float) * ((size_t)head_size + n_pos + (size_t)parts * head_size);
  attention_kernel<<<n_heads, threads, bytes, stream>>>(out, q, k_cache, v_cache, n_heads / n_kv_heads, head_size, n_kv_heads * head_size, n_pos, 1.f / sqrtf((float)head_size));
  return cudaGetLastError();
}

}  // namespace sqz
