import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { nllOf, windows } from '../../src/generate/perplexity.ts';
import { Model } from '../../src/model/model.ts';
import { syntheticModel } from '../../tools/synthetic.ts';

test('windows score every token after BOS exactly once', () => {
  for (const [n, ctx, stride] of [[2, 4, 2], [10, 4, 2], [11, 4, 3], [100, 16, 5], [7, 8, 3], [33, 8, 1], [9, 2, 1]]) {
    const seen = new Array(n).fill(0);
    for (const w of windows(n, ctx, stride)) {
      assert.ok(w.end - w.start <= ctx && w.from > w.start && w.from < w.end, JSON.stringify(w));
      for (let t = w.from; t < w.end; t++) seen[t]++;
    }
    assert.equal(seen, [0, ...new Array(n - 1).fill(1)], `n=${n} ctx=${ctx} stride=${stride}`);
  }
  assert.throws(() => windows(10, 4, 4), /less than ctx/);
  assert.throws(() => windows(10, 4, 0), /at least 1/);
});

test('nllOf is -log softmax', () => {
  const l = new Float32Array([1, 2, 3]);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  assert.ok(Math.abs(nllOf(l, 2) - -Math.log(Math.exp(3) / z)) < 1e-12);
});

test('perplexity equals a brute-force count: each target scored alone with its window context', async () => {
  const m = syntheticModel({ seed: 4, maxSeqLen: 32 });
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 8 });
  const text = 'the cat sat on the mat, and the dog ate the hat. tea at three.';
  const ctx = 12, stride = 5;
  const r = await model.perplexity(text, { ctx, stride });
  const ids = model.tokenizer.encode(text);
  // brute force: token t (t >= 1) is predicted from the window that scores it, one token at a time
  let nll = 0, count = 0;
  for (const w of windows(ids.length, ctx, stride)) {
    for (let t = w.from; t < w.end; t++) {
      let logits: Float32Array = new Float32Array(0);
      for (let p = w.start; p < t; p++) logits = model.forward([ids[p]], p - w.start);
      nll += nllOf(logits, ids[t]);
      count++;
    }
  }
  assert.is(r.tokens, ids.length - 1);
  assert.is(count, ids.length - 1);
  assert.ok(Math.abs(r.nll - nll / count) < 1e-5, `${r.nll} vs ${nll / count}`);
});

test.run();
