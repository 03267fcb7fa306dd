// Rotary position embedding, in place, over a vector of heads (len = heads * head_size). Pair i of a
// head turns by pos * theta^(-2i/head_size); 'interleaved' (llama2.c, GGUF) pairs (2i, 2i+1),
// 'half' (Hugging Face rotate_half) pairs (i, i + head_size/2). Must match rope in
// src/kernels/reference.ts. The angle, cos and sin are computed in double, as the reference does:
// at positions in the thousands an f32 angle would be off by 1e-4 rad. One thread per pair.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

__global__ void rope_kernel(float* vec, int pairs, int head_size, int pos, double theta, bool half_pairs) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= pairs) return;
  const int half = head_size / 2, h = p / half, i = p % half;
  double s, c;
  sincos(pos * pow(theta, (-2.0 * i) / head_size), &s, &c);
  const int a = h * head_size + (half_pairs ? i : 2 * i);
  const int b = half_pairs ? a + half : a + 1;
  const double x0 = vec[a], x1 = vec[b];
  vec[a] = (float)(x0 * c - x1 * s);
  vec[b] = (float)(x0 * s + x1 * c);
}

cudaError_t rope(float* vec, int len, int head_size, int pos, float theta, bool half_pairs, cudaStream_t stream) {
  const int pairs = len / 2;
  rope_kernel<<<blocks_for(pairs, 128), 128, 0, stream>>>(vec, pairs, head_size, pos, (double)theta, half_pairs);
  return cudaGetLastError();
}

}  // namespace sqz
