// AWQ (tools/baselines/awq.ts): the scale formula, the search's error against a direct computation,
// AWQ below RTN on layers with a few large-activation channels, and folding that keeps the float
// model's function (logits of the runtime's forward pass to 1e-5), with and without GQA.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { Model } from '../../src/model/model.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';
import { awqBlock, awqScales, awqSearchX, type BlockInputStats, type BlockWeights, foldAwqScales } from '../../tools/baselines/awq.ts';
import { InputStats } from '../../tools/baselines/gptq.ts';
import { rtnMatrix } from '../../tools/baselines/rtn.ts';
import { LlamaGrad, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { syntheticModel } from '../../tools/synthetic.ts';

test('scales: mean|x|^alpha, at least 1e-4, normalised so that max * min = 1; alpha 0 is all ones', () => {
  const s = awqScales([4, 1, 0.25, 0], 0.5);
  // 2, 1, 0.5, max(0, 1e-4) = 1e-4 -> divided by sqrt(2 * 1e-4)
  const k = Math.sqrt(2e-4);
  assert.equal(Array.from(s), [2 / k, 1 / k, 0.5 / k, 1e-4 / k].map(Math.fround));
  assert.equal(Array.from(awqScales([4, 1, 3], 0)), [1, 1, 1]);
});

/** x [n, cols] normal with a few channels scaled by 25. */
function spikyInputs(rng: Rng, n: number, cols: number, big: number[]): Float32Array {
  const x = rng.normals(n * cols);
  for (let t = 0; t < n; t++) for (const c of big) x[t * cols + c] *= 25;
  return x;
}

/** ||X W^T - X W_eff^T||^2 with W_eff = Q(W diag s) diag(1/s). */
function directError(x: Float32Array, n: number, w: Float32Array, rows: number, cols: number, s: Float32Array, opts: { bits: 3 | 4; groupSize: number }): number {
  const ws = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) ws[r * cols + c] = w[r * cols + c] * s[c];
  const q = rtnMatrix(ws, rows, cols, opts).dequantized();
  let e = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let c = 0; c < cols; c++) d += x[t * cols + c] * (w[r * cols + c] - q[r * cols + c] / s[c]);
      e += d * d;
    }
  }
  return e;
}

test('AWQ output error is below RTN with a few large-activation channels; the search error is the direct one', () => {
  const [rows, cols, n] = [48, 128, 256];
  const lines: string[] = [];
  for (const seed of [1, 2, 3]) {
    const rng = new Rng(seed);
    const x = spikyInputs(rng, n, cols, [5, 40, 77, 100]);
    const w = rng.normals(rows * cols, 0.05);
    const w2 = rng.normals(rows * cols, 0.05);
    for (const bits of [3, 4] as const) {
      for (const groupSize of [32, 128, 0]) {
        const opts = { bits, groupSize };
        const res = awqSearchX(x, n, cols, [{ w, rows }, { w: w2, rows }], opts);
        const ones = new Float32Array(cols).fill(1);
        const rtn = directError(x, n, w, rows, cols, ones, opts) + directError(x, n, w2, rows, cols, ones, opts);
        const awq = directError(x, n, w, rows, cols, res.scales, opts) + directError(x, n, w2, rows, cols, res.scales, opts);
        assert.ok(Math.abs(res.rtnError - rtn) <= 1e-6 * rtn, `rtn error ${res.rtnError} vs direct ${rtn}`);
        assert.ok(Math.abs(res.error - awq) <= 1e-6 * awq, `awq error ${res.error} vs direct ${awq}`);
        assert.ok(res.alpha > 0 && awq < rtn, `seed ${seed} ${bits}-bit g${groupSize}: alpha ${res.alpha}, AWQ ${awq} vs RTN ${rtn}`);
        assert.is(res.errors.length, 21);
        if (seed === 1) lines.push(`${bits}-bit g${groupSize || 'row'}: alpha ${res.alpha.toFixed(2)}, AWQ/RTN error ${(awq / rtn).toFixed(3)}`);
      }
    }
  }
  console.log(`  ${lines.join('\n  ')}`);
});

function blockOf(weights: Map<string, Float32Array>, l: number): BlockWeights {
  const g = (n: string) => weights.get(`layers.${l}.${n}`)!;
  return { attnNorm: g('attn_norm'), q: g('attn.q'), k: g('attn.k'), v: g('attn.v'), o: g('attn.o'), mlpNorm: g('mlp_norm'), gate: g('mlp.gate'), up: g('mlp.up'), down: g('mlp.down') };
}

const SHORT: Record<string, keyof BlockWeights> = {
  attn_norm: 'attnNorm',
  'attn.q': 'q',
  'attn.k': 'k',
  'attn.v': 'v',
  'attn.o': 'o',
  mlp_norm: 'mlpNorm',
  'mlp.gate': 'gate',
  'mlp.up': 'up',
  'mlp.down': 'down',
};

