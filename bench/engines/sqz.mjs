// One timed run of squeeze-edge's single-file bundle (build/squeeze-edge.mjs, what `npm run build`
// ships) in a fresh process: load, then timeSqzModel (_common.mjs). Prints load, prompt and
// generation times and the peak RSS as one JSON line.
import { setFlagsFromString } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { timeSqzModel } from './_common.mjs';
import { job, report } from './_job.mjs';

// As `sqz run` does first thing (enableRelaxedSimd): Node 20 has relaxed SIMD behind a flag, and the
// bundle takes the relaxed-SIMD kernels only where the engine validates them. Without this the
// int8 products here would be the plain-SIMD fallback, not what the CLI runs.
setFlagsFromString('--experimental-wasm-relaxed-simd');
const { loadModel } = await import(pathToFileURL(job.bundle).href);
const t0 = performance.now();
const model = await loadModel(job.file, { threads: job.threads, fast: !!job.fast, backend: 'wasm', ctx: job.ctx });
const loadMs = performance.now() - t0;
const times = timeSqzModel(model, job.prompt, job.gen, job.round);
await model.close();
report({ loadMs, ...times });
