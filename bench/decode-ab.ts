// One decode step's int8 LUT products of the 134M benchmark model, run by two or more builds of the
// kernels side by side in one process (a before/after of a kernel change, each build with its own
// memory holding the same matrices), CPU time, interleaved rounds:
//
//   node --import tsx bench/decode-ab.ts [--bits 4|3] [--sparse 0.0045] [--hot] [--rounds N] OLD.wasm NEW.wasm [...]
//
// Build the "before" file from the older checkout (node scripts/build.mjs there; build/kernels-relaxed.wasm
// or build/kernels.wasm). A step is 12 layers of q, k, v, o (768x768), gate, up (2048x768), down
// (768x2048) and the 32000x768 head, each after quantizing its input, as the backend runs them; with
// --sparse a CSR part of that density in every layer (not the head), added by the builds'
// matvecLut*Int8Sparse where they have it, else by spmvCsrAdd after the LUT kernel. --hot instead
// runs one layer's three shapes 30 times over (cache-resident: the kernels' own cost without the
// memory's). Prints each build's median, ns per weight, the median over rounds of first / this, and
// how far its outputs are from the first build's (0 when a change keeps the bits).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { instantiate } from '@assemblyscript/loader';
import { WasmHeap } from '../src/backend/wasm/heap.ts';
import { enableRelaxedSimd } from '../src/backend/wasm/instance.ts';
import type { KernelExports } from '../src/backend/wasm/exports.ts';
import { lutInt8Table } from '../src/backend/wasm/layout.ts';
import { Rng } from '../src/util/random.ts';
import { cpuClock, median } from './_timing.ts';

const usage = `usage: node --import tsx bench/decode-ab.ts [--bits 4|3] [--sparse DENSITY] [--hot] [--rounds N] A.wasm B.wasm [...]`;
const { values: argv, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { bits: { type: 'string', default: '4' }, sparse: { type: 'string', default: '0' }, hot: { type: 'boolean' }, rounds: { type: 'string', default: '15' }, help: { type: 'boolean', short: 'h' } },
});
if (argv.help) {
  console.log(usage);
  process.exit(0);
}
const bits = Number(argv.bits);
const density = Number(argv.sparse);
const rounds = Number(argv.rounds);
if ((bits !== 3 && bits !== 4) || !(density >= 0 && density < 1) || !(rounds >= 1) || files.length < 2) throw new Error(`bad arguments\n${usage}`);
await enableRelaxedSimd();

const layers = argv.hot ? 1 : 12;
const repeats = argv.hot ? 30 : 1;
const shapes: [number, number][] = [];
for (let l = 0; l < layers; l++) shapes.push(...(argv.hot ? [] : ([[768, 768], [768, 768], [768, 768], [768, 768]] as [number, number][])), [2048, 768], [2048, 768], [768, 2048]);
if (!argv.hot) shapes.push([32000, 768]);
const weights = repeats * shapes.reduce((s, [R, C]) => s + R * C, 0);

// The same matrices for every build: random tables, random index bytes (any byte is valid in both
// layouts), and a CSR part in every layer but the head.
const rng = new Rng(45);
const x = rng.normals(32000);
const mats = shapes.map(([R, C], i) => {
  const lut = rng.normals(R << bits, 0.02);
  const idx = new Uint8Array(R * Math.ceil(C / 64) * 8 * bits);
  let z = rng.int(1 << 30) | 1;
  for (let j = 0; j < idx.length; j++) idx[j] = (z = (Math.imul(z, 1103515245) + 12345) | 0) >>> 24;
  const rowPtr = new Int32Array(R + 1);
  const cols: number[] = [];
  if (density > 0 && (argv.hot || i < shapes.length - 1)) {
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) if (rng.next() < density) cols.push(c);
      rowPtr[r + 1] = cols.length;
    }
  }
  return { R, C, idx, rowPtr, colIdx: Int32Array.from(cols), values: rng.normals(cols.length, 0.1), ...lutInt8Table(lut, bits as 3 | 4) };
});

/** One build with the matrices placed in its own memory: its step, and its outputs of one step. */
async function placeBuild(file: string) {
  const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536, shared: true });
  const { exports: k } = await instantiate<KernelExports>(new WebAssembly.Module(readFileSync(file)), { env: { memory } });
  const heap = new WasmHeap(memory, k.heapBase());
  const px = heap.place(x);
  const xq = heap.alloc(k.activationBytes(32000));
  const out = heap.alloc(32000 * 4);
  const sparse = bits === 4 ? k.matvecLut4Int8Sparse : k.matvecLut3Int8Sparse;
  const dense = bits === 4 ? k.matvecLut4Int8 : k.matvecLut3Int8;
  const placed = mats.map((m) => {
    const nnz = m.colIdx.length;
    return { ...m, idx: heap.place(m.idx), table: heap.place(m.table), params: heap.place(m.params), rowPtr: nnz ? heap.place(m.rowPtr) : 0, colIdx: nnz ? heap.place(m.colIdx) : 0, values: nnz ? heap.place(m.values) : 0 };
  });
  const product = (m: (typeof placed)[number]) => {
    k.quantizeActivations(xq, px, m.C);
    if (m.rowPtr !== 0 && sparse) return sparse(out, m.table, m.params, m.idx, xq, m.C, 0, m.R, m.rowPtr, m.colIdx, m.values, px);
    dense(out, m.table, m.params, m.idx, xq, m.C, 0, m.R);
    if (m.rowPtr !== 0) k.spmvCsrAdd(out, m.rowPtr, m.colIdx, m.values, px, 0, m.R);
  };
  const outputs = placed.map((m) => {
    product(m);
    return heap.f32(out, m.R).slice();
  });
  const step = () => {
    for (let i = 0; i < repeats; i++) placed.forEach(product);
  };
  return { step, outputs };
}

const builds: Awaited<ReturnType<typeof placeBuild>>[] = [];
for (const f of files) builds.push(await placeBuild(f));
for (let r = 0; r < 3; r++) builds.forEach((b) => b.step());
const ms: number[][] = builds.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < builds.length; j++) {
    const i = (j + r) % builds.length;
    const t0 = cpuClock();
    builds[i].step();
    ms[i].push(cpuClock() - t0);
  }
}
console.log(
  `${bits}-bit, ${argv.hot ? 'one layer x30 (cache-resident)' : '12 layers + head'}, ${(weights / 1e6).toFixed(1)}M weights${density ? `, sparse ${density}` : ''}; ` +
    `CPU time, ${rounds} interleaved rounds; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`,
);
builds.forEach((b, i) => {
  let diff = 0;
  let big = 0;
  builds[0].outputs.forEach((o, m) => o.forEach((v, j) => ((diff = Math.max(diff, Math.abs(v - b.outputs[m][j]))), (big = Math.max(big, Math.abs(v))))));
  const t = median(ms[i]);
  const ratio = median(ms[0].map((a, r) => a / ms[i][r]));
  console.log(`  ${files[i]}: ${t.toFixed(2)} ms (${((t * 1e6) / weights).toFixed(4)} ns/weight), first / this ×${ratio.toFixed(3)}, outputs off the first's by ${(diff / big).toExponential(2)} (relative)`);
});
