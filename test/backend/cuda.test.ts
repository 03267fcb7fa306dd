// The CUDA backend without a GPU. (1) src/backend/cuda/ driven through whole forward passes over a
// host stand-in of the binding (_cuda-emulator.ts: every launcher is the TypeScript reference the
// kernel must match), against the js backend: uploads, layouts, addresses and argument order are
// right for every tensor kind. (2) The paths a machine without CUDA takes: why the binding is
// unusable, `--backend cuda` failing with one line, auto falling back to wasm, the typed API error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath, cudaStatus, probeAddon, type CudaAddon } from '../../src/backend/cuda/addon.ts';
import { CudaBackend } from '../../src/backend/cuda/index.ts';
import { JsBackend } from '../../src/backend/js/index.ts';
import type { Backend } from '../../src/backend/types.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { CudaUnavailableError, loadModel, SqzError } from '../../src/index.ts';
import { Model } from '../../src/model/model.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { Rng } from '../../src/util/random.ts';
import { rtnQuantize } from '../../tools/baselines/rtn.ts';
import { denseRecord } from '../../tools/convert.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { assertClose, repoRoot, skip } from '../helpers.ts';
import { EMULATED_DEVICE, EmulatedCuda } from './_cuda-emulator.ts';
import { randomNuq } from './_nuq.ts';

/** Every kind the loader meets: nuq 3/4-bit with f16 and f32 tables, sparse and row splits; uniform at two group sizes; f16; an untied f16 head. */
function mixedModel(rope: 'interleaved' | 'half') {
  const m = syntheticModel({ dim: 64, hiddenDim: 100, nLayers: 2, nHeads: 8, nKvHeads: 2, vocabSize: 300, tiedEmbeddings: false, rope, seed: 4 });
  const rng = new Rng(9);
  const kinds: ((r: TensorRecord & { kind: 'f32' }) => TensorRecord)[] = [
    (r) => {
      const q = randomNuq(rng, r.name, r.shape[0], r.shape[1], { bits: 4, sparse: 0.05, splitParts: 3 });
      return { ...q, lut: q.lut.map((v) => halfToFloat(floatToHalf(v))), lutType: 'f16' };
    },
    (r) => randomNuq(rng, r.name, r.shape[0], r.shape[1], { bits: 3, sparse: 0.02 }),
    (r) => randomNuq(rng, r.name, r.shape[0], r.shape[1], { bits: 3 }),
    (r) => rtnQuantize(r.name, r.data, r.shape[0], r.shape[1], { bits: 4, groupSize: 32 }),
    (r) => rtnQuantize(r.name, r.data, r.shape[0], r.shape[1], { bits: 3, groupSize: 20 }),
    (r) => denseRecord(r.name, r.shape, r.data, 'f16'),
    (r) => r,
  ];
  let i = 0;
  const records = m.records.map((r) => {
    if (r.kind !== 'f32' || r.shape.length !== 2) return r;
    if (r.name === 'embed' || r.name === 'head') return denseRecord(r.name, r.shape, r.data, 'f16');
    return kinds[i++ % kinds.length](r as TensorRecord & { kind: 'f32' });
  });
  return { ...m, records };
}

async function logitsOf(m: ReturnType<typeof mixedModel>, backend: Backend): Promise<Float32Array[]> {
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, backend, { ctx: 32, batch: 8, kv: 'f32' });
  const prompt = [1, 50, 61, 72, 83, 94, 105, 116, 127, 138, 149]; // batches of 8 and 3
  const out = [model.forward(prompt, 0, 0)];
  for (let pos = prompt.length; pos < prompt.length + 4; pos++) out.push(model.forward([pos * 7], pos));
  await model.close();
  return out;
}

for (const rope of ['interleaved', 'half'] as const) {
  test(`cuda backend host side (emulated device): a prompt and decode steps give the js backend's logits (${rope} RoPE)`, async () => {
    const m = mixedModel(rope);
    const dev = new EmulatedCuda();
    const got = await logitsOf(m, CudaBackend.fromAddon(dev, EMULATED_DEVICE));
    const want = await logitsOf(m, new JsBackend());
    got.forEach((g, i) => assertClose(g, want[i], 1e-5, `forward ${i}`));
    for (const k of ['matmulLut', 'spmmCsrAdd', 'matmulUniform', 'matmulDense']) assert.ok((dev.launches.get(k) ?? 0) > 0, `${k} used`);
    assert.is(dev.live, 0, 'close() frees every device allocation');
  });
}

