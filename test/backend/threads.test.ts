// Worker threads in the WASM backend: split products give the single-thread results (bit for bit:
// every output row is computed by the same kernel code whichever thread runs it), on f32, nuq
// (3/4-bit LUT + CSR sparse, with and without a recorded row split) and uniform (RTN 3/4/8-bit)
// models and on single batched products; a worker's throw comes back as an exception; close() ends
// the workers so the process can exit.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmBackend, type WasmBackendOptions } from '../../src/backend/wasm/index.ts';
import { KernelWorkerError } from '../../src/backend/wasm/pool.ts';
import { OP_MATVEC_F32 } from '../../src/backend/wasm/protocol.ts';
import { JsBackend } from '../../src/backend/js/index.ts';
import { dequantize, type TensorRecord } from '../../src/format/kinds.ts';
import { Model } from '../../src/model/model.ts';
import { Rng } from '../../src/util/random.ts';
import { rtnQuantize } from '../../tools/baselines/rtn.ts';
import { denseRecord } from '../../tools/convert.ts';
import { syntheticModel, type SyntheticOptions } from '../../tools/synthetic.ts';
import { maxRelErr, repoRoot } from '../helpers.ts';
import { assertCloseDot, dotScale } from '../kernels/_util.ts';
import { nuqModelRecords, products, randomNuq, uniformModelRecords } from './_nuq.ts';

async function logitsOf(opts: SyntheticOptions, records: TensorRecord[] | undefined, backendOpts: WasmBackendOptions): Promise<Float32Array> {
  const m = syntheticModel(opts);
  const backend = await WasmBackend.create(backendOpts);
  try {
    const model = await Model.fromRecords(m.config, m.tokenizer, records ?? m.records, backend, { batch: 8 });
    const tokens = Array.from({ length: 19 }, (_, i) => (i * 37 + 1) % m.config.vocabSize);
    // batched (prompt chunks of 8: matmul over 8, then 3 vectors) then single tokens (matvec)
    const a = model.forward(tokens, 0, 0);
    const b = model.forward([5], tokens.length);
    const c = model.forward([7], tokens.length + 1);
    const out = new Float32Array(a.length + b.length + c.length);
    out.set(a);
    out.set(b, a.length);
    out.set(c, a.length + b.length);
    return out;
  } finally {
    await backend.close();
  }
}

function assertSame(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const e = maxRelErr(got, want);
  if (!(e <= 1e-6)) assert.unreachable(`${what}: relative error ${e} > 1e-6`);
}

const f32Model: SyntheticOptions = { seed: 11, dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 333 };

test('f32 model: threads 2 and 3 give the single-thread logits (split by rows and by vectors)', async () => {
  const want = await logitsOf(f32Model, undefined, { threads: 1 });
  for (const threads of [2, 3]) {
    for (const matmulSplit of ['rows', 'vectors'] as const) {
      const got = await logitsOf(f32Model, undefined, { threads, minSplitWork: 0, matmulSplit });
      assertSame(got, want, `threads ${threads}, split ${matmulSplit}`);
    }
  }
  // the default threshold: small products stay on the main thread, the head is split
  assertSame(await logitsOf(f32Model, undefined, { threads: 2, minSplitWork: 20_000 }), want, 'threads 2, threshold 20000');
});

test('nuq model (3/4-bit LUT + sparse, with and without a row split): threads 2 and 3 give the single-thread logits', async () => {
  const m = syntheticModel(f32Model);
  const variants: [string, TensorRecord[]][] = [
    ['no sparse, no split', nuqModelRecords(m.records, 5)],
    ['sparse, no split', nuqModelRecords(m.records, 6, { sparse: 0.02 })],
    ['sparse, split for 2', nuqModelRecords(m.records, 7, { sparse: 0.02, splitParts: 2 })],
    ['sparse, split for 3', nuqModelRecords(m.records, 8, { sparse: 0.02, splitParts: 3 })],
  ];
  for (const [what, records] of variants) {
    const want = await logitsOf(f32Model, records, { threads: 1 });
    for (const threads of [2, 3]) assertSame(await logitsOf(f32Model, records, { threads, minSplitWork: 0 }), want, `${what}, threads ${threads}`);
  }
});

