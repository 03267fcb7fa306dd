// The quantized products against their baselines, each figure beside the baseline measured in the
// same run (interleaved rounds, bench/_timing.ts):
//
//   node scripts/build.mjs && node --import tsx bench/kernels.ts [--quick] [--filter REGEX] [--out FILE]
//
// Single-token LUT matvecs, one thread: the exact kernels (matvecLut4/3) and the int8 fast path
// (quantizeActivations + matvecLut4Int8/3Int8) against matvecF32 on stories15M-sized (288x288,
// 768x288, 288x768) and larger (2048x2048, 4096x4096) matrices.
//
// Kernels, one thread: the batched LUT matmul (matmulLut4/3) against n looped matvecs (the path
// before it) and against the f32 matmul at n = 1, 4, 16, 64 for 2048x2048 and 4096x4096; the
// uniform 4-bit g128 matvec and matmul likewise.
//
// One decode step of the 134M model's LUT products (12 layers + head), CPU time: exact, int8 plain-SIMD
// build, int8 relaxed-SIMD build, beside a 64 MiB f32 read as the memory's read rate.
//
// Batched int8 fast path, one thread: matmulLut4Int8/3Int8 against n int8 matvecs, the exact batched
// matmulLut4/3 and matmulF32, stories15M shapes and 2048x2048 at n = 4, 16, 64.
//
// f16 weights, one thread: matvecF16 and matmulF16 (n = 16) against the f32 kernels on the same
// values, stories15M shapes (the 32000x288 head included) and 2048x2048.
//
// End to end, a stories15M-shaped synthetic model (dim 288, hidden 768, 6 layers, vocab 32000, f32
// embedding and head) in f32, nuq (3-bit attention, 4-bit MLP, 0.45% sparse), nuq on the int8 fast
// path, uniform (RTN 4-bit g128) and f16 (every matrix, as `sqz convert --dtype f16`) on 1 and 2 threads: a 64-token prompt, one token at position 64, and a 128-token
// perplexity window (logits at every position). Writes a markdown table to bench/results/kernels.md
// (or --out) and prints it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { WasmHeap } from '../src/backend/wasm/heap.ts';
import { WasmBackend } from '../src/backend/wasm/index.ts';
import { createKernelInstance, enableRelaxedSimd, relaxedSimdAvailable, type KernelBuild } from '../src/backend/wasm/instance.ts';
import { liftHalves, lutInt8Table, lutPlanes } from '../src/backend/wasm/layout.ts';
import { activationStride } from '../src/backend/wasm/protocol.ts';
import { dequantize, type F16Record, type TensorRecord } from '../src/format/kinds.ts';
import { Model } from '../src/model/model.ts';
import { Rng } from '../src/util/random.ts';
import { rtnQuantize } from '../tools/baselines/rtn.ts';
import { denseRecord } from '../tools/convert.ts';
import { syntheticModel } from '../tools/synthetic.ts';
import { nuqModelRecords, randomNuq, uniformModelRecords } from '../test/backend/_nuq.ts';
import { fmtMs, interleavedRounds, median, medianRatio, parallelCapacity } from './_timing.ts';

const { values: argv } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, filter: { type: 'string' } } });
const budgetMs = argv.quick ? 150 : 1500;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = (what: string) => !argv.filter || new RegExp(argv.filter).test(what);

/** The best round of each function (the figure least disturbed by other processes). */
function bestOf(fns: (() => void)[]): number[] {
  return interleavedRounds(fns, budgetMs).map((s) => Math.min(...s));
}

/** A random R x C nuq matrix placed for both LUT paths: its byte planes, packed indices, 7-bit table and row (step, lo). */
function placeNuq(heap: WasmHeap, rng: Rng, R: number, C: number, bits: 3 | 4) {
  const rec = randomNuq(rng, 'w', R, C, { bits });
  const t8 = lutInt8Table(rec.lut, bits);
  return { planes: heap.place(lutPlanes(rec.lut, bits)), idx: heap.place(rec.indices), table: heap.place(t8.table), scales: heap.place(t8.params) };
}

