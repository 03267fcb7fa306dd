// A serverless function around the single-file runtime (docs/SERVERLESS.md). Deploy this file,
// squeeze-edge.mjs (from build/) and a model .sqz side by side; nothing else is needed.
// The model is loaded once per instance, on the first request, and shared by later ones: the
// model queues overlapping calls, so concurrent invocations each get the answer they would get
// alone. A load that fails is not kept: the next request tries again.
//
//   node handler.mjs model.sqz "Once upon a time"   # one request from the command line, timed
import { fileURLToPath } from 'node:url';
import { loadModel, SqzError } from './squeeze-edge.mjs';

const MODEL = process.env.SQZ_MODEL ?? fileURLToPath(new URL('./model.sqz', import.meta.url));
/** The most tokens one request may ask for (SQZ_MAX_TOKENS, default 512). */
const MAX_TOKENS = Number(process.env.SQZ_MAX_TOKENS ?? 512);
/** Time kept back from the platform's deadline to answer with an error instead of being killed. */
const DEADLINE_MARGIN_MS = 500;

let loading; // the load in flight or done, shared by concurrent first requests; cleared on failure

function model() {
  loading ??= loadModel(MODEL).catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

const reply = (statusCode, body) => ({ statusCode, body });

/** The request in the event ({ prompt, maxTokens?, temperature?, seed? }, or that as JSON in event.body), or what is wrong with it. */
function parseEvent(event) {
  const shape = 'the event must be an object { prompt, maxTokens?, temperature?, seed? }';
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return { error: shape };
  if (typeof event.body === 'string') {
    // HTTP front doors (API gateways, function URLs) pass the request as a JSON string
    try {
      event = JSON.parse(event.body);
    } catch {
      return { error: 'the request body is not JSON' };
    }
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return { error: shape };
  }
  const { prompt, maxTokens = 64, temperature = 0, seed } = event;
  if (typeof prompt !== 'string') return { error: `prompt must be a string, got ${prompt === undefined ? 'none' : typeof prompt}` };
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_TOKENS) return { error: `maxTokens must be an integer from 1 to ${MAX_TOKENS}, got ${JSON.stringify(maxTokens)}` };
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) return { error: `temperature must be a number >= 0, got ${JSON.stringify(temperature)}` };
  if (seed !== undefined && !Number.isSafeInteger(seed)) return { error: `seed must be an integer, got ${JSON.stringify(seed)}` };
  return { prompt, maxTokens, temperature, seed };
}

/**
 * AWS-Lambda-style handler: { prompt, maxTokens?, temperature?, seed? } -> { statusCode: 200, body: { text,
 * finishReason, usage } }; a bad event -> { statusCode: 400, body: { error } }; a model that cannot
 * be loaded -> 500 (retried on the next request); out of time (context.getRemainingTimeInMillis) -> 504.
 */
export async function handler(event, context) {
  const req = parseEvent(event);
  if (req.error) return reply(400, { error: req.error });
  let m;
  try {
    m = await model();
  } catch (e) {
    return reply(500, { error: `the model could not be loaded: ${e.message}` });
  }
  const remaining = context?.getRemainingTimeInMillis?.();
  const signal = remaining === undefined ? undefined : AbortSignal.timeout(Math.max(remaining - DEADLINE_MARGIN_MS, 1));
  try {
    const r = await m.complete(req.prompt, { maxTokens: req.maxTokens, temperature: req.temperature, seed: req.seed, signal });
    return reply(200, { text: r.text, finishReason: r.finishReason, usage: { promptTokens: r.promptTokens, completionTokens: r.generatedTokens } });
  } catch (e) {
    if (signal?.aborted) return reply(504, { error: 'out of time before the answer was complete' });
    if (e instanceof SqzError) return reply(400, { error: e.message }); // e.g. a prompt longer than the context
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file = MODEL, prompt = 'Once upon a time'] = process.argv.slice(2);
  const t0 = performance.now();
  const m = await loadModel(file);
  const t1 = performance.now();
  let text = '';
  let first = 0;
  for await (const piece of m.generate(prompt, { maxTokens: 64, temperature: 0 })) {
    first ||= performance.now();
    text += piece;
  }
  const t2 = performance.now();
  console.log(text);
  console.error(`load ${(t1 - t0).toFixed(0)} ms, first piece ${(first - t1).toFixed(1)} ms, 64 tokens ${(t2 - t1).toFixed(0)} ms`);
  await m.close();
}