test('uniform model (RTN 3/4/8-bit; groups of 32, one per row, and 20 on the scalar path): threads 2 and 3 give the single-thread logits', async () => {
  const m = syntheticModel(f32Model);
  for (const [bits, groupSize] of [[4, 32], [3, 0], [8, 32], [4, 20]] as const) {
    const records = uniformModelRecords(m.records, { bits, groupSize });
    const want = await logitsOf(f32Model, records, { threads: 1 });
    for (const threads of [2, 3]) assertSame(await logitsOf(f32Model, records, { threads, minSplitWork: 0 }), want, `${bits}-bit g${groupSize}, threads ${threads}`);
  }
});

test('batched nuq, uniform and f16 products: the same bits on 1, 2 and 3 threads, and the reference backend within 1e-5', async () => {
  const rng = new Rng(17);
  const ns = [1, 2, 3, 4, 5, 8, 9];
  const [rows, cols] = [83, 100];
  const records: TensorRecord[] = [
    randomNuq(rng, 'w', rows, cols, { bits: 4 }),
    randomNuq(rng, 'w', rows, cols, { bits: 3, sparse: 0.05, splitParts: 2 }),
    randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: 0.05, splitParts: 3 }),
    // uniform: 4-bit groups of 32, 3-bit one group per row, 8-bit groups of 64, 4-bit groups of 20 (the scalar path)
    ...([[4, 32], [3, 1 << 20], [8, 64], [4, 20]] as const).map(([bits, groupSize]) => rtnQuantize('w', rng.normals(rows * cols), rows, cols, { bits, groupSize })),
    denseRecord('w', [rows, cols], rng.normals(rows * cols), 'f16'),
  ];
  const x = rng.normals(9 * cols);
  const backends = [await WasmBackend.create(), await WasmBackend.create({ threads: 2, minSplitWork: 0 }), await WasmBackend.create({ threads: 3, minSplitWork: 0 })];
  try {
    for (const rec of records) {
      const what = rec.kind === 'nuq' ? `nuq ${rec.bits}-bit${rec.sparse ? ' + sparse' : ''}` : rec.kind === 'uniform' ? `uniform ${rec.bits}-bit g${rec.groupSize}` : rec.kind;
      const want = products(new JsBackend(), rec, x, ns);
      const one = products(backends[0], rec, x, ns);
      const dense = dequantize(rec);
      ns.forEach((n, j) => {
        for (let i = 0; i < n; i++) {
          const v = (a: Float32Array) => a.subarray(i * rows, (i + 1) * rows);
          assertCloseDot(v(one[j]), v(want[j]), dotScale(dense, x.subarray(i * cols, (i + 1) * cols), rows, cols), 1e-5, `${what} n=${n} vector ${i}`);
        }
      });
      for (const b of backends.slice(1)) {
        const got = products(b, rec, x, ns);
        ns.forEach((n, j) => assert.equal(Array.from(got[j]), Array.from(one[j]), `${what} n=${n} threads ${b.threads}`));
      }
    }
  } finally {
    for (const b of backends) await b.close();
  }
});

test('a recorded row split is used when it matches the thread count (every boundary, even an empty part)', async () => {
  const rng = new Rng(3);
  const rows = 77, cols = 45;
  const rec = randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: 0.05 });
  const x = rng.normals(cols);
  const run = async (threads: number, split?: number[]) => {
    const b = await WasmBackend.create({ threads, minSplitWork: 0 });
    try {
      const w = b.upload({ ...rec, rowSplit: split && Int32Array.from(split) });
      const xv = b.alloc(cols);
      b.write(xv, x);
      const o = b.alloc(rows);
      b.matvec(o, w, xv);
      return b.read(o);
    } finally {
      await b.close();
    }
  };
  const want = await run(1);
  for (const split of [[0, 3, rows], [0, 0, rows], [0, rows, rows], [0, 40, 41, rows]]) {
    assertSame(await run(split.length - 1, split), want, `split [${split}]`);
  }
});