// the relaxed-SIMD build where the engine has it (Node 20: behind a flag this turns on), as the CLI runs
await enableRelaxedSimd();
const sections: string[] = [];
const capacityBefore = await parallelCapacity();

// --- single-token LUT matvecs, one thread
{
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(41);
  const lines: string[] = [];
  for (const [R, C] of [[288, 288], [768, 288], [288, 768], [2048, 2048], [4096, 4096]]) {
    for (const bits of [4, 3] as const) {
      const what = `LUT ${bits}-bit ${R}x${C}`;
      if (!wanted(what)) continue;
      const mark = heap.mark();
      const { planes, idx, table, scales } = placeNuq(heap, rng, R, C, bits);
      const f32 = heap.place(rng.normals(R * C, 0.02));
      const x = heap.place(rng.normals(C));
      const xq = heap.alloc(k.activationBytes(C));
      const out = heap.alloc(R * 4);
      const [exact, int8] = bits === 4 ? [k.matvecLut4, k.matvecLut4Int8] : [k.matvecLut3, k.matvecLut3Int8];
      const best = bestOf([
        () => exact(out, planes, idx, x, C, 0, R),
        () => {
          k.quantizeActivations(xq, x, C);
          int8(out, table, scales, idx, xq, C, 0, R);
        },
        () => k.matvecF32(out, f32, x, C, 0, R),
      ]);
      const perWeight = (ms: number) => `${((ms * 1e6) / (R * C)).toFixed(3)}`;
      lines.push(`| ${what} | ${fmtMs(best[0])} (${perWeight(best[0])}) | ${fmtMs(best[1])} (${perWeight(best[1])}) | ${fmtMs(best[2])} (${perWeight(best[2])}) | ×${(best[0] / best[1]).toFixed(2)} | ×${(best[2] / best[0]).toFixed(2)} | ×${(best[2] / best[1]).toFixed(2)} |`);
      console.error(lines[lines.length - 1]);
      heap.release(mark);
    }
  }
  sections.push(
    `### Single-token LUT matvecs, one thread\n\nexact: matvecLut4 / matvecLut3; int8: quantizeActivations + matvecLut4Int8 / matvecLut3Int8 (the fast path, not exact); ` +
      `f32: matvecF32 on a dense matrix of the same shape. In brackets: ns per weight. Ratios above 1 mean the second named is slower.\n\n` +
      `| matvec | exact | int8 | f32 | int8 vs exact | exact vs f32 | int8 vs f32 |\n| --- | --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}\n`,
  );
}

