// matvecUniform and matmulUniform (assembly/uniform.ts) against ref.matvecUniform / ref.matmulUniform:
// every size pair, 3/4/8 bits, group sizes 32, 64, 128, one group per row and two that take the
// scalar path; n = 1..9 vectors; row ranges; exact single weights; and both backends (the wasm one
// also on threads) running a uniform record like its dequantized f32 twin.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { createKernelInstance, type KernelInstance } from '../../src/backend/wasm/instance.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import type { Backend } from '../../src/backend/types.ts';
import { dequantize, type TensorRecord, type UniformRecord } from '../../src/format/kinds.ts';
import { packIndices, type PackedBits, rowBytes } from '../../src/format/packing.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { SIZES, assertCloseDot, assertUntouched, batchOf, checkBatched, checkDequant, dotScale, placeSentinel, rowRanges } from './_util.ts';

const BITS: PackedBits[] = [4, 3, 8];

/** A random uniform record: values anywhere in 0..2^bits-1, positive scales, integer or fractional zeros. */
function randomUniform(rng: Rng, rows: number, cols: number, bits: PackedBits, groupSize: number, fractionalZeros = false): UniformRecord {
  const maxq = (1 << bits) - 1;
  const q = new Uint8Array(rows * cols);
  for (let i = 0; i < q.length; i++) q[i] = rng.int(maxq + 1);
  const n = rows * ref.uniformGroupCount(cols, groupSize);
  const scales = new Float32Array(n);
  const zeros = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    scales[i] = 0.01 + 0.05 * rng.next();
    zeros[i] = fractionalZeros ? rng.next() * maxq : rng.int(maxq + 1);
  }
  return { name: 'w', kind: 'uniform', shape: [rows, cols], bits, groupSize, scales, zeros, values: packIndices(q, rows, cols, bits) };
}

function checkUniform(inst: KernelInstance, rng: Rng, rec: UniformRecord): void {
  const { exports: k, heap } = inst;
  const [rows, cols] = rec.shape;
  assert.is(rec.values.length, rows * rowBytes(rec.bits, cols));
  const x = rng.normals(cols);
  const mark = heap.mark();
  const ps = heap.place(rec.scales), pz = heap.place(rec.zeros), pv = heap.place(rec.values), px = heap.place(x);
  const dense = dequantize(rec);
  for (const [r0, r1] of rowRanges(rows)) {
    const po = placeSentinel(heap, rows);
    k.matvecUniform(po, ps, pz, pv, px, cols, rec.groupSize, rec.bits, r0, r1);
    const want = new Float32Array(rows);
    ref.matvecUniform(want, rec.scales, rec.zeros, rec.values, x, rows, cols, rec.groupSize, rec.bits, r0, r1);
    const got = heap.f32(po, rows);
    const what = `matvecUniform ${rec.bits}-bit g${rec.groupSize} ${rows}x${cols} [${r0},${r1})`;
    assertCloseDot(got.subarray(r0, r1), want.subarray(r0, r1), dotScale(dense, x, rows, cols, r0, r1), 1e-5, what);
    assertUntouched(got, r0, r1, what);
  }
  heap.release(mark);
}

