// The memory budget (issue 11 pt 3): what a load needs is worked out from the header and index
// before anything is allocated; a load that cannot fit is refused in one line naming the need and
// the limit, without reading a tensor; the context defaults to min(the model's, 4096). The estimate
// is held to what the WASM heap really holds after a generation and a perplexity run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import type { ByteSource } from '../../src/format/source.ts';
import { encodeHeader, encodeSqz, type SqzIndexEntry } from '../../src/format/sqz.ts';
import { loadModel, Model } from '../../src/index.ts';
import { DEFAULT_CONTEXT, planMemory } from '../../src/model/budget.ts';
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import { MemoryLimitError, UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { syntheticConfig, syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import { rejects } from '../helpers.ts';
import { f16Record, nuqRecord, uniformRecord } from '../format/fixtures.ts';

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** A small model (well under 1 MB) whose header claims a context of `maxSeqLen`. */
function small(maxSeqLen: number): Uint8Array {
  const config = syntheticConfig({ dim: 128, hiddenDim: 64, nLayers: 2, nHeads: 2, nKvHeads: 2, vocabSize: 260, maxSeqLen });
  return encodeSqz({ config, tokenizer: syntheticTokenizer(260), quant: { method: "f32" } }, syntheticRecords(config));
}

test('a 1 MB .sqz whose header says maxSeqLen 4e6 loads with a context of 4096; asking for all of it is refused at once', async () => {
  const bytes = small(4_000_000);
  assert.ok(bytes.length < 1 << 20);
  const m = await loadModel(bytes);
  assert.is(m.ctx, DEFAULT_CONTEXT);
  await m.close();
  // K and V, 2 layers, 4e6 positions of 128 f32: 8.2 GB, over wasm32's 4 GiB (the f32 cache; the
  // default f16 one, half that, is planned by the same kvCacheBytes the kernels' layout is tested against)
  const kv = 2 * 2 * 4e6 * 128 * 4;
  const msg = await rejects(loadModel(bytes, { ctx: 4_000_000, kv: 'f32' }), MemoryLimitError, /^<bytes>: loading needs \d+\.\d\d GiB \(weights .* KV cache 7\.63 GiB for a context of 4000000, .*\), more than wasm32's 4 GiB of memory; a context of at most \d+ would fit/);
  assert.not.match(msg, /\n/);
  try {
    await loadModel(bytes, { ctx: 4_000_000, kv: 'f32' });
  } catch (e) {
    const err = e as MemoryLimitError;
    assert.ok(err.need >= kv && err.need < kv * 1.01, `need ${err.need} vs the KV cache's ${kv}`);
    assert.is(err.limit, 2 ** 32);
  }
  // the context the message offers does load
  const fits = Number(/at most (\d+) would fit/.exec(msg)![1]);
  const big = await loadModel(bytes, { ctx: Math.min(fits, 200_000) });
  await big.close();
  // a context the model does not have is a usage error
  await rejects(loadModel(bytes, { ctx: 5_000_000 }), UsageError, /between 2 and the model's 4000000/);
});

test('maxMemory: a load over the caller\'s limit is refused (every backend); one within it loads', async () => {
  const bytes = small(256);
  for (const backend of ['wasm', 'js'] as const) {
    await rejects(loadModel(bytes, { backend, maxMemory: 1 << 20 }), MemoryLimitError, /more than the maxMemory limit of 1\.00 MiB/);
    const m = await loadModel(bytes, { backend, maxMemory: 64 << 20 });
    await m.close();
  }
  await rejects(loadModel(bytes, { maxMemory: -5 }), UsageError, /maxMemory must be a positive number/);
});

test('a model whose index says more than 4 GiB is refused at open, no tensor read', async () => {
  // Llama-2-7B's shapes, as f32: 27 GB
  const config: ModelConfig = { ...syntheticConfig(), dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000, maxSeqLen: 4096, tiedEmbeddings: false };
  const entries: SqzIndexEntry[] = [...tensorShapes(config)].map(([name, shape]) => ({ name, kind: 'f32', shape, bytes: numel(shape) * 4 + 40, crc32: 0 }));
  const header = encodeHeader({ config, tokenizer: syntheticTokenizer(32000), quant: { method: 'f32' } }, entries);
  const size = header.length + entries.reduce((s, e) => s + e.bytes, 0);
  let bodyReads = 0;
  const src: ByteSource = {
    name: 'big.sqz',
    size,
    seekable: true,
    async read(offset, into) {
      if (offset >= header.length) bodyReads++;
      const part = header.subarray(offset, offset + into.length);
      into.set(part);
      into.fill(0, part.length);
      return into.length;
    },
    close: async () => {},
  };
  const weights = entries.reduce((s, e) => s + numel(e.shape) * 4, 0);
  for (const backend of ['wasm', 'js'] as const) {
    const msg = await rejects(loadModel(src, { backend, maxMemory: backend === 'js' ? 8 * 2 ** 30 : undefined }), MemoryLimitError, /^big\.sqz: loading needs \d+\.\d\d GiB \(weights 2\d\.\d\d GiB as placed.*the weights alone do not fit$/);
    assert.ok(Number(/needs (\d+\.\d\d) GiB/.exec(msg)![1]) * 2 ** 30 >= weights * 0.999, msg);
  }
  assert.is(bodyReads, 0);
});

/** A model of every tensor kind: f32 vectors and embedding, f16, nuq (3 and 4 bits, sparse) and uniform matrices. */
function mixed(config: ModelConfig): TensorRecord[] {
  const rng = new Rng(5);
  const dense = new Map([...syntheticRecords(config)].map((r) => [r.name, r]));
  let k = 0;
  return [...tensorShapes(config)].map(([name, shape]) => {
    if (shape.length === 1 || name === 'embed') return dense.get(name)!;
    const [rows, cols] = shape;
    const pick = k++ % 4;
    if (pick === 0) return f16Record(rng, name, shape);
    if (pick === 3) return uniformRecord(rng, name, rows, cols, 4, 32).rec;
    const rec = nuqRecord(rng, name, rows, cols, pick === 1 ? 4 : 3, { sparse: true }).rec;
    // tables of the weights' size, so the activations stay tame
    rec.lut = rec.lut.map((v) => v * 0.05);
    return rec;
  });
}

test('the estimate bounds what the WASM heap holds after generating and scoring (1 and 2 threads, exact and fast), within 3 MiB', async () => {
  const config = syntheticConfig({ dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 8, nKvHeads: 2, vocabSize: 300, maxSeqLen: 512, tiedEmbeddings: false });
  const bytes = encodeSqz({ config, tokenizer: syntheticTokenizer(300), quant: { method: 'mixed' } }, mixed(config));
  for (const opts of [{ threads: 1 }, { threads: 2 }, { threads: 1, fast: true }]) {
    const m = await loadModel(bytes, { backend: 'wasm', ...opts });
    try {
      await m.complete('Once upon a time', { temperature: 0, maxTokens: 20 });
      await m.perplexity('the cat sat on the mat and the dog ran to see it '.repeat(20), { ctx: 128 });
      const b = m.backend as WasmBackend;
      // the heap's own start (the kernels' data and stack) counted as a fresh backend has it
      const base = { used: (await WasmBackend.create()).heap.used };
      const plan = planMemory(config, SqzReader.fromBytes(bytes).entries, { name: 'wasm', fast: opts.fast, threads: opts.threads, heap: base }, m.ctx, 64);
      const used = b.heap.used;
      assert.ok(plan.total >= used, `${JSON.stringify(opts)}: the plan (${plan.total}) is below what the heap holds (${used})`);
      assert.ok(plan.total - used < 3 << 20, `${JSON.stringify(opts)}: the plan (${plan.total}) is ${plan.total - used} bytes above the heap (${used})`);
    } finally {
      await m.close();
    }
  }
});

test('running out of WASM memory anyway (the plan is an estimate) is a MemoryLimitError naming the source and the tensor', async () => {
  const config = syntheticConfig({ vocabSize: 260 });
  const backend = await WasmBackend.create();
  const full = Object.assign(Object.create(backend), {
    upload(rec: TensorRecord) {
      if (rec.name === 'layers.1.mlp.up') throw Object.assign(new Error('WASM memory exhausted: this needs 9 bytes'), { name: 'WasmMemoryError' });
      return backend.upload(rec);
    },
  });
  await rejects(Model.fromRecords(config, syntheticTokenizer(260), syntheticRecords(config), full, {}, { source: 'm.sqz' }), MemoryLimitError, /^m\.sqz: tensor 'layers\.1\.mlp\.up': WASM memory exhausted/);
});

test('past 1024 positions the heap stops growing, and stays within the plan (attention scratch grows in powers of two)', async () => {
  const config = syntheticConfig({ dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 260, maxSeqLen: 2048 });
  const bytes = encodeSqz({ config, tokenizer: syntheticTokenizer(260), quant: { method: 'f32' } }, syntheticRecords(config));
  const m = await loadModel(bytes, { backend: 'wasm', ctx: 2048 });
  try {
    const heap = (m.backend as WasmBackend).heap;
    let at1100 = 0;
    for (let pos = 0; pos < 1600; pos++) {
      m.forward([3 + (pos % 200)], pos);
      if (pos === 1100) at1100 = heap.used;
    }
    // one token more each step asked 4 bytes more of scratch: a new block per token, ~2.6 MB here
    assert.ok(heap.used - at1100 < 64 * 1024, `the heap grew ${heap.used - at1100} bytes over 500 tokens`);
    const plan = planMemory(config, SqzReader.fromBytes(bytes).entries, { name: 'wasm', heap: { used: (await WasmBackend.create()).heap.used } }, 2048, 64);
    assert.ok(plan.total >= heap.used, `the plan (${plan.total}) is below what the heap holds (${heap.used})`);
  } finally {
    await m.close();
  }
});

test.run();
