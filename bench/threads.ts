// Worker threads in the WASM backend: each figure with threads = 2 (and more, with --threads)
// beside the one-thread baseline measured in the same run, as a ratio (speed-up = t1 / tN).
//
//   node scripts/build.mjs && node --import tsx bench/threads.ts [--threads 2,3] [--quick] [--filter REGEX] [--out FILE]
//
// Rows: f32 and 4-bit LUT matvec at 4096x4096 and 2048x5632; the uniform 4-bit g128 matvec and the
// batched LUT and uniform products (split by rows); batched f32 matmul split by rows and by
// vectors; the fork-join round trip and the break-even size (what DEFAULT_MIN_SPLIT_WORK rests on);
// one forward token of a stories15M-shaped synthetic model (f32 and nuq). Writes a markdown table to
// bench/results/threads.md (or --out) and prints it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WasmBackend, type WasmBackendOptions } from '../src/backend/wasm/index.ts';
import type { Vec, Weight } from '../src/backend/types.ts';
import type { TensorRecord } from '../src/format/kinds.ts';
import { Model } from '../src/model/model.ts';
import { Rng } from '../src/util/random.ts';
import { rtnQuantize } from '../tools/baselines/rtn.ts';
import { syntheticModel } from '../tools/synthetic.ts';
import { nuqModelRecords, randomNuq } from '../test/backend/_nuq.ts';
import { fmtMs, interleavedRounds, medianRatio, parallelCapacity } from './_timing.ts';

const { values: argv } = parseArgs({ options: { threads: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, filter: { type: 'string' } } });
const threadCounts = (argv.threads ?? '2').split(',').map(Number);
const budgetMs = argv.quick ? 150 : 1500;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Row {
  what: string;
  /** Best (least disturbed) round of 1 thread and of each thread count, ms per call. */
  t1: number;
  tn: number[];
  /** Median speed-up over rounds paired in time (round r of 1 thread vs round r of N threads). */
  medianRatio: number[];
}
const rows: Row[] = [];

/**
 * Times `setup`'s closure on one backend per configuration (1 thread, then each of --threads),
 * in interleaved rounds so that a noisy neighbour slows every configuration alike; reports the
 * the best round of each (the figure least disturbed by other processes) and the median of the
 * per-round ratios (how a busy machine fares).
 */
async function measure(
  what: string,
  setup: (b: WasmBackend) => (() => void) | Promise<() => void>,
  opts: (threads: number) => WasmBackendOptions = () => ({}),
): Promise<void> {
  if (argv.filter && !new RegExp(argv.filter).test(what)) return;
  const configs = [1, ...threadCounts];
  const backends: WasmBackend[] = [];
  try {
    const fns: (() => void)[] = [];
    for (const threads of configs) {
      const b = await WasmBackend.create({ threads, ...(threads > 1 ? opts(threads) : {}) });
      backends.push(b);
      fns.push(await setup(b));
    }
    const samples = interleavedRounds(fns, budgetMs);
    const best = samples.map((s) => Math.min(...s));
    const ratios = samples.slice(1).map((s) => medianRatio(samples[0], s));
    const row = { what, t1: best[0], tn: best.slice(1), medianRatio: ratios };
    rows.push(row);
    console.error(`${what}: ${fmtRow(row)}`);
  } finally {
    for (const b of backends) await b.close();
  }
}

function fmtRow(r: Row): string {
  return [fmtMs(r.t1), ...r.tn.map((t, j) => `${fmtMs(t)} | ×${(r.t1 / t).toFixed(2)} | ×${r.medianRatio[j].toFixed(2)}`)].join(' | ');
}

function product(rec: TensorRecord, n: number, seed = 1) {
  const [R, C] = rec.shape;
  const x = new Rng(seed).normals(n * C);
  return (b: WasmBackend) => {
    const w: Weight = b.upload(rec);
    const xv: Vec = b.alloc(n * C);
    b.write(xv, x);
    const o: Vec = b.alloc(n * R);
    return n === 1 ? () => b.matvec(o, w, xv) : () => b.matmul(o, w, xv, n);
  };
}

const rng = new Rng(42);
const f32 = (R: number, C: number): TensorRecord => ({ name: 'w', kind: 'f32', shape: [R, C], data: rng.normals(R * C, 0.02) });
const capacityBefore = await parallelCapacity();

