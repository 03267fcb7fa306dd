// Dense f32 or binary16 product for unquantized matrices (embedding used as head, head, any f16/f32
// layer): out[v, r] = sum_c w[r, c] * x[v, c]. Must match matvecF32 / matvecF16 (and matmulF32 /
// matmulF16) in src/kernels/reference.ts. It is also the f16 baseline bench/cuda.ts measures the
// LUT product against. Halves widen exactly (__half2float), subnormals included.
//
// A warp takes DN_ROWS_PER_WARP rows; lane l reads weights 4l .. 4l+3 and 128+4l .. 128+4l+3 of each
// 256-column step (two 8-byte loads of halves, two 16-byte loads of floats, issued before either is
// used), so each of a warp's loads is one contiguous, coalesced span, and the activations for them
// are one float4 per lane at consecutive addresses: no shared-memory bank conflicts (lanes reading 8
// scalars 8 floats apart would hit the same bank 8 times). Rows whose length is not a multiple of 4
// (unaligned rows) take a one-weight-per-lane path. Activations are staged in shared memory one tile
// at a time; sums are f32.
#include "common.cuh"
#include "kernels.h"

namespace sqz {

constexpr int DN_WARPS = 8;
constexpr int DN_ROWS_PER_WARP = 2;
constexpr int DN_BATCH = 8;

template <int NB>
__host__ __device__ constexpr int dense_tile() { return NB == 1 ? 4096 : 1024; }

/** Four consecutive weights as f32 (p 16-byte aligned for floats, 8-byte for halves). */
__device__ __forceinline__ float4 load4(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }

__device__ __forceinline__ float4 load4(const __half* p) {
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&u.x)), b = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ float dot4(float4 w, float4 x, float s) { return fmaf(w.w, x.w, fmaf(w.z, x.z, fmaf(w.y, x.y, fmaf(w.x, x.x, s)))); }

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }

template <typename T, int NB, bool VEC>
__global__ void __launch_bounds__(DN_WARPS * WARP) dense_matmul_kernel(float* __restrict__ out, const T* __restrict__ w, const float* __restrict__ x, int rows, int cols, int n) {
  constexpr int TC = dense_tile<NB>();
  __shared__ __align__(16) float xs[NB][TC];
  const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
  const int row0 = (blockIdx.x * DN_WARPS + warp) * DN_ROWS_PER_WARP;
  const int v0 = blockIdx.y * NB;
  float acc[DN_ROWS_PER_WARP][NB];
#pragma unroll
  for (int rr = 0; rr < DN_ROWS_PER_WARP; rr++)
#pragma unroll
    for (int v = 0; v < NB; v++) acc[rr][v] = 0.f;

  for (int c0 = 0; c0 < cols; c0 += TC) {
    const int tc = min(TC, cols - c0);
    __syncthreads();
    for (int i = threadIdx.x; i < NB * TC; i += blockDim.x) {
      const int v = i / TC, k = i % TC;
      xs[v][k] = (v0 + v < n && k < tc) ? x[(long)(v0 + v) * cols + c0 + k] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < DN_ROWS_PER_WARP; rr++) {
      const int r = row0 + rr;
      if (r >= rows) continue;
      const T* wr = w + (long)r * cols + c0;
      if constexpr (VEC) {
        for (int c0 = 0; c0 < tc; c0 += 2 * WARP * 4) {  // tc is a multiple of 4 here
          const int ca = c0 + 4 * lane, cb = ca + WARP * 4;
          const bool ha = ca < tc, hb = cb < tc;
          const float4 wa = ha ? load4(wr + ca) : make_float4(0.f, 0.f, 0.f, 0.f);
          const float4 wb = hb ? load4(wr + cb) : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
          for (int v = 0; v < NB; v++) {
            float s = acc[rr][v];
            if (ha) s = dot4(wa, *reinterpret_cast<const float4*>(&xs[v][ca]), s);
            if (hb) s = dot4(wb, *reinterpret_cast<const float4*>(&xs[v][cb]), s);
            acc[rr][v] = s;
          }
        }
      } else {
        for (int c = lane; c < tc; c += WARP) {
          const float wv = widen(wr[c]);
#pragma unroll
          for (int v = 0; v < NB; v++) acc[rr][v] = fmaf(wv, xs[v][c], acc[rr][v]);
        }
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < DN_ROWS_PER_WARP; rr++)
#pragma unroll
    for (int v = 0; v < NB; v++) {
      const float s = warp_sum(acc[rr][v]);
      if (lane == 0 && row0 + rr < rows && v0 + v < n) out[(long)(v0 + v) * rows + row0 + rr] = s;
    }
}

template <typename T, bool VEC>
static cudaError_t launch(float* out, const T* w, const float* x, int rows, int cols, int n, cudaStream_t stream) {
  const unsigned gx = blocks_for(rows, DN_WARPS * DN_ROWS_PER_WARP);
  if (n == 1) dense_matmul_kernel<T, 1, VEC><<<dim3(gx, 1), DN_WARPS * WARP, 0, stream>>>(out, w, x, rows, cols, n);
  else dense_matmul_kernel<T, DN_BATCH, VEC><<<dim3(gx, blocks_for(n, DN_BATCH)), DN_WARPS * WARP, 0, stream>>>(out, w, x, rows, cols, n);
  return cudaGetLastError();
}

cudaError_t dense_matmul(float* out, const void* w, bool half, const float* x, int rows, int cols, int n, cudaStream_t stream) {
  const bool vec = cols % 4 == 0;  // every row then starts on an 8-byte (halves) or 16-byte (floats) boundary
  if (half) {
    const __half* h = static_cast<const __half*>(w);
    return vec ? launch<__half, true>(out, h, x, rows, cols, n, stream) : launch<__half, false>(out, h, x, rows, cols, n, stream);
  }
  const float* f = static_cast<const float*>(w);
  return vec ? launch<float, true>(out, f, x, rows, cols, n, stream) : launch<float, false>(out, f, x, rows, cols, n, stream);
}

}  // namespace sqz
