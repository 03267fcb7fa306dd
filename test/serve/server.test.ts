// sqz serve's server on 127.0.0.1 (port 0): concurrent streaming clients each get what the same
// request gets alone (temperature 0, and seeded sampling), usage counts and finish reasons match
// the API, a client that hangs up frees the model, and bad requests get a 400 with an error body.
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { Model } from '../../src/model/model.ts';
import { plainChat } from '../../tools/serve/chat.ts';
import { createModelServer } from '../../tools/serve/server.ts';
import { syntheticModel } from '../../tools/synthetic.ts';

const m = syntheticModel({ seed: 5, maxSeqLen: 96 });
const model = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 16 });
const server = createModelServer(model, { modelId: 'tiny' });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const LIMIT = () => AbortSignal.timeout(30000); // bounded: a hung server fails the test, not the run

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: LIMIT() });
}

/** The data: events of a server-sent-event stream, parsed ([DONE] as the string). */
async function events(res: Response): Promise<unknown[]> {
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : JSON.parse(e.slice(6))));
}

type Chunk = { object: string; choices: { text?: string; delta?: { content?: string; role?: string }; finish_reason: string | null }[]; usage?: Record<string, number> };

function streamedText(evs: unknown[]): { text: string; finish: string | null; usage?: Record<string, number> } {
  assert.is(evs.at(-1), '[DONE]');
  const chunks = evs.slice(0, -1) as Chunk[];
  let text = '';
  let finish: string | null = null;
  let usage;
  for (const c of chunks) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.text ?? ch.delta?.content ?? '';
      finish = ch.finish_reason ?? finish;
    }
  }
  return { text, finish, usage };
}

const REQUESTS = [
  { path: '/v1/completions', body: { prompt: 'the cat sat on', max_tokens: 20, temperature: 0 } },
  { path: '/v1/completions', body: { prompt: 'a dog ran to see it', max_tokens: 24, temperature: 0 } },
  { path: '/v1/completions', body: { prompt: 'the mat', max_tokens: 20, temperature: 0.9, seed: 3, top_p: 0.9 } },
  { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hello there' }], max_tokens: 16, temperature: 0 } },
];

test('GET /v1/models lists the model', async () => {
  const r = await fetch(base + '/v1/models', { signal: LIMIT() });
  assert.is(r.status, 200);
  const body = await r.json();
  assert.equal(body.data.map((d: { id: string }) => d.id), ['tiny']);
});

test('concurrent streaming clients each get the answer of the same request run alone, and the API\'s text', async () => {
  // alone: one after another, not streamed
  const alone: { text: string; finish: string; usage: Record<string, number> }[] = [];
  for (const r of REQUESTS) {
    const res = await post(r.path, r.body);
    assert.is(res.status, 200);
    const body = await res.json();
    const c = body.choices[0];
    alone.push({ text: c.text ?? c.message.content, finish: c.finish_reason, usage: body.usage });
  }
  // the API's own answer (an independent path: no HTTP, no chat rendering through the server)
  const api = await model.complete('the cat sat on', { temperature: 0, maxTokens: 20 });
  assert.is(alone[0].text, api.text);
  assert.equal(alone[0].usage, { prompt_tokens: api.promptTokens, completion_tokens: api.generatedTokens, total_tokens: api.promptTokens + api.generatedTokens });
  const chatApi = await model.complete(plainChat.render([{ role: 'user', content: 'hello there' }]).prompt, { temperature: 0, maxTokens: 16, stop: ['\nUser:'] });
  assert.is(alone[3].text, chatApi.text);
  assert.ok(new Set(alone.map((a) => a.text)).size >= 3, 'the requests must differ for the test to mean anything');

  // together: all streamed at once, twice over
  const together = await Promise.all([...REQUESTS, ...REQUESTS].map(async (r) => streamedText(await events(await post(r.path, { ...r.body, stream: true, stream_options: { include_usage: true } })))));
  together.forEach((t, i) => {
    const a = alone[i % REQUESTS.length];
    assert.is(t.text, a.text, `request ${i % REQUESTS.length}`);
    assert.is(t.finish, a.finish);
    assert.equal(t.usage, a.usage);
  });
  assert.is(model.queue.busy, false);
});

test('finish_reason is length at max_tokens and stop at a stop sequence; chat streams the role first', async () => {
  const full = await (await post('/v1/completions', { prompt: 'the cat', max_tokens: 30, temperature: 0 })).json();
  assert.is(full.choices[0].finish_reason, 'length');
  assert.is(full.usage.completion_tokens, 30);
  const text: string = full.choices[0].text;
  const stop = text.slice(4, 7);
  const cut = await (await post('/v1/completions', { prompt: 'the cat', max_tokens: 30, temperature: 0, stop })).json();
  assert.is(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.is(cut.choices[0].finish_reason, 'stop');
  const evs = (await events(await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, stream: true }))) as Chunk[];
  assert.equal(evs[0].choices[0].delta, { role: 'assistant', content: '' });
  assert.is(evs[0].object, 'chat.completion.chunk');
});

