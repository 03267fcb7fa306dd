// Entry of the kernel module: every export the host calls. See docs/KERNELS.md.
// Pointers are byte addresses in the host-managed shared memory; the kernels allocate nothing.
export { matvecF32, matmulF32, matmulScratchBytes } from './dense';
export { f16ToF32, matvecF16, matmulF16 } from './f16';
export { matvecLut4, matvecLut3, matmulLut4, matmulLut3, dequantLut4, dequantLut3 } from './lut';
// the opt-in int8 fast path of the LUT matvecs (docs/KERNELS.md)
export { activationBytes, quantizeActivations, matvecLut4Int8, matvecLut3Int8, matvecLut4Int8Sparse, matvecLut3Int8Sparse, dequantLut3Blocks } from './lutint8';
export { matmulLut4Int8, matmulLut3Int8 } from './lutgemm';
export { spmvCsrAdd, spmmCsrAdd } from './sparse';
// uniform (RTN / GPTQ / AWQ) values with a scale and zero per group (docs/BASELINES.md)
export { matvecUniform, matmulUniform, dequantUniform } from './uniform';
export { rmsnorm, ropeInterleaved, ropeHalf, softmax, swiglu, add } from './ops';
// the KV cache and the attention block of a layer (docs/KVCACHE.md)
export { attendBlock, attendScratchBytes, kvCacheBytes } from './attention';
// toolchain: exact weighted 1-D k-means (docs/KMEANS.md)
export { kmeansExactPartition, kmeansExactRow, kmeansRowScratchBytes } from './kmeans';

// First byte the host may use: AssemblyScript's static data ends here.
export function heapBase(): usize {
  return __heap_base;
}
