// Worker threads in the WASM backend: each figure with threads = 2 (and more, with --threads)
// beside the one-thread baseline measured in the same run, as a ratio (speed-up = t1 / tN).
//
//   node scripts/build.mjs && node --import tsx bench/threads.ts [--threads 2,3] [--quick] [--out FILE]
//
// Rows: f32 and 4-bit LUT matvec at 4096x4096 and 2048x5632; batched f32 matmul split by rows and by
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
import { syntheticModel } from '../tools/synthetic.ts';
import { nuqModelRecords, randomNuq } from '../test/backend/_nuq.ts';

const { values: argv } = parseArgs({ options: { threads: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' } } });
const threadCounts = (argv.threads ?? '2').split(',').map(Number);
const budgetMs = argv.quick ? 150 : 600;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Median ms per call over rounds of about budgetMs / 5 each. */
function time(fn: () => void): number {
  fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt > budgetMs / 10) break;
    reps *= 2;
  }
  const samples: number[] = [];
  const end = performance.now() + budgetMs;
  while (samples.length < 5 || (performance.now() < end && samples.length < 50)) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    samples.push((performance.now() - t0) / reps);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

interface Row {
  what: string;
  t1: number;
  tn: number[];
}
const rows: Row[] = [];

/** Runs `setup` on a fresh backend per configuration and times the returned closure. */
async function measure(what: string, setup: (b: WasmBackend) => (() => void) | Promise<() => void>, base: WasmBackendOptions = {}, opts: (t: number) => WasmBackendOptions = () => ({})): Promise<Row> {
  const t: number[] = [];
  for (const threads of [1, ...threadCounts]) {
    const b = await WasmBackend.create({ ...base, threads, ...(threads > 1 ? opts(threads) : {}) });
    try {
      t.push(time(await setup(b)));
    } finally {
      await b.close();
    }
  }
  const row = { what, t1: t[0], tn: t.slice(1) };
  rows.push(row);
  console.error(`${what}: ${fmtRow(row)}`);
  return row;
}

function fmtMs(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}
function fmtRow(r: Row): string {
  return [fmtMs(r.t1), ...r.tn.map((t) => `${fmtMs(t)} (×${(r.t1 / t).toFixed(2)})`)].join(' | ');
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

// --- matvec at model sizes
for (const [R, C] of [[4096, 4096], [2048, 5632]]) {
  await measure(`matvec f32 ${R}x${C}`, product(f32(R, C), 1));
  const lut = randomNuq(rng, 'w', R, C, { bits: 4 });
  await measure(`matvec LUT 4-bit ${R}x${C}`, product(lut, 1));
  const sparse = randomNuq(rng, 'w', R, C, { bits: 4, sparse: 0.0045, splitParts: 2 });
  await measure(`matvec LUT 4-bit + 0.45% sparse ${R}x${C} (recorded split)`, product(sparse, 1));
}

// --- batched f32: split by weight rows (scratch + copy) or by activation vectors
for (const n of [8, 64]) {
  const rec = f32(2048, 2048);
  for (const split of ['rows', 'vectors'] as const) {
    await measure(`matmul f32 2048x2048, n=${n}, split by ${split}`, product(rec, n), {}, () => ({ matmulSplit: split }));
  }
}

// --- fork-join cost and break-even: small matvecs forced to split
for (const [R, C] of [[64, 64], [128, 128], [256, 256], [288, 288], [512, 512], [768, 288]]) {
  await measure(`matvec f32 ${R}x${C} (${R * C} MACs), always split`, product(f32(R, C), 1), {}, () => ({ minSplitWork: 0 }));
}

// --- one forward token, stories15M shape
const shape = { seed: 7, dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, maxSeqLen: 256 };
const m = syntheticModel(shape);
const nuq = nuqModelRecords(m.records, 9, { sparse: 0.0045 });
for (const [label, records] of [['f32', m.records], ['nuq 3/4-bit + sparse, f32 head', nuq]] as const) {
  for (const pos of [16, 200]) {
    await measure(`forward 1 token at pos ${pos}, stories15M-shaped ${label}`, async (b) => {
      const model = await Model.fromRecords(m.config, m.tokenizer, records, b, { batch: 64 });
      model.forward(Array.from({ length: pos }, (_, i) => (i * 31 + 3) % shape.vocabSize), 0);
      return () => void model.forward([5], pos);
    });
  }
}

const header = `| | 1 thread | ${threadCounts.map((t) => `${t} threads (speed-up)`).join(' | ')} |\n| --- | --- | ${threadCounts.map(() => '---').join(' | ')} |`;
const table = [header, ...rows.map((r) => `| ${r.what} | ${fmtRow(r)} |`)].join('\n');
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(2)} at the end`;
const text = `Command: \`node --import tsx bench/threads.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`\n\nMachine: ${machine}\n\n${table}\n`;
const out = argv.out ?? join(root, 'bench', 'results', 'threads.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(text);