// --- one decode step's LUT products on the 134M benchmark model's shapes (docs/KERNELS.md, "LUT products"):
// 12 layers of q, k, v, o (768x768), gate, up (2048x768) and down (768x2048), then the 32000x768 head,
// 109.5M weights read from memory once per step (55 MB of 4-bit indices), each product after quantizing
// its input as the backend does. CPU time of the process (process.cpuUsage), so that the other jobs
// of a shared machine slow the figures less than wall time; interleaved rounds, medians.
{
  const layers = argv.quick ? 2 : 12;
  const shapes: [number, number][] = [];
  for (let l = 0; l < layers; l++) shapes.push([768, 768], [768, 768], [768, 768], [768, 768], [2048, 768], [2048, 768], [768, 2048]);
  shapes.push([32000, 768]);
  const weights = shapes.reduce((s, [R, C]) => s + R * C, 0);
  const builds: KernelBuild[] = relaxedSimdAvailable() ? ['simd', 'relaxed'] : ['simd'];
  const lines: string[] = [];
  for (const bits of [4, 3] as const) {
    const what = `decode step ${bits}-bit`;
    if (!wanted(what)) continue;
    const rng = new Rng(45);
    // the same matrices in every instance: random tables, indices from a fast generator (uniform bytes)
    const mats = shapes.map(([R, C]) => {
      const lut = rng.normals(R << bits, 0.02);
      const idx = new Uint8Array(R * Math.ceil(C / 32) * 4 * bits);
      let z = rng.int(1 << 30) | 1;
      for (let i = 0; i < idx.length; i++) idx[i] = (z = (Math.imul(z, 1103515245) + 12345) | 0) >>> 24;
      return { R, C, lut, idx };
    });
    const steps: (() => void)[] = [];
    for (const build of builds) {
      const { exports: k, heap } = await createKernelInstance(undefined, build);
      const x = heap.place(rng.normals(32000));
      const xq = heap.alloc(k.activationBytes(32000));
      const out = heap.alloc(32000 * 4);
      const placed = mats.map((m) => {
        const t8 = lutInt8Table(m.lut, bits);
        return { ...m, idx: heap.place(m.idx), planes: build === 'simd' ? heap.place(lutPlanes(m.lut, bits)) : 0, table: heap.place(t8.table), params: heap.place(t8.params) };
      });
      const [exact, int8] = bits === 4 ? [k.matvecLut4, k.matvecLut4Int8] : [k.matvecLut3, k.matvecLut3Int8];
      if (build === 'simd') steps.push(() => placed.forEach((m) => exact(out, m.planes, m.idx, x, m.C, 0, m.R)));
      steps.push(() =>
        placed.forEach((m) => {
          k.quantizeActivations(xq, x, m.C);
          int8(out, m.table, m.params, m.idx, xq, m.C, 0, m.R);
        }),
      );
    }
    // a dense f32 read of 64 MiB, as the yardstick of the memory's read rate in the same rounds
    const { exports: kf, heap: hf } = await createKernelInstance();
    const fw = hf.place(rng.normals(4096 * 4096, 0.02));
    const fx = hf.place(rng.normals(4096));
    const fo = hf.alloc(4096 * 4);
    steps.push(() => kf.matvecF32(fo, fw, fx, 4096, 0, 4096));
    const rounds = argv.quick ? 5 : 15;
    const cpu: number[][] = steps.map(() => []);
    steps.forEach((f) => f());
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < steps.length; j++) {
        const i = (j + r) % steps.length;
        const t0 = process.cpuUsage();
        steps[i]();
        const d = process.cpuUsage(t0);
        cpu[i].push((d.user + d.system) / 1000);
      }
    }
    const med = cpu.map(median);
    const gbps = (bytes: number, ms: number) => (bytes / ms / 1e6).toFixed(1);
    const indexBytes = (weights * bits) / 8;
    const cell = (i: number) => `${fmtMs(med[i])} (${((med[i] * 1e6) / weights).toFixed(3)} ns, ${gbps(indexBytes, med[i])} GB/s)`;
    const ratio = (a: number, b: number) => `×${medianRatio(cpu[a], cpu[b]).toFixed(2)}`;
    const relaxed = builds.length === 2 ? 2 : 1;
    lines.push(
      `| ${bits}-bit, ${layers} layers + head (${(weights / 1e6).toFixed(1)}M weights) | ${cell(0)} | ${cell(1)} | ${builds.length === 2 ? cell(2) : '–'} | ` +
        `${ratio(0, relaxed)} | ${builds.length === 2 ? ratio(1, 2) : '–'} | ${gbps(4096 * 4096 * 4, med[steps.length - 1])} GB/s |`,
    );
    console.error(lines[lines.length - 1]);
  }
  if (lines.length) {
    sections.push(
      `### One decode step's LUT products, one thread, CPU time\n\nThe 134M model's products (${layers} layers + the 32000x768 head), each int8 one after quantizing its input. ` +
        `exact: matvecLut4 / matvecLut3; int8 plain / relaxed: the fast path in the plain-SIMD and the relaxed-SIMD build. In brackets: ns per weight and the rate at which ` +
        `the packed indices are read. f32 read rate: matvecF32 on a 64 MiB matrix in the same rounds (the memory's read rate with SIMD loads). Medians of ${argv.quick ? 5 : 15} interleaved rounds.\n\n` +
        `| step | exact | int8 plain | int8 relaxed | fast vs exact | relaxed vs plain | f32 read rate |\n| --- | --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}\n`,
    );
  }
}

