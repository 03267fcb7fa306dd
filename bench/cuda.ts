// npm run bench:cuda: the CUDA backend's speed on a GPU, in one run (docs/CUDA.md; the figures go in
// docs/PERFORMANCE.md with the device's name).
//   1. matvec: LUT 4-bit and 3-bit (f16 tables, cuda/lut_matvec.cu) against the dense f16 matvec
//      (cuda/dense_matvec.cu) at 4096x4096, 4096x11008 and 11008x4096 (rows x cols = out x in).
//      Device time per product from replays of a CUDA graph that runs it over enough copies of the
//      weights that L2 cannot hold them (each product then reads its weights from DRAM, as in
//      decoding); GB/s of weight bytes (indices + tables, or halves) and that as a share of the
//      bandwidth bound the device reports (memory clock x bus width, x2 for double data rate).
//   2. decode: tokens/s of whole decode steps (logits back to the host each step, greedy) for the
//      134M synthetic model (sqz synth's defaults) and a 1.1B one (TinyLlama's shape), linear layers
//      random nuq at 4 and 3 bits (f16 tables, 0.45% sparse part) and, for the ratio, f16; and the
//      tokens/s of a 64-token prompt run as one batch.
// Ends with issue 14's targets, met or missed: LUT 4-bit >= 3x the f16 matvec at 4096x11008, and
// >= 60% of the bandwidth bound. Exit 1 with one line when no GPU can run.
//   node --import tsx bench/cuda.ts [--quick] [--json FILE]
//   --quick      fewer replays and decode steps, no 1.1B model
//   --json FILE  also write the figures as JSON
import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { CudaAddon, CudaDevice } from '../src/backend/cuda/addon.ts';
import { CudaBackend } from '../src/backend/cuda/index.ts';
import { payloadBytes, type TensorRecord } from '../src/format/kinds.ts';
import { rowBytes } from '../src/format/packing.ts';
import { halfToFloat } from '../src/kernels/reference.ts';
import { type ModelConfig, tensorShapes } from '../src/model/config.ts';
import { Model } from '../src/model/model.ts';
import { Rng } from '../src/util/random.ts';
import { syntheticConfig, syntheticTokenizer } from '../tools/synthetic.ts';
import { DeviceBuffers, openDevice } from '../test/cuda/device.ts';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log('usage: node --import tsx bench/cuda.ts [--quick] [--json FILE]   (npm run bench:cuda; docs/CUDA.md)');
  process.exit(0);
}
const jsonAt = args.indexOf('--json');
const jsonPath = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const bad = args.find((a, i) => a !== '--quick' && a !== '--json' && !(jsonAt >= 0 && i === jsonAt + 1));
if (bad || (jsonAt >= 0 && !jsonPath)) {
  console.error(`bench:cuda: ${bad ? `unknown option ${bad}` : '--json needs a FILE'} (see --help)`);
  process.exit(1);
}
const quick = args.includes('--quick');

const { addon, device } = openDevice('bench:cuda');
console.log(
  `bench:cuda on ${device.name} (compute capability ${device.computeCapability}, ${device.multiprocessors} SMs, ` +
    `${(device.memoryBytes / 2 ** 30).toFixed(0)} GiB, L2 ${(device.l2Bytes / 2 ** 20).toFixed(0)} MiB, bandwidth bound ${device.bandwidthGBs.toFixed(0)} GB/s)`,
);

/** n random binary16 bit patterns of magnitude about `scale` (random sign and mantissa, one exponent). */
function randomHalves(n: number, scale: number): Uint16Array {
  const h = new Uint16Array(n);
  randomFillSync(h);
  const exp = Math.max(1, Math.min(30, Math.round(Math.log2(scale)) + 15)) << 10;
  for (let i = 0; i < n; i++) h[i] = (h[i] & 0x83ff) | exp;
  return h;
}

/** n random bytes: random packed indices (every byte pattern is a valid group when cols is a multiple of 32). */
function randomBytes(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n));
}

// ---- 1. matvec ---------------------------------------------------------------------------------

type MatKind = 'f16' | 'lut4' | 'lut3';
interface MatvecFigure {
  rows: number;
  cols: number;
  kind: MatKind;
  weightBytes: number;
  us: number;
  gbs: number;
  ofBound: number;
  vsF16: number;
}

