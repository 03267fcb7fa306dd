// Overlapping calls on one model (one KV cache) must each get what they would get alone: the
// model's queue serializes them, an abort or a break frees the model, and the synchronous layer
// refuses to run under a queued call instead of corrupting it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { type GenerateOptions, Model } from '../../src/model/model.ts';
import { UsageError } from '../../src/util/errors.ts';
import { syntheticModel } from '../../tools/synthetic.ts';

const load = () => {
  const m = syntheticModel({ seed: 7, maxSeqLen: 64 });
  return Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 8 });
};

async function collect(it: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const piece of it) text += piece;
  return text;
}

const PROMPTS = ['the cat sat on', 'a dog ran to see it'];
const GREEDY: GenerateOptions = { temperature: 0, maxTokens: 24 };

test('overlapping generations with different prompts each equal the prompt run alone', async () => {
  const model = await load();
  const alone = [await collect(model.generate(PROMPTS[0], GREEDY)), await collect(model.generate(PROMPTS[1], GREEDY))];
  assert.is.not(alone[0], alone[1], 'the two prompts must give different text for the test to mean anything');
  const sampled = { temperature: 1, topP: 0.95, seed: 11, maxTokens: 24 };
  const aloneSampled = await collect(model.generate(PROMPTS[1], sampled));
  // the consumers interleave piece by piece; without the queue they share one cache
  const together = await Promise.all([collect(model.generate(PROMPTS[0], GREEDY)), collect(model.generate(PROMPTS[1], GREEDY)), collect(model.generate(PROMPTS[1], sampled))]);
  assert.equal(together, [...alone, aloneSampled]);
});

test('overlapping perplexity and generation each equal the call alone', async () => {
  const model = await load();
  const text = 'the cat sat on the mat and the dog ran to see it.';
  const pplAlone = await model.perplexity(text, { ctx: 16, stride: 8 });
  const genAlone = await collect(model.generate(PROMPTS[0], GREEDY));
  const it = model.generate(PROMPTS[0], GREEDY);
  let gen = (await it.next()).value as string; // the generation holds the model now
  const ppl = model.perplexity(text, { ctx: 16, stride: 8 }); // queued behind it
  for await (const piece of it) gen += piece;
  assert.is(gen, genAlone);
  assert.equal(await ppl, pplAlone);
  // and the other way round: a generation queued behind a perplexity
  const [p2, g2] = await Promise.all([model.perplexity(text, { ctx: 16, stride: 8 }), collect(model.generate(PROMPTS[0], GREEDY))]);
  assert.equal([p2, g2], [pplAlone, genAlone]);
});

test('an abort frees the model at once, even while its iterator sits unread', async () => {
  const model = await load();
  const alone = await collect(model.generate(PROMPTS[1], GREEDY));
  const ac = new AbortController();
  const parked = model.generate(PROMPTS[0], { ...GREEDY, signal: ac.signal });
  await parked.next(); // holds the model, then is never read again...
  const waiting = collect(model.generate(PROMPTS[1], GREEDY));
  ac.abort(); // ...until the abort lets the waiting call run
  assert.is(await waiting, alone);
  await parked.next().then(
    () => assert.unreachable('an aborted generation must not go on'),
    (e: unknown) => assert.is((e as Error).name, 'AbortError'),
  );
  // a signal aborted before the turn comes takes the call out of the line
  const ac2 = new AbortController();
  const first = model.generate(PROMPTS[0], GREEDY);
  await first.next();
  const queued = collect(model.generate(PROMPTS[1], { ...GREEDY, signal: ac2.signal }));
  ac2.abort();
  await queued.then(() => assert.unreachable(), (e: unknown) => assert.is((e as Error).name, 'AbortError'));
  assert.is(model.queue.waiters, 0);
  await first.return(undefined as never);
  assert.is(model.queue.busy, false);
});

test('breaking out of the loop frees the model; the synchronous layer refuses while it is held', async () => {
  const model = await load();
  for await (const _ of model.generate(PROMPTS[0], GREEDY)) break;
  assert.is(model.queue.busy, false);
  const it = model.generate(PROMPTS[0], GREEDY);
  await it.next();
  assert.throws(() => model.forward([1, 2], 0), (e: unknown) => e instanceof UsageError && /busy/.test((e as Error).message));
  assert.throws(() => model.perplexityOfIds([1, 2, 3]), /busy/);
  await it.return(undefined as never);
  assert.ok(model.forward([1, 2], 0).length > 0);
});

test('options are checked when generate() is called, before any turn is taken', async () => {
  const model = await load();
  for (const bad of [{ topP: 0 }, { maxTokens: -1 }, { maxTokens: 1.5 }, { temperature: -1 }, { stop: [''] }, { minP: 1 }, { repetitionPenalty: 0 }] as GenerateOptions[]) {
    assert.throws(() => model.generate('the cat', bad), (e: unknown) => e instanceof UsageError, JSON.stringify(bad));
  }
  assert.throws(() => model.generate(42 as unknown as string), /prompt must be a string/);
  assert.is(model.queue.busy, false);
});

test.run();