// --- the batched int8 fast path, one thread
{
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(44);
  const lines: string[] = [];
  for (const [R, C, ns] of [[288, 288, [4, 64]], [768, 288, [64]], [288, 768, [64]], [2048, 2048, [4, 16, 64]]] as [number, number, number[]][]) {
    for (const bits of [4, 3] as const) {
      for (const n of ns) {
        const what = `int8 ${bits}-bit ${R}x${C}, n=${n}`;
        if (!wanted(what)) continue;
        const mark = heap.mark();
        const { planes, idx, table, scales } = placeNuq(heap, rng, R, C, bits);
        const f32 = heap.place(rng.normals(R * C, 0.02));
        const x = heap.place(rng.normals(n * C));
        const stride = activationStride(k, C);
        const xq = heap.alloc(n * stride);
        const out = heap.alloc(n * R * 4);
        const scratch = heap.alloc(k.matmulScratchBytes(C));
        const [matvec, matmul, exact] = bits === 4 ? [k.matvecLut4Int8, k.matmulLut4Int8, k.matmulLut4] : [k.matvecLut3Int8, k.matmulLut3Int8, k.matmulLut3];
        // as the backend runs it: the n vectors quantized once, then the product
        const quantize = () => {
          for (let i = 0; i < n; i++) k.quantizeActivations(xq + i * stride, x + i * C * 4, C);
        };
        const best = bestOf([
          () => {
            quantize();
            for (let i = 0; i < n; i++) matvec(out + i * R * 4, table, scales, idx, xq + i * stride, C, 0, R);
          },
          () => {
            quantize();
            matmul(out, table, scales, idx, xq, stride, R, C, n, 0, R);
          },
          () => exact(out, planes, idx, x, R, C, n, 0, R, scratch),
          () => k.matmulF32(out, f32, x, R, C, n),
        ]);
        const perMac = (ms: number) => `${((ms * 1e6) / (R * C * n)).toFixed(3)}`;
        lines.push(`| ${what} | ${best.map((t) => `${fmtMs(t)} (${perMac(t)})`).join(' | ')} | ×${(best[0] / best[1]).toFixed(2)} | ×${(best[2] / best[1]).toFixed(2)} | ×${(best[3] / best[1]).toFixed(2)} |`);
        console.error(lines[lines.length - 1]);
        heap.release(mark);
      }
    }
  }
  sections.push(
    `### Batched int8 fast path, one thread\n\nint8 looped: n calls of matvecLut4Int8 / matvecLut3Int8 (the fast path's batches before matmulLut4Int8 / 3Int8); int8 batched: matmulLut4Int8 / matmulLut3Int8 ` +
      `(the same bits); both after quantizing the n vectors. exact batched: matmulLut4 / matmulLut3; f32: matmulF32 on a dense matrix of the same shape. In brackets: ns per multiply-add. ` +
      `Ratios above 1 mean int8 batched is faster.\n\n` +
      `| product | int8 looped | int8 batched | exact batched | f32 | vs int8 looped | vs exact batched | vs f32 |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}\n`,
  );
}

// --- f16 against f32, one thread
{
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(43);
  const lines: string[] = [];
  for (const [R, C] of [[288, 288], [768, 288], [288, 768], [32000, 288], [2048, 2048]]) {
    for (const n of [1, 16]) {
      const what = `f16 ${R}x${C}, n=${n}`;
      if (!wanted(what)) continue;
      const mark = heap.mark();
      const rec = denseRecord('w', [R, C], rng.normals(R * C, 0.02), 'f16') as F16Record;
      const f16 = heap.place(rec.data), f32 = heap.place(dequantize(rec));
      const shift = liftHalves(heap.u16(f16, R * C)); // as the backend places them
      const x = heap.place(rng.normals(n * C));
      const out = heap.alloc(n * R * 4);
      const scratch = heap.alloc(k.matmulScratchBytes(C));
      const best = bestOf(
        n === 1
          ? [() => k.matvecF16(out, f16, x, C, 0, R, shift), () => k.matvecF32(out, f32, x, C, 0, R)]
          : [() => k.matmulF16(out, f16, x, R, C, n, 0, R, scratch, shift), () => k.matmulF32(out, f32, x, R, C, n)],
      );
      const perWeight = (ms: number) => `${((ms * 1e6) / (R * C * n)).toFixed(3)}`;
      lines.push(`| ${what} | ${fmtMs(best[0])} (${perWeight(best[0])}) | ${fmtMs(best[1])} (${perWeight(best[1])}) | ×${(best[1] / best[0]).toFixed(2)} |`);
      console.error(lines[lines.length - 1]);
      heap.release(mark);
    }
  }
  sections.push(
    `### f16 weights against f32, one thread\n\nf16: matvecF16 (n = 1) or matmulF16 (n = 16) on binary16 weights; f32: matvecF32 or matmulF32 on the same values widened. ` +
      `In brackets: ns per multiply-add. "f16 vs f32" above 1 means f16 is faster.\n\n` +
      `| product | f16 | f32 | f16 vs f32 |\n| --- | --- | --- | --- |\n${lines.join('\n')}\n`,
  );
}

