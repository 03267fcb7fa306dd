import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelSelfCheck } from '../../src/backend/wasm/selfcheck.ts';

test('kernelSelfCheck covers every kernel and all pass', async () => {
  const results = await kernelSelfCheck();
  const names = results.map((r) => r.name).sort();
  assert.equal(names, [
    'add', 'attendBlock f16', 'attendBlock q4', 'f16ToF32', 'matmulF32', 'matvecF32', 'matvecLut3', 'matvecLut4', 'matvecLut3Int8', 'matvecLut4Int8', 'matvecLut3Int8Sparse', 'matvecLut4Int8Sparse', 'matmulLut3Int8', 'matmulLut4Int8', 'matmulLut3', 'matmulLut4', 'ropeHalf',
    'matvecUniform3', 'matvecUniform4', 'matvecUniform8', 'matmulUniform3', 'matmulUniform4', 'matmulUniform8',
    'matvecF16', 'matmulF16', 'dequantLut4', 'dequantLut3', 'dequantUniform3', 'dequantUniform4', 'dequantUniform8',
    'ropeInterleaved', 'rmsnorm', 'softmax', 'spmvCsrAdd', 'spmmCsrAdd', 'swiglu',
  ].sort());
  // the quantized KV cache's integer dots round q times the key scales to int16 (docs/KVCACHE.md)
  for (const r of results) assert.ok(r.ok && r.maxRelErr <= (r.name === 'attendBlock q4' ? 1e-3 : 1e-5), `${r.name}: ${r.maxRelErr}`);
});

test.run();
