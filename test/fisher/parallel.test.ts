// Fisher over worker threads gives the same bits as on one thread, and equals the plain sum of
// per-sequence grad^2 up to float rounding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LlamaGrad, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { computeFisherParallel } from '../../tools/fisher/parallel.ts';
import { closePools } from '../../tools/parallel/pool.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';

test('threads 1, 2 and 3 give identical Fisher; it matches the sum of squared gradients', async () => {
  const m = syntheticModel({ dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 16, seed: 2 });
  const model = { config: m.config, weights: weightsFromRecords(m.records) };
  const rng = new Rng(4);
  const seqs = Array.from({ length: 9 }, () => [1, ...Array.from({ length: 11 }, () => 3 + rng.int(290))]);
  const one = await computeFisherParallel(model, seqs, { threads: 1 });
  for (const threads of [2, 3]) {
    const many = await computeFisherParallel(model, seqs, { threads });
    for (const [name, f] of one.fisher) assert.equal(Array.from(many.fisher.get(name)!), Array.from(f), `${name}, ${threads} threads`);
    assert.is(many.meanLoss, one.meanLoss);
  }
  const lg = new LlamaGrad(m.config, model.weights);
  for (const [name, f] of one.fisher) {
    const want = new Float64Array(f.length);
    for (const s of seqs) {
      const g = lg.lossAndGrad(s).grads.get(name)!;
      for (let i = 0; i < g.length; i++) want[i] += g[i] * g[i];
    }
    assertClose(f, want, 1e-5, name);
  }
});

test("labels drawn from the model: the same bits on 1 and 2 threads, and not the text's Fisher", async () => {
  const m = syntheticModel({ dim: 16, hiddenDim: 40, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 16, seed: 6 });
  const model = { config: m.config, weights: weightsFromRecords(m.records) };
  const rng = new Rng(8);
  const seqs = Array.from({ length: 9 }, () => [1, ...Array.from({ length: 11 }, () => 3 + rng.int(290))]);
  const one = await computeFisherParallel(model, seqs, { threads: 1, labels: 'model', seed: 3 });
  const two = await computeFisherParallel(model, seqs, { threads: 2, labels: 'model', seed: 3 });
  const text = await computeFisherParallel(model, seqs, { threads: 1 });
  for (const [name, f] of one.fisher) {
    assert.equal(Array.from(two.fisher.get(name)!), Array.from(f), name);
    assert.not.equal(Array.from(text.fisher.get(name)!), Array.from(f), name);
  }
  await closePools();
});

test.run();
