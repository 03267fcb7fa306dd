import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance, type KernelInstance } from '../../src/backend/wasm/instance.ts';
import { lutPlanes } from '../../src/backend/wasm/layout.ts';
import { packIndices, rowBytes } from '../../src/format/packing.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { SIZES, assertCloseDot, assertUntouched, batchOf, checkBatched, checkDequant, dotScale, placeSentinel, rowRanges } from './_util.ts';

function randomIndices(rng: Rng, n: number, bits: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(1 << bits);
  return a;
}

/** Runs matvecLut{bits} on one random matrix over its row ranges and checks it against ref.matvecLut. */
function checkLut(inst: KernelInstance, rng: Rng, rows: number, cols: number, bits: 3 | 4, idx?: Uint8Array): void {
  const { exports: k, heap } = inst;
  const kernel = bits === 4 ? k.matvecLut4 : k.matvecLut3;
  const indices = idx ?? randomIndices(rng, rows * cols, bits);
  const packed = packIndices(indices, rows, cols, bits);
  assert.is(packed.length, rows * rowBytes(bits, cols));
  const lut = rng.normals(rows << bits, 0.05);
  const x = rng.normals(cols);
  const mark = heap.mark();
  const pl = heap.place(lutPlanes(lut, bits)), pi = heap.place(packed), px = heap.place(x);
  const dense = ref.dequantLut(lut, packed, rows, cols, bits);
  for (const [r0, r1] of rowRanges(rows)) {
    const po = placeSentinel(heap, rows);
    kernel(po, pl, pi, px, cols, r0, r1);
    const want = new Float32Array(rows);
    ref.matvecLut(want, lut, packed, x, rows, cols, bits, r0, r1);
    const got = heap.f32(po, rows);
    const what = `matvecLut${bits} ${rows}x${cols} [${r0},${r1})`;
    assertCloseDot(got.subarray(r0, r1), want.subarray(r0, r1), dotScale(dense, x, rows, cols, r0, r1), 1e-5, what);
    assertUntouched(got, r0, r1, what);
  }
  heap.release(mark);
}

for (const bits of [4, 3] as const) {
  test(`matvecLut${bits} matches the reference over every size pair and row ranges`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(100 + bits);
    for (const rows of SIZES) for (const cols of SIZES) checkLut(inst, rng, rows, cols, bits);
  });

  test(`matvecLut${bits}: every table entry at every position of a group`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(200 + bits);
    // Row r has index (c + r) mod 2^bits at column c, so each lane of the swizzle sees each entry.
    for (const cols of [32, 64, 96, 100, 127]) {
      const rows = 1 << bits;
      const idx = new Uint8Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) idx[r * cols + c] = (c + r) % (1 << bits);
      checkLut(inst, rng, rows, cols, bits, idx);
    }
  });

  test(`matvecLut${bits}: a one-hot x picks out single weights exactly`, async () => {
    const { exports: k, heap } = await createKernelInstance();
    const rng = new Rng(300 + bits);
    const [rows, cols] = [5, 77];
    const idx = randomIndices(rng, rows * cols, bits);
    const packed = packIndices(idx, rows, cols, bits);
    const lut = rng.normals(rows << bits);
    const pl = heap.place(lutPlanes(lut, bits)), pi = heap.place(packed), po = heap.alloc(rows * 4);
    for (let c = 0; c < cols; c++) {
      const x = new Float32Array(cols);
      x[c] = 1;
      const px = heap.place(x);
      kernel(k, bits)(po, pl, pi, px, cols, 0, rows);
      const got = heap.f32(po, rows);
      for (let r = 0; r < rows; r++) {
        if (got[r] !== lut[(r << bits) + idx[r * cols + c]]) assert.unreachable(`row ${r} column ${c}: ${got[r]}`);
      }
    }
  });
}

function kernel(k: KernelInstance['exports'], bits: 3 | 4) {
  return bits === 4 ? k.matvecLut4 : k.matvecLut3;
}

/** Runs matmulLut{bits} on one random matrix and n random vectors over its row ranges, against ref.matmulLut. */
function checkLutBatched(inst: KernelInstance, rng: Rng, rows: number, cols: number, n: number, bits: 3 | 4): void {
  const { exports: k, heap } = inst;
  const kernel = bits === 4 ? k.matmulLut4 : k.matmulLut3;
  const packed = packIndices(randomIndices(rng, rows * cols, bits), rows, cols, bits);
  const lut = rng.normals(rows << bits, 0.05);
  const x = rng.normals(n * cols);
  const mark = heap.mark();
  const pl = heap.place(lutPlanes(lut, bits)), pi = heap.place(packed), px = heap.place(x);
  checkBatched(heap, {
    rows, cols, n, x,
    dense: ref.dequantLut(lut, packed, rows, cols, bits),
    scratchBytes: k.matmulScratchBytes(cols),
    run: (po, r0, r1, scratch) => kernel(po, pl, pi, px, rows, cols, n, r0, r1, scratch),
    reference: (out, r0, r1) => ref.matmulLut(out, lut, packed, x, rows, cols, n, bits, r0, r1),
  }, `matmulLut${bits}`);
  heap.release(mark);
}

for (const bits of [4, 3] as const) {
  test(`matmulLut${bits} matches the reference over every size pair, n = 1..9 vectors, row ranges`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(600 + bits);
    for (const rows of SIZES) for (const cols of SIZES) checkLutBatched(inst, rng, rows, cols, batchOf(rows, cols), bits);
  });

  test(`matmulLut${bits}: every n from 1 to 9 on ragged shapes, and several row tiles`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(700 + bits);
    for (let n = 1; n <= 9; n++) for (const [rows, cols] of [[33, 65], [17, 257], [5, 31]]) checkLutBatched(inst, rng, rows, cols, n, bits);
    // 7 rows per tile of decoded rows at 4113 columns: the ranges start and end inside tiles
    checkLutBatched(inst, rng, 70, 4096 + 17, 6, bits);
  });
}

for (const bits of [4, 3] as const) {
  test(`dequantLut${bits} gives exactly the table values over every size pair and row ranges`, async () => {
    const { exports: k, heap } = await createKernelInstance();
    const rng = new Rng(800 + bits);
    const kernel = bits === 4 ? k.dequantLut4 : k.dequantLut3;
    for (const rows of SIZES) {
      for (const cols of SIZES) {
        const packed = packIndices(randomIndices(rng, rows * cols, bits), rows, cols, bits);
        const lut = rng.normals(rows << bits);
        const mark = heap.mark();
        const pl = heap.place(lutPlanes(lut, bits)), pi = heap.place(packed);
        const dense = ref.dequantLut(lut, packed, rows, cols, bits);
        checkDequant(heap, rows, cols, dense, (dst, r0, r1) => kernel(dst, pl, pi, cols, r0, r1), `dequantLut${bits}`);
        // exact: the same bits as the table entries
        const po = heap.alloc(cols * 4);
        kernel(po, pl, pi, cols, rows - 1, rows);
        assert.equal(Array.from(heap.f32(po, cols)), Array.from(dense.subarray((rows - 1) * cols)));
        heap.release(mark);
      }
    }
  });
}

test('matvecLut on a larger matrix (4096 columns) for both widths', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(400);
  checkLut(inst, rng, 24, 4096, 4);
  checkLut(inst, rng, 24, 4096 + 17, 3);
});

test.run();
