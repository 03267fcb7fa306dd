// The toolchain's backward pass: analytic gradients of every linear layer kind in every block
// against central finite differences of an independent f64 forward (test/fisher/_ref.ts), on tiny
// synthetic models of both RoPE styles, tied and untied heads, three GQA groupings, q/k/v/o biases,
// a norm offset with an embedding scale; and its
// forward loss against the runtime's own forward pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { type ModelConfig, LINEAR_LAYERS, tensorShapes } from '../../src/model/config.ts';
import { assembleWeights, forward, RunState } from '../../src/model/forward.ts';
import { UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { LlamaGrad, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { syntheticModel, type SyntheticOptions } from '../../tools/synthetic.ts';
import { refKl, refLogits, refLoss, toF64 } from './_ref.ts';
import { skip } from '../helpers.ts';

const tiny: SyntheticOptions = { dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 16 };
const variants: SyntheticOptions[] = [
  { ...tiny, seed: 11, rope: 'interleaved', tiedEmbeddings: true },
  { ...tiny, seed: 12, rope: 'half', tiedEmbeddings: false, maxSeqLen: 13 },
  // sizes that are not multiples of the kernels' four-row sweeps (T 15, kv dim 6, hidden 42)
  { ...tiny, seed: 13, rope: 'interleaved', tiedEmbeddings: false, dim: 24, hiddenDim: 42, nKvHeads: 1, maxSeqLen: 15 },
  { ...tiny, seed: 14, rope: 'half', tiedEmbeddings: true, nKvHeads: 4 },
  // Qwen2's q/k/v biases and an output bias
  { ...tiny, seed: 15, rope: 'half', tiedEmbeddings: true, qkvBias: true, oBias: true },
  // Gemma's norm offset and embedding scale
  { ...tiny, seed: 16, rope: 'half', tiedEmbeddings: true, normOffset: 1, embedScale: 4 },
];

function randomIds(c: ModelConfig, T: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: T }, () => rng.int(c.vocabSize));
}

const label = (o: SyntheticOptions) => {
  const c = syntheticModel({ ...o, nLayers: 1 }).config;
  return `dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nHeads}/${c.nKvHeads} heads, rope ${c.rope}, ${c.tiedEmbeddings ? 'tied' : 'untied'}${c.qkvBias ? ', q/k/v/o biases' : ''}${c.normOffset ? `, norm offset ${c.normOffset}, embedding scale ${c.embedScale}` : ''}`;
};

for (const opts of variants) {
  test(`forward loss equals the independent f64 reference (${label(opts)})`, () => {
    const m = syntheticModel(opts);
    const weights = weightsFromRecords(m.records);
    const ids = randomIds(m.config, 12, opts.seed!);
    const a = new LlamaGrad(m.config, weights).loss(ids);
    const b = refLoss(m.config, toF64(weights), ids);
    assert.ok(Math.abs(a - b) / b < 1e-5, `loss ${a} vs reference ${b}`);
  });

  test(`gradients of all seven kinds in every layer match central differences (${label(opts)})`, () => {
    const m = syntheticModel(opts);
    const c = m.config;
    const weights = weightsFromRecords(m.records);
    // the full context in one, so the causal mask and every RoPE position are exercised
    const ids = randomIds(c, c.maxSeqLen, opts.seed! + 100);
    const { loss, grads } = new LlamaGrad(c, weights).lossAndGrad(ids);
    const w64 = toF64(weights);
    assert.ok(Math.abs(loss - refLoss(c, w64, ids)) / loss < 1e-5);
    const rng = new Rng(opts.seed! + 200);
    let worst = 0;
    let checked = 0;
    for (let l = 0; l < c.nLayers; l++) {
      for (const kind of LINEAR_LAYERS) {
        const name = `layers.${l}.${kind}`;
        const g = grads.get(name)!;
        const w = w64.get(name)!;
        assert.is(g.length, w.length, `${name} gradient length`);
        let gmax = 0;
        let imax = 0;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > gmax) [gmax, imax] = [Math.abs(g[i]), i];
        assert.ok(gmax > 0, `${name}: gradient is all zero`);
        // the largest entry (always significant), one in the last row (the kernels' remainder
        // rows) and a few random ones
        const cols = tensorShapes(c).get(name)![1];
        const picks = [imax, g.length - 1 - rng.int(cols), ...Array.from({ length: 4 }, () => rng.int(g.length))];
        for (const i of picks) {
          const w0 = w[i];
          const h = 1e-3 * Math.max(1, Math.abs(w0));
          w[i] = w0 + h;
          const lp = refLoss(c, w64, ids);
          w[i] = w0 - h;
          const lm = refLoss(c, w64, ids);
          w[i] = w0;
          const fd = (lp - lm) / (2 * h);
          // floor: entries far below the tensor's largest gradient are compared on that scale
          const err = Math.abs(g[i] - fd) / Math.max(Math.abs(g[i]), Math.abs(fd), 1e-2 * gmax, 1e-8);
          worst = Math.max(worst, err);
          checked++;
          assert.ok(err <= 1e-3, `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd} (relative error ${err.toExponential(2)})`);
        }
      }
    }
    assert.is(checked, c.nLayers * 7 * 6);
    if (process.env.FISHER_VERBOSE) console.log(`  ${label(opts)}: ${checked} weights, worst relative error ${worst.toExponential(2)}`);
  });
}

