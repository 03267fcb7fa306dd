import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance, enableRelaxedSimd, relaxedSimdAvailable, type KernelBuild, type KernelInstance } from '../../src/backend/wasm/instance.ts';
import { int8Indices, lutInt8Table, lutPlanes } from '../../src/backend/wasm/layout.ts';
import { activationStride } from '../../src/backend/wasm/protocol.ts';
import { packIndices } from '../../src/format/packing.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { skip } from '../helpers.ts';
import { SIZES, assertCloseDot, assertUntouched, dotScale, placeSentinel, randomCsr, rowRanges } from './_util.ts';

// Both builds of the kernels run every test: plain SIMD, and relaxed SIMD (on Node 20 behind a flag
// that this turns on; where the engine has no relaxed SIMD at all, its tests are skipped).
await enableRelaxedSimd();
const BUILDS: KernelBuild[] = relaxedSimdAvailable() ? ['simd', 'relaxed'] : ['simd'];
if (!relaxedSimdAvailable()) skip('lutint8: this engine has no relaxed SIMD; only the plain SIMD build is tested');

/**
 * The int8 fast path against the exact ref.matvecLut: norm-wise error as assertCloseDot measures it,
 * for rows of at least MIN_COLS_EXACT columns. Measured up to 3.6e-2 on one row of model-like data (norm-wise over many rows 0.7e-2 to 1.7e-2, RMS 0.7e-2 to 1.4e-2) (docs/KERNELS.md,
 * "LUT products"): the table rounds each entry by up to (max - min) / 254 of its row, and the int8
 * activations each value by up to max|x| / 254 of its block of 32 (a block holding an outlier channel
 * rounds the rest coarsely). In a row of a few columns these errors do not average out, so short rows
 * are checked against the twin only.
 */
const INT8_TOLERANCE = 5e-2;
const MIN_COLS_EXACT = 64;

function randomIndices(rng: Rng, n: number, bits: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(1 << bits);
  return a;
}

/** Sorted per-row centroids of normals with a per-row spread, as k-means on a weight row gives. */
function modelLikeLut(rng: Rng, rows: number, bits: number): Float32Array {
  const levels = 1 << bits;
  const lut = new Float32Array(rows * levels);
  for (let r = 0; r < rows; r++) lut.set(Array.from(rng.normals(levels, 0.02 * (0.5 + rng.next()))).sort((a, b) => a - b), r * levels);
  return lut;
}

/** Activations with a few outlier channels 30 times the rest, as after RMSNorm in a real model. */
function modelLikeX(rng: Rng, cols: number): Float32Array {
  const x = rng.normals(cols);
  for (let i = 0; i < 4; i++) x[rng.int(cols)] *= 30;
  return x;
}

/**
 * The largest offset term |lo[r] * S| of rows r0..r1: the kernel adds it to step * sum in f32, so a row
 * whose two terms cancel is rounded relative to them, not to the result (the twin sums in f64).
 */
function offsetScale(params: Float32Array, sum: number, r0: number, r1: number): number {
  let m = 0;
  for (let r = r0; r < r1; r++) m = Math.max(m, Math.abs(params[2 * r + 1] * sum));
  return m;
}

/**
 * Runs matvecLut{bits}Int8 on one matrix over its row ranges: against its twin ref.matvecLutInt8 at
 * 1e-5 and, from MIN_COLS_EXACT columns, against the exact ref.matvecLut at INT8_TOLERANCE; returns the
 * largest error against the exact one.
 */