test('embedding rows of every kind come back as the reference dequantizes them', async () => {
  const rng = new Rng(2);
  const w = rng.normals(40 * 70, 0.1);
  const q = randomNuq(rng, 'e', 40, 70, { bits: 4, sparse: 0.1 });
  const recs: TensorRecord[] = [
    denseRecord('e', [40, 70], w, 'f32'),
    denseRecord('e', [40, 70], w, 'f16'),
    { ...q, lut: q.lut.map((v) => halfToFloat(floatToHalf(v))), lutType: 'f16' },
    randomNuq(rng, 'e', 40, 70, { bits: 3 }),
    rtnQuantize('e', w, 40, 70, { bits: 8, groupSize: 32 }),
  ];
  for (const rec of recs) {
    const cuda = CudaBackend.fromAddon(new EmulatedCuda(), EMULATED_DEVICE);
    const js = new JsBackend();
    for (const b of [cuda, js]) b.upload(rec);
    const cw = cuda.upload(rec);
    const jw = js.upload(rec);
    for (const row of [0, 17, 39]) {
      const [co, jo] = [cuda.alloc(70), js.alloc(70)];
      cuda.embed(co, cw, row);
      js.embed(jo, jw, row);
      assert.equal(Array.from(cuda.read(co)), Array.from(js.read(jo)), `${rec.kind} row ${row}`);
    }
  }
});

// ---- machines without CUDA ------------------------------------------------------------------

