// Stop sequences: against a brute-force cut (indexOf over the whole text), with the text split
// into pieces at random places, and in generation against the same prompt run without stops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { StopMatcher } from '../../src/generate/stop.ts';
import { Model } from '../../src/model/model.ts';
import { Rng } from '../../src/util/random.ts';
import { openModel } from '../../tools/convert.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { sharedFile } from '../helpers.ts';

test('the text let out is everything before the first stop string, however the pieces split it', () => {
  const rng = new Rng(3);
  const word = (n: number) => Array.from({ length: n }, () => 'ab c'[rng.int(4)]).join('');
  for (let trial = 0; trial < 2000; trial++) {
    const text = word(rng.int(30));
    const stops = Array.from({ length: 1 + rng.int(3) }, () => word(1 + rng.int(4)).replace(/^$/, 'a'));
    let first = -1;
    let which: string | undefined;
    for (const s of stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) [first, which] = [at, s];
    }
    const m = new StopMatcher(stops);
    let out = '';
    for (let i = 0; i < text.length; ) {
      const n = rng.int(5);
      out += m.push(text.slice(i, i + n));
      i += n;
    }
    out += m.flush();
    const label = JSON.stringify({ text, stops });
    assert.is(out, first < 0 ? text : text.slice(0, first), label);
    assert.is(m.matched, which, label);
  }
  assert.throws(() => new StopMatcher(['']), /non-empty/);
});

const GREEDY = { temperature: 0, maxTokens: 40 };

test('a stop sequence cuts the generation just before its first occurrence', async () => {
  const m = syntheticModel({ seed: 3, maxSeqLen: 64 });
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 8 });
  const full = await model.complete('the cat', GREEDY);
  assert.is(full.finishReason, 'length');
  assert.ok(full.text.length > 12, `need some text: ${JSON.stringify(full.text)}`);
  const stop = full.text.slice(6, 9);
  const cut = await model.complete('the cat', { ...GREEDY, stop: ['zzzz-never', stop] });
  assert.is(cut.text, full.text.slice(0, full.text.indexOf(stop)));
  assert.is(cut.finishReason, 'stop');
  assert.is(cut.stoppedAt, stop);
  let streamed = '';
  for await (const piece of model.generate('the cat', { ...GREEDY, stop: [stop] })) streamed += piece;
  assert.is(streamed, cut.text);
});

test("tinystories-656k: the spelled-out <|end_story|> and the EOS token never reach the text", async () => {
  const dir = sharedFile('models/tinystories-656k');
  if (!dir) return;
  const model = await openModel(dir, {});
  const texts = model.tokenizer.controls.map((c) => c.text);
  assert.ok(texts.includes('<|end_story|>'), JSON.stringify(texts));
  let ended = 0;
  for (const seed of [1, 2, 3, 4]) {
    const r = await model.complete('Once upon a time', { temperature: 1, topP: 0.9, seed, maxTokens: 400 });
    for (const t of texts) assert.not.ok(r.text.includes(t), `seed ${seed}: ${t} in the text`);
    assert.not.ok(/<\|/.test(r.text), `seed ${seed}: a piece of a control token at the end: ${JSON.stringify(r.text.slice(-40))}`);
    if (r.finishReason === 'stop') ended++;
  }
  assert.ok(ended > 0, 'no story ended within 400 tokens: the test saw no end marker');
  await model.close();
});

test.run();
