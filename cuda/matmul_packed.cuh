// The driver the packed-group products share (lut_matvec.cu, uniform_matvec.cu):
//   out[v, r] = sum_c W[r, c] * x[v, c]   for NB activation vectors per pass (NB = 1: a matvec),
// with W given by a decoder that turns one 32-column group of a row into 32 f32 weights.
//
// Geometry: a block of PK_WARPS warps takes PK_ROWS_PER_BLOCK consecutive rows, PK_ROWS_PER_WARP
// per warp; a lane takes whole groups (lane, lane + 32, ...), so one warp's loads of a row cover one
// contiguous span of packed bytes. The activations are staged in shared memory one tile of TG groups
// at a time, each group's 32 floats at a stride of XPAD = 36: lanes reading consecutive groups as
// float4 then fall in distinct banks. Each weight is decoded once and used for all NB vectors; sums
// are f32, per lane, then reduced across the warp. out is [n, rows], x is [n, cols].
#pragma once
#include "common.cuh"
#include "packed.cuh"

namespace sqz {

constexpr int PK_WARPS = 8;
constexpr int PK_ROWS_PER_WARP = 2;
constexpr int PK_ROWS_PER_BLOCK = PK_WARPS * PK_ROWS_PER_WARP;
constexpr int XPAD = 36;
/** Most vectors one pass of the batched product takes. */
constexpr int PK_BATCH = 8;

/** Groups per staged tile: 128 (4096 columns, 18 KiB) for one vector, 32 per vector for a batch. */
template <int NB>
__host__ __device__ constexpr int tile_groups() { return NB == 1 ? 128 : 32; }

/**
 * Decoder interface (a plain struct passed by value):
 *   static constexpr int TABLE;                         floats of per-row shared data (1 if none)
 *   void row_table(int row, int lane, float* tab) const;  fills tab (lanes 0..TABLE-1), once per row
 *   void weights(int row, int g, const float* tab, float (&w)[GROUP]) const;  group g of row as f32
 */
template <class Dec, int NB>
__global__ void __launch_bounds__(PK_WARPS * WARP) packed_matmul(Dec dec, float* __restrict__ out, const float* __restrict__ x, int rows, int cols, int n) {
  constexpr int TG = tile_groups<NB>();
  __shared__ __align__(16) float xs[NB][TG * XPAD];
  __shared__ float tabs[PK_WARPS][PK_ROWS_PER_WARP][Dec::TABLE];
  const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
  const int row0 = blockIdx.x * PK_ROWS_PER_BLOCK + warp * PK_ROWS_PER_WARP;
  const int v0 = blockIdx.y * NB;
  const int groups = (cols + GROUP - 1) / GROUP;

#pragma unroll
  for (int rr = 0; rr < PK_ROWS_PER_WARP; rr++)
    if (row0 + rr < rows) dec.row_table(row0 + rr, lane, tabs[warp][rr]);
  __syncwarp();

  float acc[PK_ROWS_PER_WARP][NB];
#pragma unroll
  for (int rr = 0; rr < PK_ROWS_PER_WARP; rr++)
#pragma unroll
    for (int v = 0; v < NB; v++) acc[rr][v] = 0.f;

  for (int g0 = 0; g0 < groups; g0 += TG) {
    const int tg = min(TG, groups - g0);
    __syncthreads();  // the previous tile is consumed
    for (int i = threadIdx.x; i < NB * TG * GROUP; i += blockDim.x) {
      const int v = i / (TG * GROUP), k = i % (TG * GROUP), c = g0 * GROUP + k;
      xs[v][(k / GROUP) * XPAD + k % GROUP] = (v0 + v < n && c < cols) ? x[(long)(v0 + v) * cols + c] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < PK_ROWS_PER_WARP; rr++) {
      const int r = row0 + rr;
      if (r >= rows) continue;
      for (int g = lane; g < tg; g += WARP) {
        float w[GROUP];
        dec.weights(r, g0 + g, tabs[warp][rr], w);
#pragma unroll
        for (int v = 0; v < NB; v++) {
          const float4* xv = reinterpret_cast<const float4*>(&xs[v][g * XPAD]);
          float s = acc[rr][v];
#pragma unroll
          for (int q = 0; q < GROUP / 4; q++) {
            const float4 t = xv[q];
            s = fmaf(w[4 * q], t.x, s);
            s = fmaf(w[4 * q + 1], t.y, s);
            s = fmaf(w[4 * q + 2], t.z, s);
            s = fmaf(w[4 * q + 3], t.w, s);
          }
          acc[rr][v] = s;
        }
      }
    }
  }

#pragma unroll
  for (int rr = 0; rr < PK_ROWS_PER_WARP; rr++)
#pragma unroll
    for (int v = 0; v < NB; v++) {
      const float s = warp_sum(acc[rr][v]);
      if (lane == 0 && row0 + rr < rows && v0 + v < n) out[(long)(v0 + v) * rows + row0 + rr] = s;
    }
}

/** Launches packed_matmul for n vectors: one pass for n = 1, passes of PK_BATCH vectors otherwise. */
template <class Dec>
cudaError_t launch_packed(const Dec& dec, float* out, const float* x, int rows, int cols, int n, cudaStream_t stream) {
  const unsigned gx = blocks_for(rows, PK_ROWS_PER_BLOCK);
  if (n == 1) {
    packed_matmul<Dec, 1><<<dim3(gx, 1), PK_WARPS * WARP, 0, stream>>>(dec, out, x, rows, cols, n);
  } else {
    packed_matmul<Dec, PK_BATCH><<<dim3(gx, blocks_for(n, PK_BATCH)), PK_WARPS * WARP, 0, stream>>>(dec, out, x, rows, cols, n);
  }
  return cudaGetLastError();
}

}  // namespace sqz
