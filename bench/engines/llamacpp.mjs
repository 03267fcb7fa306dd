// One timed run of native llama.cpp through node-llama-cpp (bench/peers, `npm run peers:install`) in
// a fresh process: load (memory-mapped, llama.cpp's default), the same prompt token ids as the
// other engines evaluated without sampling, then `job.gen` greedy tokens (temperature 0) from the
// next position on. Prints load, prompt and generation times and the peak RSS as one JSON line.
import { pathToFileURL } from 'node:url';
import { promptTokens } from './_common.mjs';
import { job, report } from './_job.mjs';

const { getLlama, LlamaLogLevel } = await import(pathToFileURL(job.peer).href);
let t0 = performance.now();
const llama = await getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: job.file, gpuLayers: 0 });
const context = await model.createContext({ contextSize: job.ctx, threads: job.threads, batchSize: 512 });
const sequence = context.getSequence();
const loadMs = performance.now() - t0;
const prompt = promptTokens(job.prompt, job.vocab, job.round);
t0 = performance.now();
await sequence.evaluateWithoutGeneratingNewTokens(prompt);
const promptMs = performance.now() - t0;
t0 = performance.now();
let n = 0;
for await (const _ of sequence.evaluate([prompt[prompt.length - 1]], { temperature: 0 })) if (++n >= job.gen) break;
const genMs = performance.now() - t0;
await context.dispose();
await model.dispose();
await llama.dispose();
report({ loadMs, promptMs, genMs });