function checkInt8(inst: KernelInstance, rows: number, cols: number, bits: 3 | 4, lut: Float32Array, x: Float32Array, idx: Uint8Array): number {
  const { exports: k, heap } = inst;
  const packed = packIndices(idx, rows, cols, bits);
  const t8 = lutInt8Table(lut, bits);
  const q8 = ref.lutToUint7(lut, bits);
  const xq = ref.quantizeActivations(x, cols);
  const dense = ref.dequantLut(lut, packed, rows, cols, bits);
  const mark = heap.mark();
  const pt = heap.place(t8.table), ps = heap.place(t8.params), pi = heap.place(int8Indices(packed, rows, cols, bits)), px = heap.place(x);
  const pxq = heap.alloc(k.activationBytes(cols));
  k.quantizeActivations(pxq, px, cols);
  let worst = 0;
  for (const [r0, r1] of rowRanges(rows)) {
    const po = placeSentinel(heap, rows);
    (bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8)(po, pt, ps, pi, pxq, cols, r0, r1);
    const got = heap.f32(po, rows).slice();
    const what = `matvecLut${bits}Int8 (${inst.build}) ${rows}x${cols} [${r0},${r1})`;
    assertUntouched(got, r0, r1, what);
    const twin = new Float32Array(rows);
    ref.matvecLutInt8(twin, q8.table, q8.params, packed, xq, rows, cols, bits, r0, r1);
    const scale = dotScale(dense, x, rows, cols, r0, r1);
    assertCloseDot(got.subarray(r0, r1), twin.subarray(r0, r1), Math.max(scale, offsetScale(q8.params, xq.sum, r0, r1)), 1e-5, `${what} against its twin`);
    if (cols < MIN_COLS_EXACT) continue;
    const exact = new Float32Array(rows);
    ref.matvecLut(exact, lut, packed, x, rows, cols, bits, r0, r1);
    assertCloseDot(got.subarray(r0, r1), exact.subarray(r0, r1), scale, INT8_TOLERANCE, `${what} against the exact reference`);
    let d = 0, big = scale;
    for (let r = r0; r < r1; r++) {
      d = Math.max(d, Math.abs(got[r] - exact[r]));
      big = Math.max(big, Math.abs(exact[r]));
    }
    worst = Math.max(worst, d / big);
  }
  heap.release(mark);
  return worst;
}

for (const build of BUILDS) {
  test(`quantizeActivations (${build}) matches its twin: the same values, scales and sum, zeros to the whole group`, async () => {
    const { exports: k, heap } = await createKernelInstance(undefined, build);
    const rng = new Rng(800);
    // the record stores the values as int8 for the relaxed dot, as int16 in the plain build (lutint8.ts)
    const width = build === 'relaxed' ? 1 : 2;
    for (const cols of [...SIZES, 255, 256, 257, 511, 513, 800]) {
      const x = modelLikeX(rng, cols);
      if (cols > 40) x.fill(0, 0, 32); // a whole block of zeros
      const want = ref.quantizeActivations(x, cols);
      const bytes = k.activationBytes(cols);
      assert.is(bytes, want.q.length * width + want.scales.length * 4 + 4, `activationBytes(${cols})`);
      const mark = heap.mark();
      const pxq = placeSentinel(heap, Math.ceil(bytes / 4) + 4);
      k.quantizeActivations(pxq, heap.place(x), cols);
      const q = heap.u8(pxq, want.q.length * width).slice().buffer;
      assert.equal(Array.from(width === 1 ? new Int8Array(q) : new Int16Array(q)), Array.from(want.q), `q at ${cols} columns`);
      assert.equal(Array.from(heap.f32(pxq + want.q.length * width, want.scales.length + 1)), [...want.scales, Math.fround(want.sum)], `scales and sum at ${cols} columns`);
      assertUntouched(heap.f32(pxq, bytes / 4 + 4), 0, bytes / 4, `quantizeActivations ${cols}`);
      // each value within half a step of its block's scale (an independent check of the rounding)
      for (let c = 0; c < cols; c++) {
        const s = want.scales[c >> 5];
        if (Math.abs(want.q[c] * s - x[c]) > s * 0.5001) assert.unreachable(`x[${c}] = ${x[c]} quantized to ${want.q[c]} * ${s}`);
      }
      heap.release(mark);
    }
    const zeros = ref.quantizeActivations(new Float32Array(300), 300);
    assert.ok(zeros.q.every((v) => v === 0) && zeros.scales.every((v) => v === 0) && zeros.sum === 0, 'a zero vector gives zero values, scales and sum');
  });

  for (const bits of [4, 3] as const) {
    test(`matvecLut${bits}Int8 (${build}) matches its twin over every size pair, and the exact reference within ${INT8_TOLERANCE}`, async () => {
      const inst = await createKernelInstance(undefined, build);
      const rng = new Rng(900 + bits);
      for (const rows of SIZES) {
        for (const cols of SIZES) checkInt8(inst, rows, cols, bits, rng.normals(rows << bits, 0.05), rng.normals(cols), randomIndices(rng, rows * cols, bits));
      }
    });

    test(`matvecLut${bits}Int8 (${build}) on model-like tables and activations, several activation blocks`, async () => {
      const inst = await createKernelInstance(undefined, build);
      const rng = new Rng(1000 + bits);
      for (const [rows, cols] of [[64, 288], [96, 768], [24, 2048 + 17]]) {
        const worst = checkInt8(inst, rows, cols, bits, modelLikeLut(rng, rows, bits), modelLikeX(rng, cols), randomIndices(rng, rows * cols, bits));
        assert.ok(worst > 0, 'the fast path is not exact: an error of 0 means the test does not reach it');
      }
    });

    test(`matvecLut${bits}Int8 (${build}): a one-hot x gives each weight's table entry within half a 7-bit step`, async () => {
      const { exports: k, heap } = await createKernelInstance(undefined, build);
      const rng = new Rng(1100 + bits);
      const [rows, cols] = [7, 77];
      const idx = randomIndices(rng, rows * cols, bits);
      const lut = rng.normals(rows << bits);
      lut.fill(0.25, 0, 1 << bits); // a row of equal entries: step 0
      const t8 = lutInt8Table(lut, bits);
      const pt = heap.place(t8.table), pp = heap.place(t8.params), pi = heap.place(int8Indices(packIndices(idx, rows, cols, bits), rows, cols, bits)), po = heap.alloc(rows * 4);
      const pxq = heap.alloc(k.activationBytes(cols));
      for (let c = 0; c < cols; c++) {
        const x = new Float32Array(cols);
        x[c] = 1;
        k.quantizeActivations(pxq, heap.place(x), cols);
        (bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8)(po, pt, pp, pi, pxq, cols, 0, rows);
        const got = heap.f32(po, rows);
        for (let r = 0; r < rows; r++) {
          const want = lut[(r << bits) + idx[r * cols + c]];
          const halfStep = t8.params[2 * r] / 2;
          if (Math.abs(got[r] - want) > halfStep + 1e-6 * Math.abs(want)) assert.unreachable(`row ${r} column ${c}: ${got[r]} vs ${want} (half step ${halfStep})`);
        }
      }
    });
  }
}

