import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';
import { SIZES, assertCloseDot, assertUntouched, checkMatvec, dotScale, placeSentinel } from './_util.ts';

test('matvecF32 matches the reference on ragged shapes and row ranges', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(7);
  for (const [rows, cols] of [[1, 1], [3, 5], [7, 4], [16, 33], [33, 63], [64, 172], [5, 257]]) {
    const w = rng.normals(rows * cols);
    const x = rng.normals(cols);
    const mark = heap.mark();
    const pw = heap.place(w), px = heap.place(x), po = heap.alloc(rows * 4);
    const r0 = rows > 2 ? 1 : 0;
    k.matvecF32(po, pw, px, cols, r0, rows);
    const want = new Float32Array(rows);
    ref.matvecF32(want, w, x, rows, cols, r0, rows);
    assertClose(heap.f32(po + r0 * 4, rows - r0), want.subarray(r0), 1e-5, `${rows}x${cols}`);
    heap.release(mark);
  }
  assert.ok(true);
});

test('matvecF32 over every size pair, rows outside the range untouched', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(11);
  for (const rows of SIZES) {
    for (const cols of SIZES) {
      const w = rng.normals(rows * cols);
      const x = rng.normals(cols);
      const mark = heap.mark();
      const pw = heap.place(w), px = heap.place(x);
      checkMatvec(heap, {
        rows, cols, dense: w, x,
        run: (po, r0, r1) => k.matvecF32(po, pw, px, cols, r0, r1),
        reference: (out, r0, r1) => ref.matvecF32(out, w, x, rows, cols, r0, r1),
      }, 'matvecF32');
      heap.release(mark);
    }
  }
});

test('matmulF32 matches the reference for n = 1..9 vectors over ragged shapes', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(13);
  const ns = [1, 2, 3, 4, 5, 7, 8, 9];
  let which = 0;
  for (const rows of SIZES) {
    for (const cols of SIZES) {
      const n = ns[which++ % ns.length];
      const w = rng.normals(rows * cols);
      const x = rng.normals(n * cols);
      const mark = heap.mark();
      const pw = heap.place(w), px = heap.place(x);
      const po = placeSentinel(heap, n * rows + 4);
      k.matmulF32(po, pw, px, rows, cols, n);
      const want = new Float32Array(n * rows);
      ref.matmulF32(want, w, x, rows, cols, n);
      const got = heap.f32(po, n * rows + 4);
      let scale = 0;
      for (let i = 0; i < n; i++) scale = Math.max(scale, dotScale(w, x.subarray(i * cols, (i + 1) * cols), rows, cols));
      assertCloseDot(got.subarray(0, n * rows), want, scale, 1e-5, `matmulF32 ${rows}x${cols} n=${n}`);
      assertUntouched(got, 0, n * rows, `matmulF32 ${rows}x${cols} n=${n}`);
      heap.release(mark);
    }
  }
});

test('matmulF32 on a wide matrix (several row tiles) with n = 6', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(17);
  const [rows, cols, n] = [70, 1031, 6];
  const w = rng.normals(rows * cols);
  const x = rng.normals(n * cols);
  const pw = heap.place(w), px = heap.place(x), po = heap.alloc(n * rows * 4);
  k.matmulF32(po, pw, px, rows, cols, n);
  const want = new Float32Array(n * rows);
  ref.matmulF32(want, w, x, rows, cols, n);
  assertClose(heap.f32(po, n * rows), want, 1e-5, 'matmulF32 70x1031 n=6');
});

test.run();
