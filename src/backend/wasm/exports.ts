// The kernel module's exports as the host sees them (see assembly/index.ts). All pointers are byte
// addresses in the shared memory; matrices are row-major [rows, cols]; row ranges are [r0, r1).
// Kernels may read up to 16 bytes past an input block (the heap pads every block) and never write
// outside their outputs. docs/KERNELS.md describes each one.
export interface KernelExports extends Record<string, unknown> {
  heapBase(): number;
  /** out[r] = sum_c w[r, c] * x[c], r0 <= r < r1. */
  matvecF32(out: number, w: number, x: number, cols: number, r0: number, r1: number): void;
  /** out[i * rows + r] = sum_c w[r, c] * x[i * cols + c] for n activation vectors (x [n, cols], out [n, rows]). */
  matmulF32(out: number, w: number, x: number, rows: number, cols: number, n: number): void;
  /** out[i] = binary16 bits src[i] (u16) as f32 times 2^-shift, exact, 0 <= i < n (shift: layout.ts liftHalves's, 0 for the halves as they are). */
  f16ToF32(out: number, src: number, n: number, shift: number): void;
  /** out[r] = sum_c f16(w[r, c]) * 2^-shift * x[c], r0 <= r < r1; w binary16 [rows, cols] (row stride 2 * cols bytes), widened as it is read. */
  matvecF16(out: number, w: number, x: number, cols: number, r0: number, r1: number, shift: number): void;
  /** matvecF16 for n vectors: x [n, cols], out [n, rows], rows r0 <= r < r1; scratch as for matmulLut4 (a tile widened to f32). */
  matmulF16(out: number, w: number, x: number, rows: number, cols: number, n: number, r0: number, r1: number, scratch: number, shift: number): void;
  /**
   * out[r] = sum_c lut[r, idx(r, c)] * x[c], 4-bit packed indices (row stride ceil(cols/32)*16 bytes); the [rows, 16] table
   * as byte planes, 64 bytes per row (layout.ts lutPlanes).
   */
  matvecLut4(out: number, planes: number, idx: number, x: number, cols: number, r0: number, r1: number): void;
  /** out[r] = sum_c lut[r, idx(r, c)] * x[c], 3-bit packed indices (row stride ceil(cols/32)*12 bytes); the [rows, 8] table as byte planes. */
  matvecLut3(out: number, planes: number, idx: number, x: number, cols: number, r0: number, r1: number): void;
  /**
   * matvecLut4 for n vectors: out[i * rows + r] for x [n, cols], out [n, rows], rows r0 <= r < r1; a tile of rows at a
   * time is decoded into `scratch` (matmulScratchBytes(cols) bytes, the calling thread's own) and multiplied densely.
   */
  matmulLut4(out: number, planes: number, idx: number, x: number, rows: number, cols: number, n: number, r0: number, r1: number, scratch: number): void;
  /** matvecLut3 for n vectors, as matmulLut4. */
  matmulLut3(out: number, planes: number, idx: number, x: number, rows: number, cols: number, n: number, r0: number, r1: number, scratch: number): void;
  /** Rows r0 <= r < r1 of a 4-bit LUT matrix as f32 into dst (row r at dst + (r - r0) * cols * 4): the embedding lookup. */
  dequantLut4(dst: number, planes: number, idx: number, cols: number, r0: number, r1: number): void;
  /** The same with 3-bit packed indices. */
  dequantLut3(dst: number, planes: number, idx: number, cols: number, r0: number, r1: number): void;
  /** Bytes quantizeActivations writes for `cols` columns. */
  activationBytes(cols: number): number;
  /**
   * The int8 fast path's activations (ref.quantizeActivations): int8 for whole groups of 32 (0 past cols), one f32 scale per
   * group, then the f32 sum of scale times values.
   */
  quantizeActivations(xq: number, x: number, cols: number): void;
  /**
   * The int8 fast path of matvecLut4 (ref.matvecLutInt8): table [rows, 16] 7-bit entries and params f32 [rows, 2] (step, lo)
   * (layout.ts lutInt8Table), xq from quantizeActivations, rows r0 <= r < r1.
   */
  matvecLut4Int8(out: number, table: number, params: number, idx: number, xq: number, cols: number, r0: number, r1: number): void;
  /** The same with 3-bit indices in layout.ts int8Indices' layout. */
  matvecLut3Int8(out: number, table: number, params: number, idx: number, xq: number, cols: number, r0: number, r1: number): void;
  /**
   * matvecLut4Int8 with a sparse part (CSR rowPtr, colIdx i32, values f32; rowPtr non-zero) against the f32 input x added to
   * each row in the same pass: the bits of matvecLut4Int8 then spmvCsrAdd.
   */
  matvecLut4Int8Sparse(out: number, table: number, params: number, idx: number, xq: number, cols: number, r0: number, r1: number, rowPtr: number, colIdx: number, values: number, x: number): void;
  /** The same with 3-bit indices. */
  matvecLut3Int8Sparse(out: number, table: number, params: number, idx: number, xq: number, cols: number, r0: number, r1: number, rowPtr: number, colIdx: number, values: number, x: number): void;
  /** matvecLut4Int8 on n vectors, bit for bit: xq holds n quantizeActivations outputs xqStride bytes apart, out [n, rows], rows r0 <= r < r1. */
  matmulLut4Int8(out: number, table: number, params: number, idx: number, xq: number, xqStride: number, rows: number, cols: number, n: number, r0: number, r1: number): void;
  /** Rows r0 <= r < r1 of a 3-bit LUT matrix whose indices are in the int8 kernels' layout (layout.ts int8Indices) as f32 into dst: the fast path's embedding lookup. */
  dequantLut3Blocks(dst: number, planes: number, idx: number, cols: number, r0: number, r1: number): void;
  /** The same with 3-bit packed indices. */
  matmulLut3Int8(out: number, table: number, params: number, idx: number, xq: number, xqStride: number, rows: number, cols: number, n: number, r0: number, r1: number): void;
  /** Bytes of scratch matmulLut4/3, matmulF16 and matmulUniform need for `cols` columns (one tile of f32 rows). */
  matmulScratchBytes(cols: number): number;
  /**
   * Uniform (RTN/GPTQ/AWQ): out[r] = sum_c scales[r, g] * (q(r, c) - zeros[r, g]) * x[c], g = floor(c / min(groupSize, cols)),
   * q packed as nuq indices (3, 4 or 8 bits; row stride ceil(cols/32)*4*bits bytes); scales, zeros f32 [rows, nGroups].
   */
  matvecUniform(out: number, scales: number, zeros: number, values: number, x: number, cols: number, groupSize: number, bits: number, r0: number, r1: number): void;
  /** matvecUniform for n vectors: x [n, cols], out [n, rows], rows r0 <= r < r1; scratch as for matmulLut4. */
  matmulUniform(out: number, scales: number, zeros: number, values: number, x: number, rows: number, cols: number, n: number, groupSize: number, bits: number, r0: number, r1: number, scratch: number): void;
  /** Rows r0 <= r < r1 of a uniform matrix dequantized to f32 into dst (row r at dst + (r - r0) * cols * 4). */
  dequantUniform(dst: number, scales: number, zeros: number, values: number, cols: number, groupSize: number, bits: number, r0: number, r1: number): void;
  /** out[r] += sum_{k in rowPtr[r]..rowPtr[r+1]} values[k] * x[colIdx[k]]; rowPtr, colIdx i32. */
  spmvCsrAdd(out: number, rowPtr: number, colIdx: number, values: number, x: number, r0: number, r1: number): void;
  /** spmvCsrAdd for n vectors: out[i * rows + r] += sum_k values[k] * x[i * cols + colIdx[k]], rows r0 <= r < r1. */
  spmmCsrAdd(out: number, rowPtr: number, colIdx: number, values: number, x: number, rows: number, cols: number, n: number, r0: number, r1: number): void;
  /** out = x * weight / sqrt(mean(x^2) + eps); out may equal x. */
  rmsnorm(out: number, x: number, weight: number, n: number, eps: number): void;
  /** Rotary embedding in place, pairs (2i, 2i+1) of each head (llama2.c / GGUF). */
  ropeInterleaved(vec: number, n: number, headSize: number, pos: number, theta: number): void;
  /** Rotary embedding in place, pairs (i, i + headSize/2) of each head (Hugging Face rotate_half). */
  ropeHalf(vec: number, n: number, headSize: number, pos: number, theta: number): void;
  /** Softmax of x[0..n) in place. */
  softmax(x: number, n: number): void;
  /** out = silu(gate) * up. */
  swiglu(out: number, gate: number, up: number, n: number): void;
  /** out = a + b. */
  add(out: number, a: number, b: number, n: number): void;
  /** Bytes of a KV cache (assembly/attention.ts layout); mode 0 f32, 1 f16, 8/4/2 the quantized kinds, residual their f16 window. */
  kvCacheBytes(layers: number, nKvHeads: number, headSize: number, ctx: number, mode: number, residual: number): number;
  /** Bytes of scratch attendBlock needs. */
  attendScratchBytes(headSize: number, ctx: number): number;
  /**
   * One layer's attention sublayer for n consecutive tokens at pos..: per token in order, RoPE on q [n, nHeads * headSize]
   * and k [n, kvDim] in place, k and v written to the cache, then out [n, nHeads * headSize] = attention over positions 0..pos + i.
   * freqs: 0, or headSize / 2 f64 per-pair RoPE frequencies; window > 0: only the last `window` positions; cap > 0: scores soft-capped.
   */
  attendBlock(
    out: number, q: number, k: number, v: number, cache: number, layer: number, pos: number, n: number,
    nHeads: number, nKvHeads: number, headSize: number, ctx: number, mode: number, residual: number, theta: number, halfPairs: number, scratch: number,
    freqs: number, window: number, cap: number,
  ): void;
  /**
   * Toolchain (docs/KMEANS.md): optimal partition of m sorted weighted points into K = min(k, m)
   * contiguous clusters from their f64 prefix sums p0, p1, p2 (m + 1 each). prev, cur: f64 scratch
   * of m + 1; split: i32 scratch of K * (m + 1); bounds: i32 out, K + 1. Returns the optimum.
   */
  kmeansExactPartition(p0: number, p1: number, p2: number, m: number, k: number, prev: number, cur: number, split: number, bounds: number): number;
  /** Toolchain: bytes of scratch kmeansExactRow needs for n values and k clusters. */
  kmeansRowScratchBytes(n: number, k: number): number;
  /**
   * Toolchain (docs/KMEANS.md): the exact weighted k-means of one row w (f32[n]) with weights f
   * (fKind 0: none, 4: f32[n], 8: f64[n]) into k centroids (f32[k] out, ascending) and indices
   * (u8[n] out). Returns the objective, or NaN for an invalid input; scratch's first two i32 are
   * m and uniform.
   */
  kmeansExactRow(w: number, f: number, fKind: number, n: number, k: number, scratch: number, centroids: number, indices: number): number;
}