/**
 * matvecLut{bits}Int8Sparse (the sparse part in the row pass) on one matrix over its row ranges: the
 * bits of matvecLut{bits}Int8 followed by spmvCsrAdd, nothing outside the range written, and within 1e-5
 * of the twins ref.matvecLutInt8 + ref.spmvCsrAdd.
 */
function checkInt8Sparse(inst: KernelInstance, rows: number, cols: number, bits: 3 | 4, rng: Rng, density: number): void {
  const { exports: k, heap } = inst;
  const lut = rng.normals(rows << bits, 0.05);
  const x = rng.normals(cols);
  const packed = packIndices(randomIndices(rng, rows * cols, bits), rows, cols, bits);
  const csr = randomCsr(rng, rows, cols, density);
  const t8 = lutInt8Table(lut, bits);
  const q8 = ref.lutToUint7(lut, bits);
  const xq = ref.quantizeActivations(x, cols);
  const dense = ref.dequantLut(lut, packed, rows, cols, bits);
  for (let i = 0; i < dense.length; i++) dense[i] += csr.dense[i];
  const mark = heap.mark();
  const pt = heap.place(t8.table), ps = heap.place(t8.params), pi = heap.place(int8Indices(packed, rows, cols, bits)), px = heap.place(x);
  const prp = heap.place(csr.rowPtr), pci = heap.place(csr.colIdx.length ? csr.colIdx : new Int32Array(1)), pv = heap.place(csr.values.length ? csr.values : new Float32Array(1));
  const pxq = heap.alloc(k.activationBytes(cols));
  k.quantizeActivations(pxq, px, cols);
  for (const [r0, r1] of rowRanges(rows)) {
    const what = `matvecLut${bits}Int8Sparse (${inst.build}) ${rows}x${cols} [${r0},${r1})`;
    const po = placeSentinel(heap, rows);
    (bits === 4 ? k.matvecLut4Int8Sparse : k.matvecLut3Int8Sparse)(po, pt, ps, pi, pxq, cols, r0, r1, prp, pci, pv, px);
    const got = heap.f32(po, rows).slice();
    assertUntouched(got, r0, r1, what);
    const pw = placeSentinel(heap, rows);
    (bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8)(pw, pt, ps, pi, pxq, cols, r0, r1);
    k.spmvCsrAdd(pw, prp, pci, pv, px, r0, r1);
    assert.equal(Array.from(got), Array.from(heap.f32(pw, rows)), `${what}: the bits of the two passes`);
    const twin = new Float32Array(rows);
    ref.matvecLutInt8(twin, q8.table, q8.params, packed, xq, rows, cols, bits, r0, r1);
    ref.spmvCsrAdd(twin, csr.rowPtr, csr.colIdx, csr.values, x, r0, r1);
    const scale = dotScale(dense, x, rows, cols, r0, r1);
    assertCloseDot(got.subarray(r0, r1), twin.subarray(r0, r1), Math.max(scale, offsetScale(q8.params, xq.sum, r0, r1)), 1e-5, `${what} against its twins`);
  }
  heap.release(mark);
}

