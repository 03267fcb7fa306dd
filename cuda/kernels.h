// Host-side launchers of every kernel in cuda/*.cu, the whole surface the Node binding
// (addon/binding.cc) calls. Each enqueues work on `stream` and returns cudaGetLastError(); none
// synchronises. Pointers are device pointers; matrices are row-major [rows, cols], one row per
// output; a batch is n vectors laid end to end (x [n, cols], out [n, rows]).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace sqz {

// lut_matvec.cu: SqueezeLLM lookup-table product (src/kernels/reference.ts matvecLut / matmulLut).
// lut is [rows, 2^bits] f32, or binary16 when lut_half; idx packed as src/format/packing.ts.
cudaError_t lut_matmul(float* out, const void* lut, bool lut_half, const uint8_t* idx, const float* x, int rows, int cols, int n, int bits, cudaStream_t stream);

// uniform_matvec.cu: RTN/GPTQ/AWQ dequant-product (reference.ts matvecUniform / matmulUniform).
cudaError_t uniform_matmul(float* out, const float* scales, const float* zeros, const uint8_t* values, const float* x, int rows, int cols, int n, int group_size, int bits, cudaStream_t stream);

// dense_matvec.cu: dense f32 or binary16 product (reference.ts matvecF32 / matvecF16 and their matmuls).
cudaError_t dense_matmul(float* out, const void* w, bool half, const float* x, int rows, int cols, int n, cudaStream_t stream);

// csr_spmv.cu: out[v, r] += sparse row r . x[v] (reference.ts spmvCsrAdd / spmmCsrAdd). Warp s takes
// rows segments[s] .. segments[s+1]-1 (a split with even non-zeros, src/backend/cuda/layout.ts).
cudaError_t csr_spmm_add(float* out, const int32_t* row_ptr, const int32_t* col_idx, const float* values, const int32_t* segments, int n_segments, const float* x, int rows, int cols, int n, cudaStream_t stream);

// rmsnorm.cu: out = w * x / sqrt(mean(x^2) + eps) for each of n vectors of dim (reference.ts rmsnorm).
cudaError_t rmsnorm(float* out, const float* x, const float* w, int dim, int n, float eps, cudaStream_t stream);

// rope.cu: rotary embedding in place over heads of head_size (reference.ts rope); half_pairs
// selects the Hugging Face (i, i + head_size/2) pairing, else llama2.c's (2i, 2i+1).
cudaError_t rope(float* vec, int len, int head_size, int pos, float theta, bool half_pairs, cudaStream_t stream);

// attention.cu: one query over n_pos cached positions, grouped-query (reference.ts attention).
cudaError_t attention(float* out, const float* q, const float* k_cache, const float* v_cache, int n_heads, int n_kv_heads, int head_size, int n_pos, cudaStream_t stream);
/** Sets the attention kernel's shared-memory limit to the device's opt-in maximum; returns that maximum (bytes). */
int attention_prepare();

// swiglu.cu and residual_add.cu: elementwise (reference.ts swiglu, add).
cudaError_t swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream);
cudaError_t residual_add(float* out, const float* a, const float* b, long n, cudaStream_t stream);

// embed.cu: row `row` of a matrix as f32 into out[0..cols) (the embedding lookup), per kind.
cudaError_t embed_f32(float* out, const float* w, int row, int cols, cudaStream_t stream);
cudaError_t embed_f16(float* out, const void* w, int row, int cols, cudaStream_t stream);
cudaError_t embed_lut(float* out, const void* lut, bool lut_half, const uint8_t* idx, const int32_t* row_ptr, const int32_t* col_idx, const float* values, int row, int cols, int bits, cudaStream_t stream);
cudaError_t embed_uniform(float* out, const float* scales, const float* zeros, const uint8_t* values, int row, int cols, int group_size, int bits, cudaStream_t stream);

}  // namespace sqz
