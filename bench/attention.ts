// The attention of one decode step (every layer's attendBlock for one token at a given position) for
// each KV cache kind, on the 134M benchmark model's shape unless told otherwise, in interleaved
// rounds (bench/_timing.ts), timed in this process's CPU time (--wall: wall time). docs/KVCACHE.md
// quotes it.
//
//   node --no-liftoff --import tsx bench/attention.ts [--positions 64,512,2048] [--layers 12 --heads 12 --kv-heads 12 --head-size 64] [--budget-ms 4000] [--wall]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createKernelInstance } from '../src/backend/wasm/instance.ts';
import { KV_KINDS, KV_MODE, KV_RESIDUAL, type KvKind } from '../src/kernels/attention.ts';
import { Rng } from '../src/util/random.ts';
import { cpuClock, fmtMs, interleavedRounds, median, medianRatio } from './_timing.ts';

const { values } = parseArgs({
  options: {
    positions: { type: 'string', default: '64,512,2048' },
    layers: { type: 'string', default: '12' },
    heads: { type: 'string', default: '12' },
    'kv-heads': { type: 'string' },
    'head-size': { type: 'string', default: '64' },
    kinds: { type: 'string', default: KV_KINDS.join(',') },
    wall: { type: 'boolean' },
    'budget-ms': { type: 'string', default: '4000' },
  },
});
const layers = Number(values.layers);
const nHeads = Number(values.heads);
const nKvHeads = Number(values['kv-heads'] ?? values.heads);
const hs = Number(values['head-size']);
const positions = values.positions!.split(',').map(Number);
const kinds = values.kinds!.split(',') as KvKind[];
const ctx = Math.max(...positions) + 1;
const { exports: k, heap } = await createKernelInstance();
const rng = new Rng(1);

// Every cache is filled with halves of 0.125..1 (valid f16 values; as f32 pairs, f32 values of
// about 1e-9; as quantization parameters, finite): the speed does not depend on the values, only
// on no subnormal or NaN being among them.
const caches = new Map<KvKind, number>();
for (const kind of kinds) {
  const bytes = k.kvCacheBytes(layers, nKvHeads, hs, ctx, KV_MODE[kind], KV_RESIDUAL);
  const ptr = heap.alloc(bytes);
  const h = heap.u16(ptr, Math.floor(bytes / 2));
  for (let i = 0; i < h.length; i++) h[i] = 0x3000 + rng.int(0x0c00);
  caches.set(kind, ptr);
}
const qDim = nHeads * hs;
const kvDim = nKvHeads * hs;
const q = heap.place(rng.normals(qDim));
const kk = heap.place(rng.normals(kvDim));
const vv = heap.place(rng.normals(kvDim));
const out = heap.alloc(qDim * 4);
const scratch = heap.alloc(k.attendScratchBytes(hs, ctx));

console.log(`attention of one token, ${layers} layers x ${nHeads} heads (${nKvHeads} KV heads) x ${hs}, per position: time of the step / (position + 1); ${values.wall ? 'wall' : 'CPU'} time, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`| position | ${kinds.join(' | ')} | ${kinds.filter((x) => x !== 'f32').map((x) => `${x} vs f32`).join(' | ')} |`);
console.log(`| --- |${kinds.map(() => ' --- |').join('')}${kinds.filter((x) => x !== 'f32').map(() => ' --- |').join('')}`);
for (const pos of positions) {
  // pos + 1 positions never end a residual window here, so no call quantizes one
  const step = (kind: KvKind) => () => {
    for (let l = 0; l < layers; l++) k.attendBlock(out, q, kk, vv, caches.get(kind)!, l, pos, 1, nHeads, nKvHeads, hs, ctx, KV_MODE[kind], KV_RESIDUAL, 10000, 0, scratch, 0, 0, 0);
  };
  // V8 compiles a WASM function with its baseline compiler first and optimizes it once it runs hot: warm up
  for (const kind of kinds) for (const t0 = performance.now(); performance.now() - t0 < 300; ) step(kind)();
  const samples = interleavedRounds(kinds.map(step), Number(values['budget-ms']), values.wall ? undefined : cpuClock);
  const cells = samples.map((s) => `${fmtMs(median(s))} (${((median(s) * 1e6) / (pos + 1)).toFixed(0)} ns)`);
  const base = kinds.indexOf('f32');
  const ratios = base < 0 ? [] : kinds.map((x, i) => (x === 'f32' ? '' : `×${medianRatio(samples[base], samples[i]).toFixed(2)}`)).filter((x) => x);
  console.log(`| ${pos} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
}
