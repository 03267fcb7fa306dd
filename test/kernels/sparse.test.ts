import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { SIZES, assertCloseDot, assertUntouched, batchOf, checkBatched, dotScale, randomCsr, rowRanges } from './_util.ts';

test('spmvCsrAdd adds the sparse product into out over every size pair and row ranges', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(21);
  for (const rows of SIZES) {
    for (const cols of SIZES) {
      const density = [0.01, 0.1, 0.5, 1][(rows + cols) % 4];
      const m = randomCsr(rng, rows, cols, density);
      const x = rng.normals(cols);
      const base = rng.normals(rows);
      const mark = heap.mark();
      // an empty values / colIdx array still gets a (slack-padded) block
      const prp = heap.place(m.rowPtr), pci = heap.place(m.colIdx), pv = heap.place(m.values), px = heap.place(x);
      for (const [r0, r1] of rowRanges(rows)) {
        const po = heap.place(base);
        k.spmvCsrAdd(po, prp, pci, pv, px, r0, r1);
        const want = base.slice();
        ref.spmvCsrAdd(want, m.rowPtr, m.colIdx, m.values, x, r0, r1);
        const got = heap.f32(po, rows);
        const what = `spmvCsrAdd ${rows}x${cols} density ${density} [${r0},${r1})`;
        const scale = Math.max(dotScale(m.dense, x, rows, cols, r0, r1), ...base.subarray(r0, r1).map(Math.abs));
        assertCloseDot(got.subarray(r0, r1), want.subarray(r0, r1), scale, 1e-5, what);
        for (let r = 0; r < rows; r++) if ((r < r0 || r >= r1) && got[r] !== base[r]) assert.unreachable(`${what}: row ${r} changed`);
      }
      heap.release(mark);
    }
  }
});

test('spmmCsrAdd adds the sparse product of n = 1..9 vectors into out over every size pair and row ranges', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(23);
  const check = (rows: number, cols: number, n: number, density: number) => {
    const m = randomCsr(rng, rows, cols, density);
    const x = rng.normals(n * cols);
    const mark = heap.mark();
    const prp = heap.place(m.rowPtr), pci = heap.place(m.colIdx), pv = heap.place(m.values), px = heap.place(x);
    checkBatched(heap, {
      rows, cols, n, x,
      dense: m.dense,
      base: rng.normals(n * rows),
      run: (po, r0, r1) => k.spmmCsrAdd(po, prp, pci, pv, px, rows, cols, n, r0, r1),
      reference: (out, r0, r1) => ref.spmmCsrAdd(out, m.rowPtr, m.colIdx, m.values, x, cols, n, r0, r1),
    }, `spmmCsrAdd density ${density}`);
    heap.release(mark);
  };
  for (const rows of SIZES) for (const cols of SIZES) check(rows, cols, batchOf(rows, cols), [0.01, 0.1, 0.5, 1][(rows + cols) % 4]);
  for (let n = 1; n <= 9; n++) check(33, 65, n, 0.1);
});

test('spmmCsrAdd gives each vector spmvCsrAdd\'s bits, n = 1..9 (a batch on the int8 fast path must give what one token gives)', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(29);
  const [rows, cols] = [40, 100];
  const m = randomCsr(rng, rows, cols, 0.3);
  const prp = heap.place(m.rowPtr), pci = heap.place(m.colIdx), pv = heap.place(m.values);
  for (let n = 1; n <= 9; n++) {
    const px = heap.place(rng.normals(n * cols));
    const base = rng.normals(n * rows);
    const pa = heap.place(base), pb = heap.place(base);
    for (let i = 0; i < n; i++) k.spmvCsrAdd(pa + i * rows * 4, prp, pci, pv, px + i * cols * 4, 0, rows);
    k.spmmCsrAdd(pb, prp, pci, pv, px, rows, cols, n, 0, rows);
    assert.equal(Array.from(heap.f32(pb, n * rows)), Array.from(heap.f32(pa, n * rows)), `n = ${n}`);
  }
});

test('spmvCsrAdd with a fully empty matrix leaves out as it was', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rows = 9;
  const prp = heap.place(new Int32Array(rows + 1)), pci = heap.alloc(0), pv = heap.alloc(0), px = heap.place(new Float32Array(4));
  const out = new Float32Array(rows).fill(12345.5);
  const po = heap.place(out);
  k.spmvCsrAdd(po, prp, pci, pv, px, 0, rows);
  assertUntouched(heap.f32(po, rows), 0, 0, 'empty CSR');
});

test.run();