test("a worker's error surfaces as an exception on the main thread, and the pool keeps working", async () => {
  const b = await WasmBackend.create({ threads: 2 });
  try {
    const pool = (b as unknown as { pool: import('../../src/backend/wasm/pool.ts').KernelPool }).pool;
    // an unknown job id
    assert.throws(() => pool.run(999, [], [0, 0, 1]), (e: Error) => e instanceof KernelWorkerError && /worker 1 failed.*unknown kernel job 999/.test(e.message));
    // a trap inside the kernel: an address past the end of memory, in the worker's part only
    const bad = 0xfff00000;
    assert.throws(() => pool.run(OP_MATVEC_F32, [bad, bad, bad, 64, 8, 1], [0, 0, 8]), (e: Error) => e instanceof KernelWorkerError && /RuntimeError.*out of bounds/.test(e.message));
    // still usable afterwards
    const rec: TensorRecord = { name: 'w', kind: 'f32', shape: [40, 30], data: new Rng(1).normals(1200) };
    const w = b.upload(rec);
    const xv = b.alloc(30);
    b.write(xv, new Float32Array(30).fill(1));
    const o = b.alloc(40);
    pool.run(OP_MATVEC_F32, [o.off * 4, (w as unknown as { f32: number }).f32, xv.off * 4, 30, 40, 1], [0, 20, 40]);
    const got = b.read(o);
    for (let r = 0; r < 40; r++) {
      let s = 0;
      for (let c = 0; c < 30; c++) s += (rec.data as Float32Array)[r * 30 + c];
      assert.ok(Math.abs(got[r] - s) < 1e-4, `row ${r}`);
    }
  } finally {
    await b.close();
  }
});

test('a worker that exits, or one that does not answer in time, gives a clear error instead of a hang', async () => {
  {
    const b = await WasmBackend.create({ threads: 2, minSplitWork: 0 });
    const workers = (b as unknown as { pool: { workers: import('node:worker_threads').Worker[] } }).pool.workers;
    await workers[0].terminate();
    await new Promise((r) => setImmediate(r));
    const w = b.upload({ name: 'w', kind: 'f32', shape: [8, 8], data: new Float32Array(64) });
    assert.throws(() => b.matvec(b.alloc(8), w, b.alloc(8)), /kernel worker 1 exited/);
    await b.close();
  }
  {
    // the worker takes all 4096 rows of 32 matvecs of 4096x4096 (about 100 ms, far from the 1 ms
    // the main thread waits even on a fast or busy machine)
    const b = await WasmBackend.create({ threads: 2, timeoutMs: 1, spin: 0 });
    const pool = (b as unknown as { pool: import('../../src/backend/wasm/pool.ts').KernelPool }).pool;
    const n = 4096;
    const vectors = 32;
    const w = b.upload({ name: 'w', kind: 'f32', shape: [n, n], data: new Float32Array(n * n) });
    const x = b.alloc(n * vectors), o = b.alloc(n * vectors);
    const job = () => pool.run(OP_MATVEC_F32, [o.off * 4, (w as unknown as { f32: number }).f32, x.off * 4, n, n, vectors], [0, 0, n]);
    assert.throws(job, /did not finish a job within 1 ms/);
    assert.throws(job, /unusable/);
    await b.close();
  }
});

test('close() ends the workers; a closed backend refuses split work; threads is validated', async () => {
  const b = await WasmBackend.create({ threads: 3, minSplitWork: 0 });
  assert.is(b.threads, 3);
  await b.close();
  await b.close(); // twice is fine
  const w = b.upload({ name: 'w', kind: 'f32', shape: [4, 4], data: new Float32Array(16) });
  assert.throws(() => b.matvec(b.alloc(4), w, b.alloc(4)), /closed/);
  for (const threads of [0, 1.5, 65]) {
    try {
      await WasmBackend.create({ threads });
      assert.unreachable(`threads ${threads} accepted`);
    } catch (e) {
      assert.match((e as Error).message, /threads must be/);
    }
  }
});

test('a program that uses threads exits on its own, with and without close()', () => {
  for (const close of [true, false]) {
    const script = `
      import { WasmBackend } from './src/backend/wasm/index.ts';
      const b = await WasmBackend.create({ threads: 2, minSplitWork: 0 });
      const w = b.upload({ name: 'w', kind: 'f32', shape: [64, 64], data: new Float32Array(4096).fill(1) });
      const x = b.alloc(64); b.write(x, new Float32Array(64).fill(2));
      const o = b.alloc(64); b.matvec(o, w, x);
      if (b.read(o)[63] !== 128) throw new Error('wrong result');
      ${close ? 'await b.close();' : ''}
      console.log('done');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 15_000 });
    assert.is(r.signal, null, `close=${close}: the process did not exit by itself (${r.stderr})`);
    assert.is(r.status, 0, `close=${close}: ${r.stderr}`);
    assert.match(r.stdout, /done/);
  }
});

test.run();