test('why the binding is unusable: not built, does not load, no device, driver error', () => {
  assert.is(addonPath({ SQZ_CUDA_ADDON: '/nonexistent/sqz_cuda.node' }), null);
  assert.is(addonPath({}, '/'), null);
  const reason = (load: () => unknown) => {
    const s = probeAddon('/x/sqz_cuda.node', load);
    return s.ok ? 'ok' : `${s.reason}: ${s.message}`;
  };
  assert.match(reason(() => { throw new Error('invalid ELF header\nmore'); }), /^no-addon: .*does not load \(invalid ELF header\); rebuild it with npm run build:cuda$/);
  const fake =
    (probe: CudaAddon['probe'], init: CudaAddon['init'] = () => 0) =>
    () =>
      ({ probe, init }) as unknown as CudaAddon;
  assert.match(reason(fake(() => ({ ok: false, reason: 'no-device', message: 'cudaErrorNoDevice: no CUDA-capable device is detected' }))), /^no-device: no CUDA device answers \(cudaErrorNoDevice/);
  assert.match(reason(fake(() => ({ ok: false, reason: 'driver', message: 'cudaErrorInsufficientDriver: x' }))), /^driver: the CUDA driver failed \(cudaErrorInsufficientDriver/);
  assert.match(reason(fake(() => { throw new Error('boom'); })), /^driver: the CUDA driver failed \(boom\)/);
  const listed = () => ({ ok: true as const, ...EMULATED_DEVICE });
  assert.match(reason(fake(listed, () => { throw new Error('cudaErrorDevicesUnavailable: busy'); })), /^driver: the CUDA driver failed \(cudaErrorDevicesUnavailable: busy\)$/);
  assert.is(reason(fake(listed)), 'ok');
});

const status = cudaStatus();

test('no usable GPU: the status says what is missing: no-addon when the binding is not built, else what the built one answers', () => {
  if (status.ok) return skip(`CUDA works here, on ${status.device.name}`);
  const built = addonPath();
  if (!built) {
    assert.is(status.reason, 'no-addon');
    assert.match(status.message, /not built|does not exist/);
    return;
  }
  if (status.reason === 'no-addon') return assert.match(status.message, /does not load/);
  // the binding loaded: its own probe (no driver, no device or a driver error) is what the status reports
  const probe = (createRequire(import.meta.url)(built) as CudaAddon).probe();
  assert.ok(!probe.ok && probe.reason === status.reason, `probe ${JSON.stringify(probe)} vs status ${status.reason}`);
  assert.ok(status.message.includes(probe.message), status.message);
  assert.ok(['no-device', 'driver'].includes(status.reason));
});
const tmp = mkdtempSync(join(tmpdir(), 'sqz-cuda-cli-'));
const modelPath = join(tmp, 'tiny.sqz');

test('no usable GPU: backend cuda throws CudaUnavailableError (a SqzError) saying why; auto loads on wasm', async () => {
  if (status.ok) return skip(`CUDA works here, on ${status.device.name}`);
  const m = syntheticModel({ seed: 2 });
  await writeSqz(modelPath, { config: m.config, tokenizer: m.tokenizer, quant: { method: 'f32', source: 'test' } }, m.records);
  const err = await loadModel(modelPath, { backend: 'cuda' }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof CudaUnavailableError && err instanceof SqzError, `typed error, got ${String(err)}`);
  assert.is(err.reason, status.reason);
  assert.match(err.message, /^backend cuda: /);
  const model = await loadModel(modelPath);
  assert.is(model.backend.name, 'wasm');
  await model.close();
});

/** A JavaScript module with the given binding functions, to stand in for a built sqz_cuda.node. */
function fakeBinding(name: string, fns: string): string {
  const p = join(tmp, name);
  writeFileSync(p, `module.exports = { ${fns} };\n`);
  return p;
}

function sqz(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('no usable GPU: sqz run/ppl --backend cuda print one line saying why and exit 1 (no binding, a binding without device or driver); --backend auto runs on wasm', () => {
  if (status.ok) return skip(`CUDA works here, on ${status.device.name}`);
  const text = join(tmp, 'text.txt');
  spawnSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(text)}, 'the cat sat on the mat. '.repeat(20))`]);
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['run', modelPath, '-n', '3', '--backend', 'cuda'], {}, /^sqz: backend cuda: (the CUDA binding is not built|.*does not load|.* does not exist|no CUDA device answers|the CUDA driver failed)/],
    [['ppl', modelPath, '--text', text, '--ctx', '16', '--backend', 'cuda'], {}, /^sqz: backend cuda: /],
    [['run', modelPath, '-n', '3', '--backend', 'cuda'], { SQZ_CUDA_ADDON: join(tmp, 'none.node') }, /^sqz: backend cuda: .*none\.node \(from SQZ_CUDA_ADDON\) does not exist$/],
  ];
  for (const [args, env, want] of cases) {
    const r = sqz(args, env);
    assert.is(r.code, 1, `sqz ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line expected:\n${r.stderr}`);
    assert.match(lines[0], want);
  }
  const auto = sqz(['run', modelPath, '-n', '3', '-t', '0', '--backend', 'auto']);
  assert.is(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /\(wasm\)\n$/);
  // a built binding on a machine without a usable GPU, whatever this one has: JavaScript stand-ins
  // for sqz_cuda.node (require() loads either) whose probe or init fails as the real one does
  const noDevice = fakeBinding('no-device.cjs', `probe: () => ({ ok: false, reason: 'no-device', message: 'cudaErrorNoDevice: no CUDA-capable device is detected' })`);
  const busy = fakeBinding('busy.cjs', `probe: () => (${JSON.stringify({ ok: true, ...EMULATED_DEVICE })}), init: () => { throw new Error('cudaErrorDevicesUnavailable: CUDA-capable device(s) is/are busy or unavailable'); }`);
  for (const [addon, want] of [
    [noDevice, /^sqz: backend cuda: no CUDA device answers \(cudaErrorNoDevice: no CUDA-capable device is detected\)$/],
    [busy, /^sqz: backend cuda: the CUDA driver failed \(cudaErrorDevicesUnavailable: .*\)$/],
  ] as const) {
    const r = sqz(['run', modelPath, '-n', '3', '--backend', 'cuda'], { SQZ_CUDA_ADDON: addon });
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr.trim().split('\n').length, 1, `one line expected:\n${r.stderr}`);
    assert.match(r.stderr.trim(), want);
    const a = sqz(['run', modelPath, '-n', '3', '-t', '0'], { SQZ_CUDA_ADDON: addon });
    assert.is(a.code, 0, a.stderr);
    assert.match(a.stderr, /\(wasm\)\n$/, 'auto falls back to wasm');
  }
  const bad = sqz(['run', modelPath, '--backend', 'gpu']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--backend must be auto, wasm, js, cuda, got 'gpu'/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
