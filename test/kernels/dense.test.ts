import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';

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

test.run();