/** Device microseconds per product of a kind at rows x cols, over copies of the weights that overflow L2. */
function timeMatvec(addon: CudaAddon, device: CudaDevice, rows: number, cols: number, kind: MatKind): { us: number; weightBytes: number } {
  const mem = new DeviceBuffers(addon);
  try {
    const bits = kind === 'lut4' ? 4 : 3;
    const host = kind === 'f16' ? [randomHalves(rows * cols, 1 / Math.sqrt(cols))] : [randomHalves(rows << bits, 1 / Math.sqrt(cols)), randomBytes(rows * rowBytes(bits, cols))];
    const weightBytes = host.reduce((s, a) => s + a.byteLength, 0);
    const copies = Math.max(2, Math.min(64, Math.ceil((4 * device.l2Bytes) / weightBytes)));
    const weights = Array.from({ length: copies }, () => host.map((a) => mem.put(a)));
    const x = mem.put(new Rng(1).normals(cols));
    const out = mem.floats(rows);
    addon.captureBegin();
    for (const [a, b] of weights) {
      if (kind === 'f16') addon.matmulDense(out, a, 1, x, rows, cols, 1);
      else addon.matmulLut(out, a, 1, b, x, rows, cols, 1, bits);
    }
    const graph = addon.captureEnd();
    const reps = quick ? 5 : 20;
    const ms = addon.timeGraph(graph, reps);
    return { us: (ms * 1000) / copies, weightBytes };
  } finally {
    mem.release();
  }
}

const SHAPES: [number, number][] = [
  [4096, 4096],
  [4096, 11008],
  [11008, 4096],
];
const matvec: MatvecFigure[] = [];
console.log('\n# matvec, one token (device time per product, weights read from DRAM)');
console.log('shape (rows x cols)   kind          us   GB/s of weights   of bound   vs f16');
for (const [rows, cols] of SHAPES) {
  let f16us = 0;
  for (const kind of ['f16', 'lut4', 'lut3'] as MatKind[]) {
    const { us, weightBytes } = timeMatvec(addon, device, rows, cols, kind);
    if (kind === 'f16') f16us = us;
    const gbs = weightBytes / (us * 1e3);
    const fig = { rows, cols, kind, weightBytes, us, gbs, ofBound: gbs / device.bandwidthGBs, vsF16: f16us / us };
    matvec.push(fig);
    const name = { f16: 'f16 dense', lut4: 'LUT 4-bit', lut3: 'LUT 3-bit' }[kind];
    console.log(
      `${`${rows} x ${cols}`.padEnd(20)}  ${name.padEnd(10)}  ${us.toFixed(1).padStart(7)}   ${gbs.toFixed(0).padStart(15)}   ${(100 * fig.ofBound).toFixed(0).padStart(7)}%   ${fig.vsF16.toFixed(2).padStart(5)}x`,
    );
  }
}

// ---- 2. decode ---------------------------------------------------------------------------------

type ModelKind = 'nuq4' | 'nuq3' | 'f16';
const SPARSE_SHARE = 0.0045;

/** The records of a random model of `config`: linear layers of `kind`, embedding and head f16, norms f32. */
function* randomRecords(config: ModelConfig, kind: ModelKind): Generator<TensorRecord> {
  const rng = new Rng(7);
  for (const [name, shape] of tensorShapes(config)) {
    if (shape.length === 1) {
      yield { name, kind: 'f32', shape, data: new Float32Array(shape[0]).map(() => 1 + 0.1 * rng.normal()) };
      continue;
    }
    const [rows, cols] = shape;
    if (kind === 'f16' || name === 'embed' || name === 'head') {
      yield { name, kind: 'f16', shape, data: randomHalves(rows * cols, name === 'embed' || name === 'head' ? 0.5 : 1 / Math.sqrt(cols)) };
      continue;
    }
    const bits = kind === 'nuq4' ? 4 : 3;
    const lut = Float32Array.from(randomHalves(rows << bits, 1 / Math.sqrt(cols)), halfToFloat);
    const perRow = Math.round(SPARSE_SHARE * cols);
    const rowPtr = new Int32Array(rows + 1);
    const colIdx = new Int32Array(rows * perRow);
    for (let r = 0; r < rows; r++) {
      const picked = [...new Set(Array.from({ length: perRow }, () => rng.int(cols)))].sort((a, b) => a - b);
      colIdx.set(picked, rowPtr[r]);
      rowPtr[r + 1] = rowPtr[r] + picked.length;
    }
    const nnz = rowPtr[rows];
    yield {
      name,
      kind: 'nuq',
      shape,
      bits,
      lut,
      lutType: 'f16',
      indices: randomBytes(rows * rowBytes(bits, cols)),
      sparse: { rowPtr, colIdx: colIdx.slice(0, nnz), values: rng.normals(nnz, 0.05) },
    };
  }
}

