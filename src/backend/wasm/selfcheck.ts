// A quick self-check of the WASM kernels: each runs once on a small random ragged input (fixed seed)
// and is compared with its TypeScript twin in src/kernels/reference.ts. `sqz` prints the result when
// run without a model; a failure means the engine miscompiles or misexecutes the SIMD kernels.
import { packIndices } from '../../format/packing.ts';
import { KV_MODE, RefKvCache } from '../../kernels/attention.ts';
import * as ref from '../../kernels/reference.ts';
import { maxRelErr } from '../../util/compare.ts';
import { Rng } from '../../util/random.ts';
import { createKernelInstance } from './instance.ts';
import { int8Indices, liftHalves, lutInt8Table, lutPlanes } from './layout.ts';
import { activationStride } from './protocol.ts';

export interface SelfCheckResult {
  name: string;
  /** Norm-wise relative error max|got - want| / max|want| (Infinity on NaN). */
  maxRelErr: number;
  ok: boolean;
}

export const SELF_CHECK_TOLERANCE = 1e-5;

/** Runs every kernel once against the reference; never throws for a wrong result, only reports it. */
export async function kernelSelfCheck(): Promise<SelfCheckResult[]> {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(20240531);
  const results: SelfCheckResult[] = [];
  const check = (name: string, got: ArrayLike<number>, want: ArrayLike<number>, tolerance = SELF_CHECK_TOLERANCE) => {
    const e = maxRelErr(got, want);
    results.push({ name, maxRelErr: e, ok: e <= tolerance });
  };
  const f32 = (ptr: number, n: number) => heap.f32(ptr, n).slice();

  // Ragged on purpose: no size is a multiple of the SIMD width or of the 32-weight group.
  const rows = 13;
  const cols = 77;
  const w = rng.normals(rows * cols);
  const x = rng.normals(cols);
  const pw = heap.place(w);
  const px = heap.place(x);
  const po = heap.alloc(rows * 4 * 8);
  // a batch for the matmuls (one block of four vectors and one more), and their scratch
  const n = 5;
  const xs = rng.normals(n * cols);
  const pxs = heap.place(xs);
  const scratch = heap.alloc(k.matmulScratchBytes(cols));

  // dense weights, f32 and f16 (one vector: the matvec, n: the matmul)
  const h = Uint16Array.from(w, (v) => ref.floatToHalf(v));
  const halves = h.slice();
  const shift = liftHalves(halves); // as the backend places them
  const ph = heap.place(halves);
  const dense: [string, (want: Float32Array) => void, () => void, (want: Float32Array) => void, () => void][] = [
    ['F32', (o) => ref.matvecF32(o, w, x, rows, cols), () => k.matvecF32(po, pw, px, cols, 0, rows), (o) => ref.matmulF32(o, w, xs, rows, cols, n), () => k.matmulF32(po, pw, pxs, rows, cols, n)],
    ['F16', (o) => ref.matvecF16(o, h, x, rows, cols), () => k.matvecF16(po, ph, px, cols, 0, rows, shift), (o) => ref.matmulF16(o, h, xs, rows, cols, n), () => k.matmulF16(po, ph, pxs, rows, cols, n, 0, rows, scratch, shift)],
  ];
  for (const [kind, refMatvec, matvec, refMatmul, matmul] of dense) {
    const want = new Float32Array(rows);
    refMatvec(want);
    matvec();
    check(`matvec${kind}`, f32(po, rows), want);
    const wantN = new Float32Array(n * rows);
    refMatmul(wantN);
    matmul();
    check(`matmul${kind}`, f32(po, n * rows), wantN);
  }
  {
    const n = 45;
    const src = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      let h = rng.int(0x10000);
      if ((h & 0x7c00) === 0x7c00) h &= 0xbfff; // finite halves only (NaN never compares equal)
      src[i] = h;
    }
    const want = new Float32Array(n);
    ref.f16ToF32(want, src);
    const pd = heap.alloc(n * 4);
    k.f16ToF32(pd, heap.place(src), n, 0);
    check('f16ToF32', f32(pd, n), want);
  }
  for (const bits of [4, 3] as const) {
    const idx = new Uint8Array(rows * cols);
    for (let i = 0; i < idx.length; i++) idx[i] = rng.int(1 << bits);
    const packed = packIndices(idx, rows, cols, bits);
    const lut = rng.normals(rows << bits);
    const pl = heap.place(lutPlanes(lut, bits)), pp = heap.place(packed);
    const want = new Float32Array(rows);
    ref.matvecLut(want, lut, packed, x, rows, cols, bits);
    (bits === 4 ? k.matvecLut4 : k.matvecLut3)(po, pl, pp, px, cols, 0, rows);
    check(`matvecLut${bits}`, f32(po, rows), want);
    // the int8 fast path against its own twin (its error against ref.matvecLut is checked in the tests)
    const q8 = ref.lutToUint7(lut, bits);
    ref.matvecLutInt8(want, q8.table, q8.params, packed, ref.quantizeActivations(x, cols), rows, cols, bits);
    const t8 = lutInt8Table(lut, bits);
    const pxq = heap.alloc(k.activationBytes(cols));
    k.quantizeActivations(pxq, px, cols);
    const pt8 = heap.place(t8.table), ps8 = heap.place(t8.params), pi8 = heap.place(int8Indices(packed, rows, cols, bits));
    (bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8)(po, pt8, ps8, pi8, pxq, cols, 0, rows);
    check(`matvecLut${bits}Int8`, f32(po, rows), want);
    // the same with a sparse part added in the row pass (one entry per row)
    const rowPtr = Int32Array.from({ length: rows + 1 }, (_, r) => r);
    const colIdx = Int32Array.from({ length: rows }, (_, r) => (7 * r) % cols);
    const values = rng.normals(rows);
    ref.spmvCsrAdd(want, rowPtr, colIdx, values, x);
    (bits === 4 ? k.matvecLut4Int8Sparse : k.matvecLut3Int8Sparse)(po, pt8, ps8, pi8, pxq, cols, 0, rows, heap.place(rowPtr), heap.place(colIdx), heap.place(values), px);
    check(`matvecLut${bits}Int8Sparse`, f32(po, rows), want);
    const stride = activationStride(k, cols);
    const pxqs = heap.alloc(n * stride);
    for (let i = 0; i < n; i++) k.quantizeActivations(pxqs + i * stride, pxs + i * cols * 4, cols);
    const wantInt8 = new Float32Array(n * rows);
    ref.matmulLutInt8(wantInt8, q8.table, q8.params, packed, Array.from({ length: n }, (_, i) => ref.quantizeActivations(xs.subarray(i * cols, (i + 1) * cols), cols)), rows, cols, bits);
    (bits === 4 ? k.matmulLut4Int8 : k.matmulLut3Int8)(po, pt8, ps8, pi8, pxqs, stride, rows, cols, n, 0, rows);
    check(`matmulLut${bits}Int8`, f32(po, n * rows), wantInt8);
    const wantN = new Float32Array(n * rows);
    ref.matmulLut(wantN, lut, packed, xs, rows, cols, n, bits);
    (bits === 4 ? k.matmulLut4 : k.matmulLut3)(po, pl, pp, pxs, rows, cols, n, 0, rows, scratch);
    check(`matmulLut${bits}`, f32(po, n * rows), wantN);
    const pr = heap.alloc(3 * cols * 4);
    (bits === 4 ? k.dequantLut4 : k.dequantLut3)(pr, pl, pp, cols, 2, 5);
    check(`dequantLut${bits}`, f32(pr, 3 * cols), ref.dequantLut(lut, packed, rows, cols, bits).subarray(2 * cols, 5 * cols));
  }
  for (const bits of [4, 3, 8] as const) {
    const groupSize = 32;
    const nG = ref.uniformGroupCount(cols, groupSize);
    const q = new Uint8Array(rows * cols);
    for (let i = 0; i < q.length; i++) q[i] = rng.int(1 << bits);
    const packed = packIndices(q, rows, cols, bits);
    const scales = rng.normals(rows * nG, 0.1);
    const zeros = Float32Array.from({ length: rows * nG }, () => rng.int(1 << bits));
    const ps = heap.place(scales), pz = heap.place(zeros), pp = heap.place(packed);
    const want = new Float32Array(rows);
    ref.matvecUniform(want, scales, zeros, packed, x, rows, cols, groupSize, bits);
    k.matvecUniform(po, ps, pz, pp, px, cols, groupSize, bits, 0, rows);
    check(`matvecUniform${bits}`, f32(po, rows), want);
    const wantN = new Float32Array(n * rows);
    ref.matmulUniform(wantN, scales, zeros, packed, xs, rows, cols, n, groupSize, bits);
    k.matmulUniform(po, ps, pz, pp, pxs, rows, cols, n, groupSize, bits, 0, rows, scratch);
    check(`matmulUniform${bits}`, f32(po, n * rows), wantN);
    const row = new Float32Array(cols);
    ref.dequantUniformRow(row, scales, zeros, packed, 3, cols, groupSize, bits);
    const pr = heap.alloc(cols * 4);
    k.dequantUniform(pr, ps, pz, pp, cols, groupSize, bits, 3, 4);
    check(`dequantUniform${bits}`, f32(pr, cols), row);
  }
  {
    const rowPtr = new Int32Array(rows + 1);
    const colIdx: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) if (rng.next() < 0.1) colIdx.push(c);
      rowPtr[r + 1] = colIdx.length;
    }
    const ci = Int32Array.from(colIdx);
    const values = rng.normals(ci.length);
    const prp = heap.place(rowPtr), pci = heap.place(ci), pv = heap.place(values);
    const base = rng.normals(n * rows);
    const want = base.slice(0, rows);
    ref.spmvCsrAdd(want, rowPtr, ci, values, x);
    heap.write(po, base.subarray(0, rows));
    k.spmvCsrAdd(po, prp, pci, pv, px, 0, rows);
    check('spmvCsrAdd', f32(po, rows), want);
    const wantN = base.slice();
    ref.spmmCsrAdd(wantN, rowPtr, ci, values, xs, cols, n);
    heap.write(po, base);
    k.spmmCsrAdd(po, prp, pci, pv, pxs, rows, cols, n, 0, rows);
    check('spmmCsrAdd', f32(po, n * rows), wantN);
  }
  {
    const n = 37;
    const wt = rng.normals(n);
    const want = new Float32Array(n);
    ref.rmsnorm(want, x, wt, n, 1e-5);
    k.rmsnorm(po, px, heap.place(wt), n, 1e-5);
    check('rmsnorm', f32(po, n), want);
  }
  for (const style of ['interleaved', 'half'] as const) {
    const headSize = 18;
    const n = 3 * headSize;
    const v = rng.normals(n);
    const want = v.slice();
    ref.rope(want, n, headSize, 37, 10000, style);
    const pv = heap.place(v);
    (style === 'interleaved' ? k.ropeInterleaved : k.ropeHalf)(pv, n, headSize, 37, 10000);
    check(style === 'interleaved' ? 'ropeInterleaved' : 'ropeHalf', f32(pv, n), want);
  }
  {
    const n = 29;
    const v = rng.normals(n, 20);
    const want = v.slice();
    ref.softmax(want, n);
    const pv = heap.place(v);
    k.softmax(pv, n);
    check('softmax', f32(pv, n), want);
  }
  {
    const n = 31;
    const g = rng.normals(n, 3);
    const u = rng.normals(n);
    const want = new Float32Array(n);
    ref.swiglu(want, g, u, n);
    k.swiglu(po, heap.place(g), heap.place(u), n);
    check('swiglu', f32(po, n), want);
  }
  {
    const n = 23;
    const a = rng.normals(n);
    const b = rng.normals(n);
    const want = new Float32Array(n);
    ref.add(want, a, b, n);
    k.add(po, heap.place(a), heap.place(b), n);
    check('add', f32(po, n), want);
  }
  for (const kind of ['f16', 'q4'] as const) {
    // the attention block over a few positions (past one f16 window for q4), then the last token's output
    const [nHeads, nKvHeads, headSize, nPos, residual] = [6, 2, 10, 37, 32];
    const [qDim, kvDim] = [nHeads * headSize, nKvHeads * headSize];
    const cache = new RefKvCache({ kind, layers: 1, ctx: nPos, nKvHeads, headSize, residual });
    const pc = heap.alloc(k.kvCacheBytes(1, nKvHeads, headSize, nPos, KV_MODE[kind], residual));
    const scratch = heap.alloc(k.attendScratchBytes(headSize, nPos));
    const [pq, pk, pv, pa] = [heap.alloc(qDim * 4), heap.alloc(kvDim * 4), heap.alloc(kvDim * 4), heap.alloc(qDim * 4)];
    const want = new Float32Array(qDim);
    for (let p = 0; p < nPos; p++) {
      const [q, kk, vv] = [rng.normals(qDim), rng.normals(kvDim), rng.normals(kvDim)];
      heap.f32(pq, qDim).set(q);
      heap.f32(pk, kvDim).set(kk);
      heap.f32(pv, kvDim).set(vv);
      k.attendBlock(pa, pq, pk, pv, pc, 0, p, 1, nHeads, nKvHeads, headSize, nPos, KV_MODE[kind], residual, 10000, 0, scratch, 0, 0, 0);
      // the reference takes the kernel's rotated q and k, so both round the same values (RoPE is checked above)
      cache.store(0, p, heap.f32(pk, kvDim).slice(), vv);
      cache.attend(want, heap.f32(pq, qDim).slice(), 0, p + 1, nHeads);
    }
    // the quantized kinds' integer dot products round q · scale to int16 (docs/KVCACHE.md): 1e-4 or so
    check(`attendBlock ${kind}`, f32(pa, qDim), want, kind === 'f16' ? SELF_CHECK_TOLERANCE : 1e-3);
  }
  return results;
}