// --- matvec at model sizes
for (const [R, C] of [[4096, 4096], [2048, 5632]]) {
  await measure(`matvec f32 ${R}x${C}`, product(f32(R, C), 1));
  await measure(`matvec LUT 4-bit ${R}x${C}`, product(randomNuq(rng, 'w', R, C, { bits: 4 }), 1));
  const sparse = randomNuq(rng, 'w', R, C, { bits: 4, sparse: 0.0045, splitParts: 2 });
  await measure(`matvec LUT 4-bit + 0.45% sparse ${R}x${C}, recorded split`, product(sparse, 1));
}

// --- uniform (RTN 4-bit, groups of 128) matvec, and the batched quantized products, split by rows
{
  const uni = rtnQuantize('w', rng.normals(4096 * 4096, 0.02), 4096, 4096, { bits: 4, groupSize: 128 });
  await measure('matvec uniform 4-bit g128 4096x4096', product(uni, 1));
  const lut = randomNuq(rng, 'w', 2048, 2048, { bits: 4, sparse: 0.0045, splitParts: 2 });
  const uni2 = rtnQuantize('w', rng.normals(2048 * 2048, 0.02), 2048, 2048, { bits: 4, groupSize: 128 });
  for (const n of [4, 16, 64]) {
    await measure(`matmul LUT 4-bit + 0.45% sparse 2048x2048, n=${n}, recorded split`, product(lut, n));
    await measure(`matmul uniform 4-bit g128 2048x2048, n=${n}`, product(uni2, n));
  }
}

// --- batched f32 (a prompt): split by weight rows (scratch + copy) or by activation vectors
for (const n of [4, 16, 64]) {
  const rec = f32(2048, 2048);
  for (const split of ['rows', 'vectors'] as const) {
    await measure(`matmul f32 2048x2048, n=${n}, split by ${split}`, product(rec, n), () => ({ matmulSplit: split }));
  }
}

// --- fork-join cost and break-even: small matvecs, always split
for (const [R, C] of [[32, 32], [128, 128], [256, 256], [288, 288], [768, 288]]) {
  await measure(`matvec f32 ${R}x${C} (${R * C} MACs), always split`, product(f32(R, C), 1), () => ({ minSplitWork: 0 }));
}

// --- one forward token, stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000)
const shape = { seed: 7, dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, maxSeqLen: 256 };
const m = syntheticModel(shape);
const nuq = nuqModelRecords(m.records, 9, { sparse: 0.0045 });
for (const [label, records] of [['f32', m.records], ['nuq 3/4-bit + 0.45% sparse (f32 embedding/head)', nuq]] as const) {
  for (const pos of [16, 200]) {
    await measure(`forward 1 token at pos ${pos}, stories15M-shaped ${label}`, async (b) => {
      const model = await Model.fromRecords(m.config, m.tokenizer, records, b, { batch: 64 });
      model.forward(Array.from({ length: pos }, (_, i) => (i * 31 + 3) % shape.vocabSize), 0);
      return () => void model.forward([5], pos);
    });
  }
}
await measure('forward a 64-token prompt, stories15M-shaped f32', async (b) => {
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, b, { batch: 64 });
  const prompt = Array.from({ length: 64 }, (_, i) => (i * 31 + 3) % shape.vocabSize);
  return () => void model.forward(prompt, 0);
});
const capacityAfter = await parallelCapacity();

const header =
  `| | 1 thread | ${threadCounts.map((t) => `${t} threads | speed-up (best) | speed-up (median)`).join(' | ')} |\n` +
  `| --- | --- | ${threadCounts.map(() => '--- | --- | ---').join(' | ')} |`;
const table = [header, ...rows.map((r) => `| ${r.what} | ${fmtRow(r)} |`)].join('\n');
const machine =
  `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; ` +
  `two busy threads ran ×${capacityBefore.toFixed(2)} (before) and ×${capacityAfter.toFixed(2)} (after) as fast as one ` +
  `(×2.00 = two free cores), load average ${loadavg()[0].toFixed(2)} at the end`;
const text = `Command: \`node --import tsx bench/threads.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`\n\nMachine: ${machine}\n\nTime per call: the best of interleaved rounds (1 thread and N threads alternate, about 25 ms a round, each after one untimed warm-up call). Speed-up (best): ratio of the best rounds. Speed-up (median): median over rounds of the ratio of neighbouring rounds, which shows what a busy machine gives.\n\n${table}\n`;
const out = argv.out ?? join(root, 'bench', 'results', 'threads.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(text);