/** Mean next-token cross-entropy from [T, vocab] logits. */
function meanCe(logits: Float32Array, ids: number[], V: number): number {
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    total += Math.log(z) + max - row[ids[t + 1]];
  }
  return total / (ids.length - 1);
}

test('KL to a teacher: loss and gradients match the f64 reference and its central differences', () => {
  const opts = variants[2];
  const m = syntheticModel(opts);
  const c = m.config;
  const weights = weightsFromRecords(m.records);
  const ids = randomIds(c, c.maxSeqLen, 7);
  // the teacher: another model of the same shape, its logits from the f64 reference
  const teacherRows = refLogits(c, toF64(weightsFromRecords(syntheticModel({ ...opts, seed: 99 }).records)), ids);
  const V = c.vocabSize;
  const teacher = (t0: number, rows: number, out: Float32Array) => {
    for (let r = 0; r < rows; r++) out.set(teacherRows[t0 + r], r * V);
  };
  const lg = new LlamaGrad(c, weights);
  const w64 = toF64(weights);
  const ref = refKl(c, w64, ids, teacherRows);
  assert.ok(ref > 0.01, `the two models differ (KL ${ref})`);
  assert.ok(Math.abs(lg.loss(ids, { teacher }) - ref) / ref < 1e-5, 'forward KL');
  const { loss, grads } = lg.lossAndGrad(ids, undefined, { teacher });
  assert.ok(Math.abs(loss - ref) / ref < 1e-5, `KL ${loss} vs reference ${ref}`);
  const rng = new Rng(5);
  for (const name of ['layers.0.attn.q', 'layers.1.mlp.down', 'layers.0.mlp.gate']) {
    const g = grads.get(name)!;
    const w = w64.get(name)!;
    let gmax = 0;
    for (const v of g) gmax = Math.max(gmax, Math.abs(v));
    for (let n = 0; n < 4; n++) {
      const i = rng.int(g.length);
      const w0 = w[i];
      const h = 1e-3 * Math.max(1, Math.abs(w0));
      w[i] = w0 + h;
      const lp = refKl(c, w64, ids, teacherRows);
      w[i] = w0 - h;
      const lm = refKl(c, w64, ids, teacherRows);
      w[i] = w0;
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(g[i] - fd) / Math.max(Math.abs(g[i]), Math.abs(fd), 1e-2 * gmax, 1e-8);
      assert.ok(err <= 1e-3, `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
    }
  }
});

test('sampled labels: a uniform draw of u picks the token where the cumulative softmax passes u', () => {
  const m = syntheticModel({ ...tiny, seed: 3 });
  const c = m.config;
  const ids = randomIds(c, 6, 3);
  const weights = weightsFromRecords(m.records);
  const rows = refLogits(c, toF64(weights), ids);
  // u = 0 draws the first token with non-zero probability (token 0), u just below 1 the last
  const ce = (label: (t: number) => number) => rows.reduce((a, l, t) => {
    const mx = Math.max(...l);
    const lz = Math.log(l.reduce((z, v) => z + Math.exp(v - mx), 0)) + mx;
    return a + lz - l[label(t)];
  }, 0) / rows.length;
  const lg = new LlamaGrad(c, weights);
  assert.ok(Math.abs(lg.loss(ids, { sampled: () => 0 }) - ce(() => 0)) < 1e-5);
  assert.ok(Math.abs(lg.loss(ids, { sampled: () => 1 - 1e-12 }) - ce(() => c.vocabSize - 1)) < 1e-5);
});

const runtimeCases: SyntheticOptions[] = [
  { seed: 21, rope: 'interleaved', tiedEmbeddings: true, maxSeqLen: 40 },
  { seed: 22, rope: 'half', tiedEmbeddings: false, nHeads: 4, nKvHeads: 1, dim: 48, hiddenDim: 100, nLayers: 3, maxSeqLen: 40 },
];

for (const opts of runtimeCases) {
  test(`loss equals mean cross-entropy of the runtime forward (src/model/forward.ts, js backend; ${label(opts)})`, () => {
    const m = syntheticModel(opts);
    const c = m.config;
    const ids = randomIds(c, 37, opts.seed!);
    const b = new JsBackend();
    const up = new Map(m.records.map((r) => [r.name, b.upload(r)]));
    const get = (n: string) => up.get(n)!;
    const w = assembleWeights(c, get);
    const logits = forward(b, c, w, new RunState(b, c, ids.length, ids.length, 'f32'), ids, 0, 0);
    const runtime = meanCe(logits, ids, c.vocabSize);
    const ours = new LlamaGrad(c, weightsFromRecords(m.records)).loss(ids);
    assert.ok(Math.abs(ours - runtime) / runtime < 1e-5, `loss ${ours} vs runtime ${runtime}`);
  });
}

test('loss equals mean cross-entropy of Model.forward (Model.fromRecords on the js backend)', async () => {
  let Model: typeof import('../../src/model/model.ts').Model;
  try {
    ({ Model } = await import('../../src/model/model.ts'));
  } catch (e) {
    return skip(`src/model/model.ts does not load yet: ${(e as Error).message.split('\n')[0]}`);
  }
  const m = syntheticModel({ seed: 31, rope: 'half', maxSeqLen: 64 });
  const ids = randomIds(m.config, 50, 31);
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 16, kv: 'f32' });
  const runtime = meanCe(model.forward(ids, 0, 0), ids, m.config.vocabSize);
  const ours = new LlamaGrad(m.config, weightsFromRecords(m.records)).loss(ids);
  assert.ok(Math.abs(ours - runtime) / runtime < 1e-5, `loss ${ours} vs runtime ${runtime}`);
});

test('lossAndGrad: same loss as loss(), reuses given buffers, shorter sequences after longer ones', () => {
  const m = syntheticModel({ ...tiny, seed: 41, maxSeqLen: 16 });
  const lg = new LlamaGrad(m.config, weightsFromRecords(m.records));
  const long = randomIds(m.config, 16, 1);
  const short = randomIds(m.config, 5, 2);
  const first = lg.lossAndGrad(short);
  lg.lossAndGrad(long); // grows the buffers
  const into = lg.newGrads();
  const again = lg.lossAndGrad(short, into);
  assert.is(again.grads, into);
  assert.is(again.loss, first.loss);
  assert.is(lg.loss(short), first.loss);
  for (const [name, g] of first.grads) assert.equal(into.get(name), g, name);
  assert.equal([...into.keys()], Array.from({ length: 2 }, (_, l) => LINEAR_LAYERS.map((k) => `layers.${l}.${k}`)).flat());
});

test('lossAndGrad: bad sequences and weights are errors that say what is wrong', () => {
  const m = syntheticModel({ ...tiny, seed: 42 });
  const weights = weightsFromRecords(m.records);
  const lg = new LlamaGrad(m.config, weights);
  assert.throws(() => lg.loss([1]), (e: Error) => e instanceof UsageError && /at least 2 tokens/.test(e.message));
  assert.throws(() => lg.loss(new Array(17).fill(1)), (e: Error) => e instanceof UsageError && /17 tokens.*16/.test(e.message));
  assert.throws(() => lg.loss([1, 300]), (e: Error) => e instanceof UsageError && /token 300 at position 1/.test(e.message));
  const missing = new Map(weights);
  missing.delete('layers.1.mlp.up');
  assert.throws(() => new LlamaGrad(m.config, missing), /layers\.1\.mlp\.up is missing/);
  const short = new Map(weights);
  short.set('layers.0.attn.k', new Float32Array(5));
  assert.throws(() => new LlamaGrad(m.config, short), /layers\.0\.attn\.k has 5 values/);
});

test.run();