test('a client that hangs up mid-stream frees the model for the next request', async () => {
  const ac = new AbortController();
  const res = await fetch(base + '/v1/completions', { method: 'POST', body: JSON.stringify({ prompt: 'the cat', max_tokens: 90, temperature: 0, stream: true }), signal: ac.signal });
  const reader = res.body!.getReader();
  await reader.read(); // the stream has started: the generation holds the model
  ac.abort();
  const next = await (await post('/v1/completions', { prompt: 'a dog', max_tokens: 5, temperature: 0 })).json();
  assert.is(next.usage.completion_tokens, 5);
});

test('bad requests get a 400 (404, 405, 413) with an OpenAI-style error body, and nothing runs', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['/v1/completions', '{not json', 400, /not JSON/],
    ['/v1/completions', [1, 2], 400, /JSON object/],
    ['/v1/completions', {}, 400, /prompt must be a string/],
    ['/v1/completions', { prompt: 42 }, 400, /prompt must be a string/],
    ['/v1/completions', { prompt: 'x', top_p: 0 }, 400, /top_p must be in \(0, 1\]/],
    ['/v1/completions', { prompt: 'x', temperature: -1 }, 400, /temperature/],
    ['/v1/completions', { prompt: 'x', temperature: 'hot' }, 400, /temperature/],
    ['/v1/completions', { prompt: 'x', max_tokens: 1e9 }, 400, /max_tokens must be an integer from 0 to the context length 96/],
    ['/v1/completions', { prompt: 'x', max_tokens: -1 }, 400, /max_tokens/],
    ['/v1/completions', { prompt: 'x', n: 2 }, 400, /n must be 1/],
    ['/v1/completions', { prompt: 'x', stop: [''] }, 400, /stop/],
    ['/v1/completions', { prompt: 'x', stream: 'yes' }, 400, /stream must be true or false/],
    ['/v1/completions', { prompt: 'x '.repeat(200) }, 400, /context holds 96/],
    ['/v1/chat/completions', { messages: [] }, 400, /messages must be a non-empty list/],
    ['/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] }, 400, /role/],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 7 }] }, 400, /content/],
    ['/v1/nothing', {}, 404, /no route/],
    ['/v1/completions', 'x'.repeat(2 ** 20 + 10), 413, /over/],
  ];
  for (const [path, body, status, re] of cases) {
    const r = await post(path, body);
    const label = `${path} ${JSON.stringify(body).slice(0, 60)}`;
    assert.is(r.status, status, label);
    const e = await r.json();
    assert.is(typeof e.error.message, 'string', label);
    assert.match(e.error.message, re, label);
    assert.is(typeof e.error.type, 'string');
  }
  const get = await fetch(base + '/v1/completions', { signal: LIMIT() });
  assert.is(get.status, 405);
  assert.is(model.queue.busy, false);
});

test.after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test.run();
