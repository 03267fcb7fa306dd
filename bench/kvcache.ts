// One decode step (Model.forward of one token) at a given position, for each KV cache kind, on the
// 134M benchmark model's shape (dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000) with random
// 4-bit SqueezeLLM weights on the int8 fast path (the default speed configuration), in interleaved
// rounds (bench/_timing.ts), timed in this process's CPU time (--wall: wall time). docs/KVCACHE.md
// quotes it.
//
//   node --no-liftoff --import tsx bench/kvcache.ts [--positions 64,512,2048] [--kinds f32,f16,q8,q4,q2] [--layers 12] [--budget-ms 6000] [--wall]
//   node --import tsx bench/kvcache.ts --rss --kinds q4 --positions 4095   # resident memory with a full cache
import { parseArgs } from 'node:util';
import { WasmBackend } from '../src/backend/wasm/index.ts';
import type { TensorRecord } from '../src/format/kinds.ts';
import { KV_KINDS, type KvKind } from '../src/kernels/attention.ts';
import { tensorShapes } from '../src/model/config.ts';
import { Model } from '../src/model/model.ts';
import { Rng } from '../src/util/random.ts';
import { syntheticConfig, syntheticTokenizer } from '../tools/synthetic.ts';
import { randomNuq } from '../test/backend/_nuq.ts';
import { cpuClock, fmtMs, interleavedRounds, median, medianRatio } from './_timing.ts';
import { loadavg } from 'node:os';

const { values } = parseArgs({
  options: {
    positions: { type: 'string', default: '64,512,2048' },
    kinds: { type: 'string', default: KV_KINDS.join(',') },
    layers: { type: 'string', default: '12' },
    wall: { type: 'boolean' },
    rss: { type: 'boolean' },
    'budget-ms': { type: 'string', default: '6000' },
  },
});
const positions = values.positions!.split(',').map(Number);
const kinds = values.kinds!.split(',') as KvKind[];
const config = syntheticConfig({ dim: 768, nLayers: Number(values.layers), nHeads: 12, nKvHeads: 12, hiddenDim: 2048, vocabSize: 32000, maxSeqLen: Math.max(...positions) + 1, tiedEmbeddings: false });
const rng = new Rng(1);
const records: TensorRecord[] = [...tensorShapes(config)].map(([name, shape]) =>
  shape.length === 1 ? { name, kind: 'f32', shape, data: new Float32Array(shape[0]).fill(1) } : randomNuq(rng, name, shape[0], shape[1], { bits: 4 }),
);
const backend = await WasmBackend.create({ fast: true });
const models = new Map<KvKind, Model>();
for (const kv of kinds) models.set(kv, await Model.fromRecords(config, syntheticTokenizer(config.vocabSize), records, backend, { kv, batch: 1 }));
// Every cache is filled with halves of 0.125..1 (valid f16 values; as f32 pairs, values of about
// 1e-9; as quantization parameters, finite and not 0, so no part of the work is skipped): the
// speed does not depend on the values otherwise.
for (const model of models.values()) {
  const { ptr, bytes } = model.state.kv as unknown as { ptr: number; bytes: number };
  const h = backend.heap.u16(ptr, Math.floor(bytes / 2));
  for (let i = 0; i < h.length; i++) h[i] = 0x3000 + rng.int(0x0c00);
}

if (values.rss) {
  // the resident memory with every cache written to its last position (run one kind per process)
  for (const kv of kinds) models.get(kv)!.forward([300], config.maxSeqLen - 1);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const caches = kinds.map((kv) => `${kv} cache ${mib(models.get(kv)!.state.kv.bytes)} MiB`).join(', ');
  console.log(`${config.maxSeqLen} positions: ${caches}; resident ${mib(process.memoryUsage().rss)} MiB, WASM memory ${mib(backend.heap.used)} MiB`);
  process.exit(0);
}
console.log(`one decode step, ${config.nLayers} layers, dim ${config.dim}, random 4-bit LUT weights (fast path), 1 thread, ${values.wall ? 'wall' : 'CPU'} time; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`| position | ${kinds.map((k) => `${k} ms (tok/s)`).join(' | ')} | ${kinds.filter((k) => k !== 'f32').map((k) => `${k} vs f32`).join(' | ')} |`);
console.log(`| --- |${kinds.map(() => ' --- |').join('')}${kinds.filter((k) => k !== 'f32').map(() => ' --- |').join('')}`);
for (const pos of positions) {
  const step = (kv: KvKind) => () => void models.get(kv)!.forward([300], pos);
  // V8 compiles a WASM function with its baseline compiler first and optimizes it once it runs hot: warm up
  for (const kv of kinds) for (const t0 = performance.now(); performance.now() - t0 < 500; ) step(kv)();
  const samples = interleavedRounds(kinds.map(step), Number(values['budget-ms']), values.wall ? undefined : cpuClock);
  const cells = samples.map((s) => `${fmtMs(median(s))} (${(1000 / median(s)).toFixed(1)})`);
  const base = kinds.indexOf('f32');
  const ratios = base < 0 ? [] : kinds.flatMap((k, i) => (k === 'f32' ? [] : [`×${medianRatio(samples[base], samples[i]).toFixed(2)}`]));
  console.log(`| ${pos} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
