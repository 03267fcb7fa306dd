// Fisher information = sum over calibration sequences of the squared gradient; calibration chunks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SqzError, UsageError } from '../../src/util/errors.ts';
import { LlamaGrad, linearNames, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { calibrationSequences, computeFisher } from '../../tools/fisher/fisher.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { rowSeed } from '../../tools/kmeans/index.ts';
import { Rng } from '../../src/util/random.ts';
import { refLogits, refLoss, toF64 } from './_ref.ts';

test('fisher is grad1^2 + grad2^2 of two sequences, for every linear weight', async () => {
  const m = syntheticModel({ seed: 5, dim: 32, hiddenDim: 72, nHeads: 4, nKvHeads: 2, rope: 'half', tiedEmbeddings: false, maxSeqLen: 32 });
  const weights = weightsFromRecords(m.records);
  const seqs = [
    Array.from({ length: 24 }, (_, i) => (i * 37 + 1) % m.config.vocabSize),
    Array.from({ length: 17 }, (_, i) => (i * 101 + 7) % m.config.vocabSize),
  ];
  const progress: [number, number][] = [];
  const fisher = await computeFisher({ config: m.config, weights }, seqs, { onProgress: (d, t) => progress.push([d, t]) });
  assert.equal(progress, [
    [1, 2],
    [2, 2],
  ]);
  assert.equal([...fisher.keys()], linearNames(m.config));
  // independently: two separate instances, fresh gradients, the sum in f64
  const g1 = new LlamaGrad(m.config, weights).lossAndGrad(seqs[0]).grads;
  const g2 = new LlamaGrad(m.config, weights).lossAndGrad(seqs[1]).grads;
  for (const [name, f] of fisher) {
    const a = g1.get(name)!;
    const b = g2.get(name)!;
    assert.is(f.length, a.length, name);
    let nonzero = 0;
    for (let i = 0; i < f.length; i++) {
      const want = a[i] * a[i] + b[i] * b[i];
      if (!(Math.abs(f[i] - want) <= 1e-6 * want + 1e-30)) assert.unreachable(`${name}[${i}]: fisher ${f[i]} vs ${want}`);
      if (f[i] > 0) nonzero++;
    }
    assert.ok(nonzero > f.length / 2, `${name}: only ${nonzero} of ${f.length} entries are non-zero`);
  }
});

test("labels drawn from the model: the Fisher is the squared gradient of the cross-entropy at the drawn token", async () => {
  // one predicted position: the draw is where the reference softmax's cumulative sum passes the
  // sequence's first uniform number (Rng(rowSeed(seed, index))), and the gradient is checked by
  // central differences of the reference cross-entropy against that token
  const m = syntheticModel({ seed: 9, dim: 16, hiddenDim: 40, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 8 });
  const c = m.config;
  const weights = weightsFromRecords(m.records);
  const ids = [1, 77];
  // the sequence as the second of a run (firstIndex 1): its draws depend on its place, not on the chunk
  const fisher = await computeFisher({ config: c, weights }, [ids], { labels: 'model', seed: 4, firstIndex: 1 });
  const w64 = toF64(weights);
  const logits = refLogits(c, w64, ids)[0];
  const mx = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - mx));
  const z = e.reduce((a, b) => a + b, 0);
  const u = new Rng(rowSeed(4, 1)).next();
  let y = 0;
  for (let acc = e[0]; acc <= u * z && y < c.vocabSize - 1; acc += e[++y]);
  for (const name of ['layers.0.attn.v', 'layers.0.mlp.up']) {
    const f = fisher.get(name)!;
    const w = w64.get(name)!;
    for (const i of [3, 50, 101]) {
      const w0 = w[i];
      const h = 1e-4;
      w[i] = w0 + h;
      const lp = refLoss(c, w64, [ids[0], y]);
      w[i] = w0 - h;
      const lm = refLoss(c, w64, [ids[0], y]);
      w[i] = w0;
      const g = (lp - lm) / (2 * h);
      const got = f[i];
      assert.ok(Math.abs(got - g * g) <= 1e-3 * Math.max(g * g, 1e-10), `${name}[${i}]: ${got} vs ${g * g}`);
    }
  }
});

test('computeFisher: no sequences is an error', async () => {
  const m = syntheticModel({ seed: 6 });
  try {
    await computeFisher({ config: m.config, weights: weightsFromRecords(m.records) }, []);
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, UsageError);
  }
});

const text = Array.from({ length: 20 }, (_, i) => 100 + i);

test('calibrationSequences: BOS then seqLen-1 consecutive text tokens per chunk', () => {
  assert.equal(calibrationSequences(text, 3, 5, 1), [
    [1, 100, 101, 102, 103],
    [1, 104, 105, 106, 107],
    [1, 108, 109, 110, 111],
  ]);
});

test('calibrationSequences: as many as the text holds, tail unused; exact fit', () => {
  const all = calibrationSequences(text, 100, 7, 1); // 20 tokens / 6 per chunk = 3 chunks, 2 left
  assert.is(all.length, 3);
  assert.equal(all[2], [1, 112, 113, 114, 115, 116, 117]);
  const exact = calibrationSequences(text, 5, 21, 1);
  assert.equal(exact, [[1, ...text]]);
  assert.equal(calibrationSequences(text, 2, 2, 1), [
    [1, 100],
    [1, 101],
  ]);
});

test('calibrationSequences: a leading BOS from the encoder is not doubled', () => {
  assert.equal(calibrationSequences([1, ...text], 1, 4, 1), [[1, 100, 101, 102]]);
  // only a leading one: BOS inside the text is text
  assert.equal(calibrationSequences([5, 1, 6, 7], 1, 5, 1), [[1, 5, 1, 6, 7]]);
});

test('calibrationSequences: a text shorter than one sequence names both counts', () => {
  assert.throws(
    () => calibrationSequences(text, 1, 22, 1),
    (e: Error) => e instanceof SqzError && /has 20 tokens/.test(e.message) && /needs 21/.test(e.message),
  );
  assert.throws(
    () => calibrationSequences([1, 2, 3], 1, 4, 1),
    (e: Error) => e instanceof SqzError && /has 2 tokens/.test(e.message) && /needs 3/.test(e.message),
  );
  assert.throws(() => calibrationSequences([], 1, 2, 1), (e: Error) => e instanceof SqzError && /has 0 tokens/.test(e.message));
});

test('calibrationSequences: bad counts and lengths are usage errors', () => {
  assert.throws(() => calibrationSequences(text, 0, 4, 1), (e: Error) => e instanceof UsageError && /positive integer, got 0/.test(e.message));
  assert.throws(() => calibrationSequences(text, 1.5, 4, 1), (e: Error) => e instanceof UsageError);
  assert.throws(() => calibrationSequences(text, 1, 1, 1), (e: Error) => e instanceof UsageError && /at least 2 tokens/.test(e.message));
});

test.run();