for (const build of BUILDS) {
  for (const bits of [4, 3] as const) {
    test(`matvecLut${bits}Int8Sparse (${build}) gives matvecLut${bits}Int8 then spmvCsrAdd bit for bit, every size pair, row ranges`, async () => {
      const inst = await createKernelInstance(undefined, build);
      const rng = new Rng(1500 + bits);
      for (const rows of SIZES) {
        for (const cols of SIZES) checkInt8Sparse(inst, rows, cols, bits, rng, rng.next() < 0.5 ? 0.05 : 0.3);
      }
      checkInt8Sparse(inst, 64, 2048 + 17, bits, rng, 0.0045);
    });
  }
}

/**
 * matmulLut{bits}Int8 on n vectors against n calls of matvecLut{bits}Int8 on the same quantized
 * vectors: the same bits in every output of the row range (the batched product must score what
 * generation computes), nothing outside it written; and against the twin ref.matmulLutInt8 at 1e-5.
 */
function checkBatchedInt8(inst: KernelInstance, rows: number, cols: number, n: number, bits: 3 | 4, lut: Float32Array, x: Float32Array, idx: Uint8Array): void {
  const { exports: k, heap } = inst;
  const packed = packIndices(idx, rows, cols, bits);
  const t8 = lutInt8Table(lut, bits);
  const q8 = ref.lutToUint7(lut, bits);
  const dense = ref.dequantLut(lut, packed, rows, cols, bits);
  const mark = heap.mark();
  const pt = heap.place(t8.table), ps = heap.place(t8.params), pi = heap.place(int8Indices(packed, rows, cols, bits)), px = heap.place(x);
  const stride = activationStride(k, cols);
  const pxq = heap.alloc(n * stride);
  for (let i = 0; i < n; i++) k.quantizeActivations(pxq + i * stride, px + i * cols * 4, cols);
  const xq = Array.from({ length: n }, (_, i) => ref.quantizeActivations(x.subarray(i * cols, (i + 1) * cols), cols));
  for (const [r0, r1] of rowRanges(rows)) {
    const what = `matmulLut${bits}Int8 (${inst.build}) ${rows}x${cols} n=${n} [${r0},${r1})`;
    const pm = placeSentinel(heap, n * rows);
    const pv = placeSentinel(heap, n * rows);
    (bits === 4 ? k.matmulLut4Int8 : k.matmulLut3Int8)(pm, pt, ps, pi, pxq, stride, rows, cols, n, r0, r1);
    for (let i = 0; i < n; i++) (bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8)(pv + i * rows * 4, pt, ps, pi, pxq + i * stride, cols, r0, r1);
    const got = heap.f32(pm, n * rows).slice();
    const want = heap.f32(pv, n * rows).slice();
    const twin = new Float32Array(n * rows);
    ref.matmulLutInt8(twin, q8.table, q8.params, packed, xq, rows, cols, bits, r0, r1);
    for (let i = 0; i < n; i++) {
      const v = (a: Float32Array) => a.subarray(i * rows, (i + 1) * rows);
      assertUntouched(v(got), r0, r1, `${what} vector ${i}`);
      assert.equal(Array.from(v(got)), Array.from(v(want)), `${what} vector ${i}: the matvec's bits`);
      const scale = dotScale(dense, x.subarray(i * cols, (i + 1) * cols), rows, cols, r0, r1);
      assertCloseDot(v(got).subarray(r0, r1), v(twin).subarray(r0, r1), Math.max(scale, offsetScale(q8.params, xq[i].sum, r0, r1)), 1e-5, `${what} vector ${i} against its twin`);
    }
  }
  heap.release(mark);
}

