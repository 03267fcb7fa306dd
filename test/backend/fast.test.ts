// The wasm backend's opt-in int8 fast path (`fast: true`, docs/KERNELS.md): every LUT product takes
// the int8 kernels (a batch gives each vector the bits of its own int8 matvec), the sparse part stays
// exact, uniform and f32 weights are untouched; the results do not depend on the thread count, and
// stay near the exact path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { enableRelaxedSimd, relaxedSimdAvailable, type KernelBuild } from '../../src/backend/wasm/instance.ts';
import { dequantize } from '../../src/format/kinds.ts';
import { createBackend } from '../../src/index.ts';
import { Model } from '../../src/model/model.ts';
import { UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { maxRelErr } from '../helpers.ts';
import { assertCloseDot, dotScale } from '../kernels/_util.ts';
import { nuqModelRecords, products, randomNuq } from './_nuq.ts';

/** test/kernels/lutint8.test.ts's tolerance of the int8 matvec against the exact reference. */
const INT8_TOLERANCE = 5e-2;

// Both kernel builds (plain and relaxed SIMD, test/kernels/lutint8.test.ts); relaxed where the engine has it.
await enableRelaxedSimd();
const BUILDS: KernelBuild[] = relaxedSimdAvailable() ? ['simd', 'relaxed'] : ['simd'];

for (const build of BUILDS) test(`fast nuq products (${build}): each vector of a batch as one token, the same bits on 1, 2 and 3 threads, near the reference backend, for n = 1..9 with and without sparse`, async () => {
  const rng = new Rng(31);
  const ns = [1, 2, 5, 9];
  const [rows, cols] = [83, 300];
  const records = [
    randomNuq(rng, 'w', rows, cols, { bits: 4 }),
    randomNuq(rng, 'w', rows, cols, { bits: 3, sparse: 0.05, splitParts: 2 }),
    randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: 0.05, splitParts: 3 }),
  ];
  const x = rng.normals(9 * cols);
  const backends = await Promise.all([{}, { threads: 2 }, { threads: 3 }].map((o) => WasmBackend.create({ ...o, minSplitWork: 0, fast: true, kernels: build })));
  const exact = await WasmBackend.create({ kernels: build });
  try {
    for (const rec of records) {
      const what = `nuq ${rec.kind === 'nuq' ? rec.bits : ''}-bit${rec.kind === 'nuq' && rec.sparse ? ' + sparse' : ''}`;
      const want = products(new JsBackend(), rec, x, ns);
      const one = products(backends[0], rec, x, ns);
      const same = products(exact, rec, x, ns);
      const dense = dequantize(rec);
      const single = Array.from({ length: 9 }, (_, i) => products(backends[0], rec, x.subarray(i * cols), [1])[0]);
      ns.forEach((n, j) => {
        assert.not.equal(Array.from(one[j]), Array.from(same[j]), `${what} n=${n}: fast gives the exact path's bits`);
        for (let i = 0; i < n; i++) {
          const v = (a: Float32Array) => a.subarray(i * rows, (i + 1) * rows);
          assertCloseDot(v(one[j]), v(want[j]), dotScale(dense, x.subarray(i * cols, (i + 1) * cols), rows, cols), INT8_TOLERANCE, `${what} n=${n} vector ${i}`);
          assert.equal(Array.from(v(one[j])), Array.from(single[i]), `${what} n=${n} vector ${i}: the bits of one token`);
        }
      });
      for (const b of backends.slice(1)) {
        const got = products(b, rec, x, ns);
        ns.forEach((n, j) => assert.equal(Array.from(got[j]), Array.from(one[j]), `${what} n=${n} threads ${b.threads}`));
      }
    }
  } finally {
    for (const b of [...backends, exact]) await b.close();
  }
});

test('a nuq model on the fast path: logits near the exact ones, the same on 2 threads', async () => {
  const m = syntheticModel({ seed: 12, dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 333 });
  const records = nuqModelRecords(m.records, 3, { sparse: 0.01 });
  const logits = async (opts: { threads?: number; fast?: boolean }) => {
    const b = await WasmBackend.create({ ...opts, minSplitWork: 0 });
    try {
      const model = await Model.fromRecords(m.config, m.tokenizer, records, b, { batch: 8 });
      const a = model.forward([1, 9, 40, 7, 99], 0, 0);
      const c = model.forward([5], 5);
      return Float32Array.from([...a, ...c]);
    } finally {
      await b.close();
    }
  };
  const exact = await logits({});
  const fast = await logits({ fast: true });
  const e = maxRelErr(fast, exact);
  assert.ok(e > 0 && e < 5e-2, `fast against exact logits: relative error ${e}`);
  assert.equal(Array.from(await logits({ fast: true, threads: 2 })), Array.from(fast), 'fast on 2 threads');
});

test('fast is a wasm option: createBackend passes it on, the js backend refuses it', async () => {
  const b = (await createBackend('wasm', { fast: true })) as WasmBackend;
  assert.ok(b.fast);
  assert.not.ok(((await createBackend('wasm')) as WasmBackend).fast);
  try {
    await createBackend('js', { fast: true });
    assert.unreachable('js accepted fast');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, 'wasm backend only');
  }
});

test.run();