for (const bits of BITS) {
  test(`matvecUniform ${bits}-bit matches the reference over every size pair, group sizes 32/64/128/row/odd, row ranges`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(400 + bits);
    for (const rows of SIZES) {
      for (const cols of SIZES) {
        for (const gs of [32, 64, 128, 1 << 20, 48]) checkUniform(inst, rng, randomUniform(rng, rows, cols, bits, gs, (rows + cols) % 2 === 1));
      }
    }
    // more shapes for the other scalar-path group sizes and exact multiples
    for (const [rows, cols, gs] of [[3, 100, 7], [4, 256, 256], [5, 257, 256], [2, 4096, 128], [3, 1000, 1000], [2, 96, 1]] as const) {
      checkUniform(inst, rng, randomUniform(rng, rows, cols, bits, gs));
    }
  });

  test(`matvecUniform ${bits}-bit: a one-hot x picks out single weights exactly (integer zeros)`, async () => {
    const { exports: k, heap } = await createKernelInstance();
    const rng = new Rng(500 + bits);
    for (const [rows, cols, gs] of [[5, 77, 32], [3, 96, 64], [2, 70, 1000], [2, 50, 20]] as const) {
      const rec = randomUniform(rng, rows, cols, bits, gs);
      const dense = dequantize(rec);
      const mark = heap.mark();
      const ps = heap.place(rec.scales), pz = heap.place(rec.zeros), pv = heap.place(rec.values), po = heap.alloc(rows * 4);
      for (let c = 0; c < cols; c++) {
        const x = new Float32Array(cols);
        x[c] = 1;
        k.matvecUniform(po, ps, pz, pv, heap.place(x), cols, gs, bits, 0, rows);
        const got = heap.f32(po, rows);
        for (let r = 0; r < rows; r++) {
          if (got[r] !== dense[r * cols + c]) assert.unreachable(`${rows}x${cols} g${gs}: row ${r} column ${c}: ${got[r]} vs ${dense[r * cols + c]}`);
        }
      }
      heap.release(mark);
    }
  });
}

/** matmulUniform on one record and n random vectors over its row ranges, against ref.matmulUniform. */
function checkUniformBatched(inst: KernelInstance, rng: Rng, rec: UniformRecord, n: number): void {
  const { exports: k, heap } = inst;
  const [rows, cols] = rec.shape;
  const x = rng.normals(n * cols);
  const mark = heap.mark();
  const ps = heap.place(rec.scales), pz = heap.place(rec.zeros), pv = heap.place(rec.values), px = heap.place(x);
  checkBatched(heap, {
    rows, cols, n, x,
    dense: dequantize(rec),
    scratchBytes: k.matmulScratchBytes(cols),
    run: (po, r0, r1, scratch) => k.matmulUniform(po, ps, pz, pv, px, rows, cols, n, rec.groupSize, rec.bits, r0, r1, scratch),
    reference: (out, r0, r1) => ref.matmulUniform(out, rec.scales, rec.zeros, rec.values, x, rows, cols, n, rec.groupSize, rec.bits, r0, r1),
  }, `matmulUniform ${rec.bits}-bit g${rec.groupSize}`);
  heap.release(mark);
}

for (const bits of BITS) {
  test(`matmulUniform ${bits}-bit matches the reference over every size pair, n = 1..9, group sizes 32/64/128/row/odd, row ranges`, async () => {
    const inst = await createKernelInstance();
    const rng = new Rng(900 + bits);
    for (const rows of SIZES) {
      for (const cols of SIZES) {
        const n = batchOf(rows, cols);
        for (const gs of [32, 64, 128, 1 << 20, 48]) checkUniformBatched(inst, rng, randomUniform(rng, rows, cols, bits, gs, (rows + cols) % 2 === 1), n);
      }
    }
    // every n on a few shapes, and several row tiles (7 decoded rows per tile at 4113 columns)
    for (let n = 1; n <= 9; n++) for (const [rows, cols, gs] of [[33, 65, 32], [17, 257, 128], [6, 100, 7]] as const) checkUniformBatched(inst, rng, randomUniform(rng, rows, cols, bits, gs), n);
    checkUniformBatched(inst, rng, randomUniform(rng, 70, 4096 + 17, bits, 128), 6);
  });
}