for (const build of BUILDS) {
  for (const bits of [4, 3] as const) {
    test(`matmulLut${bits}Int8 (${build}) gives matvecLut${bits}Int8's bits for every vector: n = 1..9 and 16..21 (the 3-bit tiles of 8 and their rest), every size pair, row ranges`, async () => {
      const inst = await createKernelInstance(undefined, build);
      const rng = new Rng(1200 + bits);
      for (const rows of SIZES) {
        for (const cols of SIZES) {
          const n = 1 + rng.int(9);
          checkBatchedInt8(inst, rows, cols, n, bits, rng.normals(rows << bits, 0.05), rng.normals(n * cols), randomIndices(rng, rows * cols, bits));
        }
      }
      for (const n of [1, 2, 3, 4, 5, 8, 9, 16, 17, 19, 21]) checkBatchedInt8(inst, 33, 65, n, bits, rng.normals(33 << bits, 0.05), rng.normals(n * 65), randomIndices(rng, 33 * 65, bits));
    });

    test(`matmulLut${bits}Int8 (${build}) on model-like data: many activation blocks, wide rows`, async () => {
      const inst = await createKernelInstance(undefined, build);
      const rng = new Rng(1300 + bits);
      // 2048 + 17 columns: the last block partial; 11008 columns: 344 blocks
      for (const [rows, cols, n] of [[64, 288, 7], [24, 2048 + 17, 6], [9, 11008, 5]]) {
        const x = new Float32Array(n * cols);
        for (let i = 0; i < n; i++) x.set(modelLikeX(rng, cols), i * cols);
        checkBatchedInt8(inst, rows, cols, n, bits, modelLikeLut(rng, rows, bits), x, randomIndices(rng, rows * cols, bits));
      }
    });
  }
}

for (const build of BUILDS) {
  test(`dequantLut3Blocks (${build}): int8Indices' 3-bit layout decodes to each weight's exact entry, every size pair, row ranges`, async () => {
    const { exports: k, heap } = await createKernelInstance(undefined, build);
    const rng = new Rng(1400);
    for (const rows of [1, 3, 9]) {
      for (const cols of SIZES) {
        const lut = rng.normals(rows << 3);
        const packed = packIndices(randomIndices(rng, rows * cols, 3), rows, cols, 3);
        const want = ref.dequantLut(lut, packed, rows, cols, 3);
        const mark = heap.mark();
        const pl = heap.place(lutPlanes(lut, 3)), pi = heap.place(int8Indices(packed, rows, cols, 3));
        for (const [r0, r1] of rowRanges(rows)) {
          const pd = heap.alloc((r1 - r0) * cols * 4);
          k.dequantLut3Blocks(pd, pl, pi, cols, r0, r1);
          assert.equal(Array.from(heap.f32(pd, (r1 - r0) * cols)), Array.from(want.subarray(r0 * cols, r1 * cols)), `${rows}x${cols} [${r0},${r1})`);
        }
        heap.release(mark);
      }
    }
  });
}

test('int8Indices: 4 bits are the packed array itself; 3 bits fill whole 64-weight blocks of 24 bytes', () => {
  const rng = new Rng(1500);
  const p4 = packIndices(randomIndices(rng, 5 * 40, 4), 5, 40, 4);
  assert.is(int8Indices(p4, 5, 40, 4), p4);
  for (const cols of [1, 63, 64, 65, 200]) assert.is(int8Indices(packIndices(randomIndices(rng, 3 * cols, 3), 3, cols, 3), 3, cols, 3).length, 3 * Math.ceil(cols / 64) * 24, `${cols} columns`);
});

test('lutPlanes: plane b, lane k is byte b of entry k; lanes past the entries are 0', () => {
  const lut = Float32Array.of(1, -2, 0.5, 3e-39, 7, 8, 9, 10);
  const planes = lutPlanes(lut, 3);
  const bytes = new Uint8Array(lut.buffer);
  for (let b = 0; b < 4; b++) {
    for (let k = 0; k < 16; k++) assert.is(planes[16 * b + k], k < 8 ? bytes[4 * k + b] : 0, `plane ${b} lane ${k}`);
  }
});

test.run();
