// A serverless function around the single-file runtime (docs/SERVERLESS.md). Deploy this file,
// squeeze-edge.mjs (from build/) and a model .sqz side by side; nothing else is needed.
// The model is loaded once per instance, on the first request, and reused by later ones.
//
//   node handler.mjs model.sqz "Once upon a time"   # one request from the command line, timed
import { fileURLToPath } from 'node:url';
import { loadModel } from './squeeze-edge.mjs';

const MODEL = process.env.SQZ_MODEL ?? new URL('./model.sqz', import.meta.url).pathname;
let model; // a promise, so concurrent first requests share one load

/** AWS-Lambda-style handler: { prompt, maxTokens?, temperature? } -> { text }. */
export async function handler(event) {
  model ??= loadModel(MODEL);
  const m = await model;
  let text = '';
  for await (const piece of m.generate(event.prompt ?? '', { maxTokens: event.maxTokens ?? 64, temperature: event.temperature ?? 0 })) text += piece;
  return { text };
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