// --- kernels, one thread
interface Product {
  label: string;
  /** The matvec kernel on vector i (x [i, :] into out [i, :]). */
  matvec(i: number): void;
  /** The batched kernel on vectors 0..n-1. */
  matmul(n: number): void;
}
{
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(42);
  const lines: string[] = [];
  for (const [R, C] of [[2048, 2048], [4096, 4096]]) {
    const mark = heap.mark();
    const nMax = 64;
    const f32 = heap.place(rng.normals(R * C, 0.02));
    const x = heap.place(rng.normals(nMax * C));
    const out = heap.alloc(nMax * R * 4);
    const scratch = heap.alloc(k.matmulScratchBytes(C));
    const xi = (i: number) => x + i * C * 4;
    const oi = (i: number) => out + i * R * 4;
    const products: Product[] = ([4, 3] as const).map((bits) => {
      const rec = randomNuq(rng, 'w', R, C, { bits });
      const pl = heap.place(lutPlanes(rec.lut, bits)), pi = heap.place(rec.indices);
      const [matvec, matmul] = bits === 4 ? [k.matvecLut4, k.matmulLut4] : [k.matvecLut3, k.matmulLut3];
      return { label: `LUT ${bits}-bit`, matvec: (i) => matvec(oi(i), pl, pi, xi(i), C, 0, R), matmul: (n) => matmul(out, pl, pi, x, R, C, n, 0, R, scratch) };
    });
    const u = rtnQuantize('w', rng.normals(R * C, 0.02), R, C, { bits: 4, groupSize: 128 });
    const us = heap.place(u.scales), uz = heap.place(u.zeros), uv = heap.place(u.values);
    products.push({
      label: 'uniform 4-bit g128',
      matvec: (i) => k.matvecUniform(oi(i), us, uz, uv, xi(i), C, 128, 4, 0, R),
      matmul: (n) => k.matmulUniform(out, us, uz, uv, x, R, C, n, 128, 4, 0, R, scratch),
    });
    for (const p of products) {
      for (const n of [1, 4, 16, 64]) {
        const what = `${p.label} ${R}x${C}, n=${n}`;
        if (!wanted(what)) continue;
        const looped = () => {
          for (let i = 0; i < n; i++) p.matvec(i);
        };
        const dense = n === 1 ? () => k.matvecF32(out, f32, x, C, 0, R) : () => k.matmulF32(out, f32, x, R, C, n);
        const best = bestOf([looped, () => p.matmul(n), dense]);
        lines.push(`| ${what} | ${best.map(fmtMs).join(' | ')} | ×${(best[0] / best[1]).toFixed(2)} | ×${(best[2] / best[1]).toFixed(2)} |`);
        console.error(lines[lines.length - 1]);
      }
    }
    heap.release(mark);
  }
  sections.push(
    `### Kernels, one thread\n\nlooped: n calls of the matvec kernel (what a batch cost before the batched kernels); batched: matmulLut4 / matmulLut3 / matmulUniform; ` +
      `f32: matvecF32 (n = 1) or matmulF32 on a dense matrix of the same shape. "batched vs f32" above 1 means the quantized product is faster.\n\n` +
      `| product | looped matvecs | batched | f32 | batched vs looped | batched vs f32 |\n| --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}\n`,
  );
}

