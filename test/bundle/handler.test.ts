// examples/serverless/handler.mjs beside the bundle, as deployed: bad events get a 400 with an
// error (nothing thrown), concurrent invocations sharing one model each get the answer of the
// request alone, and a failed model load is retried by the next invocation, not kept.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../../src/index.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot } from '../helpers.ts';

const fn = mkdtempSync(join(tmpdir(), 'sqz-handler-'));
const modelFile = join(fn, 'model.sqz');
copyFileSync(join(repoRoot, 'build', 'squeeze-edge.mjs'), join(fn, 'squeeze-edge.mjs'));
copyFileSync(join(repoRoot, 'examples', 'serverless', 'handler.mjs'), join(fn, 'handler.mjs'));
process.env.SQZ_MODEL = modelFile; // absent until the retry test writes it
process.env.SQZ_MAX_TOKENS = '100';
type Reply = { statusCode: number; body: { text?: string; error?: string; finishReason?: string; usage?: { promptTokens: number; completionTokens: number } } };
const { handler } = (await import(pathToFileURL(join(fn, 'handler.mjs')).href)) as { handler: (event: unknown, context?: unknown) => Promise<Reply> };

test('a failed first load answers 500 and is retried once the model is there', async () => {
  const first = await Promise.all([handler({ prompt: 'the cat' }), handler({ prompt: 'the dog' })]);
  for (const r of first) {
    assert.is(r.statusCode, 500);
    assert.match(r.body.error!, /could not be loaded: .*model\.sqz/);
  }
  await writeSyntheticModel(modelFile, { seed: 7, maxSeqLen: 64 });
  const r = await handler({ prompt: 'the cat', maxTokens: 5 });
  assert.is(r.statusCode, 200, JSON.stringify(r.body));
  assert.is(r.body.usage!.completionTokens, 5);
});

test('bad events get a 400 naming the problem', async () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /event must be an object/],
    [null, /event must be an object/],
    ['the cat', /event must be an object/],
    [{}, /prompt must be a string, got none/],
    [{ prompt: 42 }, /prompt must be a string, got number/],
    [{ prompt: ['a'] }, /prompt must be a string/],
    [{ prompt: 'x', temperature: 'hot' }, /temperature must be a number >= 0/],
    [{ prompt: 'x', temperature: -1 }, /temperature/],
    [{ prompt: 'x', temperature: Infinity }, /temperature/],
    [{ prompt: 'x', maxTokens: 1e9 }, /maxTokens must be an integer from 1 to 100/],
    [{ prompt: 'x', maxTokens: 2.5 }, /maxTokens/],
    [{ prompt: 'x', maxTokens: '10' }, /maxTokens/],
    [{ prompt: 'x', seed: 'abc' }, /seed must be an integer/],
    [{ body: '{oops' }, /not JSON/],
    [{ prompt: 'the cat '.repeat(100) }, /context holds 64/],
  ];
  for (const [event, re] of cases) {
    const r = await handler(event);
    assert.is(r.statusCode, 400, JSON.stringify(event)?.slice(0, 60));
    assert.match(r.body.error!, re);
  }
  // an HTTP front door's JSON body is read like the event itself
  const viaBody = await handler({ body: JSON.stringify({ prompt: 'the cat', maxTokens: 4 }) });
  assert.is(viaBody.statusCode, 200);
});

test('concurrent invocations share one model and each get the answer of the request alone', async () => {
  const prompts = ['the cat sat on', 'a dog ran to', 'see it on the mat', 'the cat', 'it ran', 'on a mat the dog', 'to see', 'sat'];
  const m = await loadModel(modelFile);
  const alone = [];
  // seeded sampling: a random model's greedy text soon falls into the same loop whatever the prompt
  const opts = (i: number) => ({ temperature: 1.5, seed: 100 + i, maxTokens: 20 });
  for (const [i, p] of prompts.entries()) alone.push((await m.complete(p, opts(i))).text);
  await m.close();
  assert.ok(new Set(alone).size > prompts.length / 2, 'the prompts must give different answers for the test to mean anything');
  for (let round = 0; round < 3; round++) {
    const got = await Promise.all(prompts.map((prompt, i) => handler({ prompt, ...opts(i) })));
    assert.equal(got.map((r) => r.body.text), alone, `round ${round}`);
  }
});

test('an invocation out of time answers 504 and frees the model', async () => {
  const r = await handler({ prompt: 'the cat', maxTokens: 100 }, { getRemainingTimeInMillis: () => 501 });
  assert.is(r.statusCode, 504);
  assert.is((await handler({ prompt: 'the cat', maxTokens: 3 })).statusCode, 200);
});

test.after(() => rmSync(fn, { recursive: true, force: true }));

test.run();
