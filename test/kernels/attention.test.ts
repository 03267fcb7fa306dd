import { test } from 'uvu';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';
import { assertUntouched, placeSentinel } from './_util.ts';

test('attention matches the reference: GQA shapes, nPos 1..40, ragged head sizes', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(81);
  const shapes: [number, number][] = [[8, 8], [8, 4], [8, 2], [8, 1], [3, 1], [1, 1], [6, 3]];
  for (const [nHeads, nKvHeads] of shapes) {
    for (const headSize of [1, 3, 4, 16, 17, 64]) {
      for (let nPos = 1; nPos <= 40; nPos++) {
        const kvDim = nKvHeads * headSize;
        const q = rng.normals(nHeads * headSize);
        const kc = rng.normals(nPos * kvDim);
        const vc = rng.normals(nPos * kvDim);
        const want = new Float32Array(nHeads * headSize);
        ref.attention(want, q, kc, vc, nHeads, nKvHeads, headSize, nPos);
        const mark = heap.mark();
        const pq = heap.place(q), pk = heap.place(kc), pv = heap.place(vc);
        const patt = heap.alloc(nPos * 4);
        const po = placeSentinel(heap, nHeads * headSize + 3);
        k.attention(po, pq, pk, pv, patt, nHeads, nKvHeads, headSize, nPos);
        const got = heap.f32(po, nHeads * headSize + 3);
        const what = `attention heads=${nHeads}/${nKvHeads} headSize=${headSize} nPos=${nPos}`;
        assertClose(got.subarray(0, nHeads * headSize), want, 1e-5, what);
        assertUntouched(got, 0, nHeads * headSize, what);
        heap.release(mark);
      }
    }
  }
});

test('attention with peaked scores (large q) and a long cache', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(83);
  const [nHeads, nKvHeads, headSize, nPos] = [8, 2, 64, 300];
  const kvDim = nKvHeads * headSize;
  const q = rng.normals(nHeads * headSize, 8);
  const kc = rng.normals(nPos * kvDim);
  const vc = rng.normals(nPos * kvDim);
  const want = new Float32Array(nHeads * headSize);
  ref.attention(want, q, kc, vc, nHeads, nKvHeads, headSize, nPos);
  const pq = heap.place(q), pk = heap.place(kc), pv = heap.place(vc), patt = heap.alloc(nPos * 4), po = heap.alloc(want.byteLength);
  k.attention(po, pq, pk, pv, patt, nHeads, nKvHeads, headSize, nPos);
  assertClose(heap.f32(po, want.length), want, 1e-5, 'attention peaked');
});

test.run();