// --- end to end
{
  const shape = { seed: 7, dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, maxSeqLen: 256 };
  const m = syntheticModel(shape);
  const nuq = nuqModelRecords(m.records, 9, { sparse: 0.0045 });
  const kinds: [string, TensorRecord[], boolean][] = [
    ['f32', m.records, false],
    ['nuq', nuq, false],
    ['nuq fast', nuq, true],
    ['uniform', uniformModelRecords(m.records, { bits: 4, groupSize: 128 }), false],
    ['f16', m.records.map((r) => (r.kind === 'f32' ? denseRecord(r.name, r.shape, r.data, 'f16') : r)), false],
  ];
  const K = kinds.length;
  const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 31 + 3) % shape.vocabSize);
  const workloads: [string, (model: Model) => () => void][] = [
    ['prompt of 64 tokens', (model) => () => void model.forward(ids(64), 0)],
    ['1 token at position 64', (model) => {
      model.forward(ids(64), 0);
      return () => void model.forward([5], 64);
    }],
    ['perplexity window of 128 tokens', (model) => () => void model.perplexityOfIds(ids(129), { ctx: 128 })],
  ];
  const backends: WasmBackend[] = [];
  const models: Model[] = [];
  const columns: string[] = [];
  for (const threads of [1, 2]) {
    for (const [kind, records, fast] of kinds) {
      const b = await WasmBackend.create({ threads, fast });
      backends.push(b);
      models.push(await Model.fromRecords(m.config, m.tokenizer, records, b, { batch: 64 }));
      columns.push(`${kind}, ${threads} thread${threads > 1 ? 's' : ''}`);
    }
  }
  const lines: string[] = [];
  for (const [what, setup] of workloads) {
    if (!wanted(what)) continue;
    const best = bestOf(models.map(setup));
    // each kind against f32 on the same threads (nuq fast also against nuq), each 2-thread figure against its 1-thread one
    const cells = best.map((t, j) => {
      const notes = [];
      if (j % K !== 0) notes.push(`×${(best[j - (j % K)] / t).toFixed(2)} vs f32`);
      if (j % K === 2) notes.push(`×${(best[j - 1] / t).toFixed(2)} vs nuq`);
      if (j >= K) notes.push(`×${(best[j - K] / t).toFixed(2)} vs 1 thread`);
      return notes.length ? `${fmtMs(t)} (${notes.join(', ')})` : fmtMs(t);
    });
    lines.push(`| ${what} | ${cells.join(' | ')} |`);
    console.error(lines[lines.length - 1]);
  }
  for (const b of backends) await b.close();
  sections.push(
    `### End to end, stories15M-shaped synthetic model\n\nnuq: 3-bit attention, 4-bit MLP, 0.45% sparse; nuq fast: the same on the int8 fast path; uniform: RTN 4-bit, groups of 128; f32 embedding and head (32000x288) in these; f16: every matrix f16, the head too. Batch 64.\n\n` +
      `| | ${columns.join(' | ')} |\n| --- | ${columns.map(() => '---').join(' | ')} |\n${lines.join('\n')}\n`,
  );
}

const capacityAfter = await parallelCapacity();
const machine =
  `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; ` +
  `two busy threads ran ×${capacityBefore.toFixed(2)} (before) and ×${capacityAfter.toFixed(2)} (after) as fast as one ` +
  `(×2.00 = two free cores), load average ${loadavg()[0].toFixed(2)} at the end`;
const text =
  `Command: \`node --import tsx bench/kernels.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`\n\nMachine: ${machine}\n\n` +
  `Time per call: the best of interleaved rounds (every figure of a row alternates with the others, about 25 ms a round, each after one untimed warm-up call). Ratios are of these best times.\n\n` +
  `${sections.join('\n')}`;
const out = argv.out ?? join(root, 'bench', 'results', 'kernels.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(text);