for (const bits of BITS) {
  test(`dequantUniform ${bits}-bit matches the reference rows over every size pair, group sizes 32/128/row/48, row ranges`, async () => {
    const { exports: k, heap } = await createKernelInstance();
    const rng = new Rng(850 + bits);
    for (const rows of SIZES) {
      for (const cols of SIZES) {
        for (const gs of [32, 128, 1 << 20, 48]) {
          const rec = randomUniform(rng, rows, cols, bits, gs, (rows + cols) % 2 === 1);
          const dense = new Float32Array(rows * cols);
          for (let r = 0; r < rows; r++) ref.dequantUniformRow(dense.subarray(r * cols), rec.scales, rec.zeros, rec.values, r, cols, gs, bits);
          const mark = heap.mark();
          const ps = heap.place(rec.scales), pz = heap.place(rec.zeros), pv = heap.place(rec.values);
          checkDequant(heap, rows, cols, dense, (dst, r0, r1) => k.dequantUniform(dst, ps, pz, pv, cols, gs, bits, r0, r1), `dequantUniform ${bits}-bit g${gs}`);
          heap.release(mark);
        }
      }
    }
  });
}

test('matvecUniform and matmulUniform: unknown bits or an empty range write nothing', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(7);
  const rec = randomUniform(rng, 4, 40, 4, 32);
  const ps = heap.place(rec.scales), pz = heap.place(rec.zeros), pv = heap.place(rec.values), px = heap.place(rng.normals(40));
  const po = placeSentinel(heap, 4);
  k.matvecUniform(po, ps, pz, pv, px, 40, 32, 5, 0, 4);
  k.matvecUniform(po, ps, pz, pv, px, 40, 32, 4, 2, 2);
  const scratch = heap.alloc(k.matmulScratchBytes(40));
  k.matmulUniform(po, ps, pz, pv, px, 4, 40, 2, 32, 5, 0, 4, scratch);
  k.matmulUniform(po, ps, pz, pv, px, 4, 40, 2, 32, 4, 3, 3, scratch);
  assertUntouched(heap.f32(po, 4), 0, 0, 'no-op calls');
});

async function runBackend(b: Backend, rec: TensorRecord, x: Float32Array, n: number): Promise<{ mv: Float32Array; mm: Float32Array; rows: Float32Array[] }> {
  const [rows, cols] = rec.shape as [number, number];
  const w = b.upload(rec);
  const xv = b.alloc(cols * n);
  b.write(xv, x);
  const o1 = b.alloc(rows);
  b.matvec(o1, w, xv);
  const on = b.alloc(rows * n);
  b.matmul(on, w, xv, n);
  const e = b.alloc(cols);
  const emb: Float32Array[] = [];
  for (const r of [0, rows >> 1, rows - 1]) {
    b.embed(e, w, r);
    emb.push(b.read(e));
  }
  return { mv: b.read(o1), mm: b.read(on), rows: emb };
}

test('both backends run uniform records like their dequantized f32 twin (matvec, matmul, embed)', async () => {
  const rng = new Rng(11);
  const wasm = await WasmBackend.create();
  // with worker threads and every product split between them
  const threaded = await WasmBackend.create({ threads: 2, minSplitWork: 0 });
  for (const bits of BITS) {
    for (const [rows, cols, gs] of [[33, 64, 32], [40, 100, 64], [17, 200, 1 << 20], [9, 70, 20]] as const) {
      const rec = randomUniform(rng, rows, cols, bits, gs);
      const dense = dequantize(rec);
      const twin: TensorRecord = { name: 'w', kind: 'f32', shape: [rows, cols], data: dense };
      const n = 6; // one block of four vectors and two more
      const x = rng.normals(cols * n);
      const what = `${bits}-bit ${rows}x${cols} g${gs}`;
      const want = await runBackend(new JsBackend(), twin, x, n);
      for (const b of [new JsBackend(), wasm, threaded]) {
        const got = await runBackend(b, rec, x, n);
        const scale = dotScale(dense, x, rows, cols);
        assertCloseDot(got.mv, want.mv, scale, 1e-5, `${b.name} matvec ${what}`);
        assertCloseDot(got.mm, want.mm, scale, 1e-5, `${b.name} matmul ${what}`);
        for (let i = 0; i < got.rows.length; i++) assert.equal(Array.from(got.rows[i]), Array.from(want.rows[i]), `${b.name} embed ${what}`);
      }
    }
  }
  await threaded.close();
});

test.run();