interface DecodeFigure {
  model: string;
  params: number;
  kind: ModelKind;
  tokPerS: number;
  msPerToken: number;
  /** Tokens/s of a 64-token prompt run as one batch (the batched kernels). */
  prefillTokPerS: number;
  /** Weight bytes one decode step reads (everything but the embedding), per second. */
  gbs: number;
}

const argmax = (v: Float32Array): number => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

async function timeDecode(label: string, config: ModelConfig, kind: ModelKind): Promise<DecodeFigure> {
  let stepBytes = 0;
  const counted = function* () {
    for (const r of randomRecords(config, kind)) {
      if (r.name !== 'embed') stepBytes += payloadBytes(r);
      yield r;
    }
  };
  const backend = CudaBackend.fromAddon(addon, device);
  const model = await Model.fromRecords(config, syntheticTokenizer(config.vocabSize), counted(), backend, { ctx: 256, batch: 64 });
  try {
    const long = Array.from({ length: 64 }, (_, i) => 300 + i);
    model.forward(long, 0); // warm-up
    const p0 = performance.now();
    model.forward(long, 0);
    const prefillMs = performance.now() - p0;
    const prompt = [1, 300, 301, 302, 303, 304, 305, 306];
    let logits = model.forward(prompt, 0);
    let pos = prompt.length;
    const step = () => (logits = model.forward([argmax(logits)], pos++));
    for (let i = 0; i < 4; i++) step(); // warm-up
    const steps = quick ? 16 : 64;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    const ms = (performance.now() - t0) / steps;
    const params = [...tensorShapes(config).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    return { model: label, params, kind, tokPerS: 1000 / ms, msPerToken: ms, prefillTokPerS: (1000 * long.length) / prefillMs, gbs: stepBytes / (ms * 1e6) };
  } finally {
    await model.close();
  }
}

const MODELS: [string, ModelConfig][] = [
  ['synthetic 134M', syntheticConfig({ dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, hiddenDim: 2048, vocabSize: 32000, maxSeqLen: 2048, tiedEmbeddings: false })],
  ['synthetic 1.1B', syntheticConfig({ dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, hiddenDim: 5632, vocabSize: 32000, maxSeqLen: 2048, tiedEmbeddings: false })],
];
const decode: DecodeFigure[] = [];
console.log('\n# decode, whole steps with the logits back on the host (random weights, 8-token prompt)');
console.log('model            linear layers       tok/s   ms/token   GB/s of weights   of bound   vs f16   prefill tok/s (64 at once)');
for (const [label, config] of quick ? MODELS.slice(0, 1) : MODELS) {
  let f16 = 0;
  for (const kind of ['f16', 'nuq4', 'nuq3'] as ModelKind[]) {
    const fig = await timeDecode(label, config, kind);
    if (kind === 'f16') f16 = fig.tokPerS;
    decode.push(fig);
    const name = { f16: 'f16', nuq4: 'nuq 4-bit + 0.45%', nuq3: 'nuq 3-bit + 0.45%' }[kind];
    console.log(
      `${label.padEnd(15)}  ${name.padEnd(17)}  ${fig.tokPerS.toFixed(0).padStart(6)}   ${fig.msPerToken.toFixed(2).padStart(8)}   ${fig.gbs.toFixed(0).padStart(15)}   ${((100 * fig.gbs) / device.bandwidthGBs).toFixed(0).padStart(7)}%   ${(fig.tokPerS / f16).toFixed(2).padStart(5)}x   ${fig.prefillTokPerS.toFixed(0).padStart(13)}`,
    );
  }
}

// ---- targets -----------------------------------------------------------------------------------

const at = (kind: MatKind) => matvec.find((f) => f.rows === 4096 && f.cols === 11008 && f.kind === kind)!;
const targets = [
  { target: 'LUT 4-bit matvec >= 3x the f16 matvec at 4096x11008', value: `${at('lut4').vsF16.toFixed(2)}x`, met: at('lut4').vsF16 >= 3 },
  { target: 'LUT 4-bit matvec >= 60% of the bandwidth bound at 4096x11008', value: `${(100 * at('lut4').ofBound).toFixed(0)}%`, met: at('lut4').ofBound >= 0.6 },
];
console.log('\n# issue 14 targets');
for (const t of targets) console.log(`${t.met ? 'met   ' : 'missed'}  ${t.target}: ${t.value}`);
if (jsonPath) {
  writeFileSync(jsonPath, JSON.stringify({ device, quick, matvec, decode, targets }, null, 2) + '\n');
  console.log(`bench:cuda: figures written to ${jsonPath}`);
}