/** The records with block tensors replaced by `blocks[l]`'s. */
function withBlocks(records: TensorRecord[], blocks: BlockWeights[]): TensorRecord[] {
  return records.map((r) => {
    const m = /^layers\.(\d+)\.(.+)$/.exec(r.name);
    if (!m) return r;
    return { name: r.name, kind: 'f32', shape: r.shape, data: blocks[Number(m[1])][SHORT[m[2]]] };
  });
}

async function logits(sm: ReturnType<typeof syntheticModel>, records: TensorRecord[], tokens: number[]): Promise<Float32Array> {
  const m = await Model.fromRecords(sm.config, sm.tokenizer, records, new JsBackend(), { kv: 'f32' });
  return m.forward(tokens, 0, 0);
}

for (const nKvHeads of [4, 2]) {
  test(`folding keeps the float function: logits equal to 1e-5 (nHeads 4, nKvHeads ${nKvHeads})`, async () => {
    const sm = syntheticModel({ dim: 32, hiddenDim: 72, nLayers: 2, nHeads: 4, nKvHeads, vocabSize: 280, maxSeqLen: 32, seed: 5 });
    const c = sm.config;
    const weights = weightsFromRecords(sm.records);
    const rng = new Rng(9);
    const tokens = Array.from({ length: 12 }, () => rng.int(c.vocabSize));
    const want = await logits(sm, sm.records, tokens);

    // arbitrary scales in [0.2, 5]
    const rand = (n: number) => Float32Array.from({ length: n }, () => Math.exp((rng.next() * 2 - 1) * Math.log(5)));
    const randomBlocks = [0, 1].map((l) =>
      foldAwqScales(c, blockOf(weights, l), { qkv: rand(c.dim), o: nKvHeads === c.nHeads ? rand(c.dim) : null, gateUp: rand(c.dim), down: rand(c.hiddenDim) }),
    );
    assertClose(await logits(sm, withBlocks(sm.records, randomBlocks), tokens), want, 1e-5, 'random scales folded');

    // the searched scales, from calibration inputs of the float model
    const lg = new LlamaGrad(c, weights);
    const seqs = [0, 1, 2].map(() => Array.from({ length: 24 }, () => rng.int(c.vocabSize)));
    const searched: BlockWeights[] = [];
    for (let l = 0; l < c.nLayers; l++) {
      const X: BlockInputStats = { attn: new InputStats(c.dim), attnOut: new InputStats(c.dim), mlp: new InputStats(c.dim), mlpHidden: new InputStats(c.hiddenDim) };
      for (const s of seqs) {
        const x = lg.linearInputs(s, l);
        X.attn.add(x.attn, x.T);
        X.attnOut.add(x.attnOut, x.T);
        X.mlp.add(x.mlp, x.T);
        X.mlpHidden.add(x.mlpHidden, x.T);
      }
      const r = awqBlock(c, l, blockOf(weights, l), X, { bits: 3, groupSize: 32 });
      assert.is(r.records.length, 7);
      assert.is(r.scales.o === null, nKvHeads !== c.nHeads);
      assert.is(r.scales.notes.length, nKvHeads !== c.nHeads ? 1 : 0);
      searched.push(r.folded);
    }
    assertClose(await logits(sm, withBlocks(sm.records, searched), tokens), want, 1e-5, 'searched scales folded');
  });
}

test('linearInputs: the inputs a full forward computes, stopping after the block', () => {
  const sm = syntheticModel({ dim: 32, hiddenDim: 72, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 280, maxSeqLen: 32, seed: 6 });
  const lg = new LlamaGrad(sm.config, weightsFromRecords(sm.records));
  const ids = [1, 50, 60, 70, 80, 90];
  const before = lg.loss(ids);
  const a = lg.linearInputs(ids, 1);
  assert.is(a.T, 6);
  assert.is(a.mlpHidden.length, 6 * 72);
  const copy = [a.attn, a.attnOut, a.mlp, a.mlpHidden].map((v) => v.slice());
  lg.loss(ids); // a full forward refills the buffers a's views look at
  assert.equal([a.attn, a.attnOut, a.mlp, a.mlpHidden], copy);
  assert.is(lg.loss(ids), before);
  // block by block from the residual stream gives the same inputs as a forward from the embedding
  const r0 = lg.linearInputs(ids, 0).residualOut.slice();
  const r1 = lg.linearInputs(ids, 1, r0).residualOut.slice();
  const b = lg.linearInputs(ids, 2, r1);
  const bc = [b.attn, b.attnOut, b.mlp, b.mlpHidden].map((v) => v.slice());
  const full = lg.linearInputs(ids, 2);
  assert.equal([full.attn, full.attnOut, full.mlp, full.mlpHidden], bc);
  assert.throws(() => lg.linearInputs(ids, 1, new Float32Array(5)), (e: unknown) => e instanceof Error && /residualIn/.test(e.message));
});

test.run();
