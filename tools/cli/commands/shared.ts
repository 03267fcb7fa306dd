// Options several commands share, parsed one way.
import type { BackendName, Model } from '../../../src/index.ts';
import { openModel } from '../../convert.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { KV_KINDS, type KvKind } from '../../../src/kernels/attention.ts';
import type { LutType } from '../../squeezellm/nuq.ts';
import type { OnProgress } from '../../squeezellm/steps.ts';
import { num, type Options, type Parsed, str } from '../command.ts';
import { watchPeakMemory } from '../memory.ts';
import { progressBar } from '../progress.ts';

export const modelOptions: Options = {
  ctx: { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  kv: { type: 'string' },
  'kv-window': { type: 'string' },
};

const BACKENDS: readonly BackendName[] = ['auto', 'wasm', 'js', 'cuda'];

/** --backend NAME (default auto: cuda when built and a GPU answers, else wasm). */
export function backendOption(p: Parsed): BackendName {
  const b = str(p, 'backend') ?? 'auto';
  if (!BACKENDS.includes(b as BackendName)) throw new UsageError(`--backend must be ${BACKENDS.join(', ')}, got '${b}'`);
  return b as BackendName;
}

/** --threads N (default 1): threads for the wasm backend's matrix products. */
export function threadsOption(p: Parsed): number {
  return num(p, 'threads', { int: true, min: 1, max: 64 }) ?? 1;
}

/** --kv KIND (default f16 where the backend has it): how the KV cache holds keys and values (docs/KVCACHE.md). */
export function kvOption(p: Parsed): KvKind | undefined {
  const k = str(p, 'kv');
  if (k !== undefined && !KV_KINDS.includes(k as KvKind)) throw new UsageError(`--kv must be ${KV_KINDS.join(', ')}, got '${k}'`);
  return k as KvKind | undefined;
}

/** --fast (run, ppl): the wasm backend's int8 fast path for every LUT product, batches included (not exact; docs/KERNELS.md). */
export const fastOptions: Options = { fast: { type: 'boolean' } };

export function fastOption(p: Parsed): boolean {
  return p.values.fast === true;
}

/** The model a run-time command names, opened with its --tokenizer/--backend/--threads/--fast/--kv/--kv-window and the context (default --ctx). */
export function openModelOption(p: Parsed, source: string, ctx = num(p, 'ctx', { int: true, min: 2 })): Promise<Model> {
  return openModel(source, { tokenizer: str(p, 'tokenizer'), backend: backendOption(p), threads: threadsOption(p), fast: fastOption(p), kv: kvOption(p), kvWindow: num(p, 'kv-window', { int: true, min: 32 }), ctx });
}

/** Options every toolchain step takes. */
export const stepOptions: Options = {
  threads: { type: 'string' },
  seed: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
};

export const stepOptionsHelp = `      --threads N        worker threads (default 1)
      --seed S           seed for every random choice (default 0)
  -v, --verbose          print time and peak memory`;

/** Runs a step with a progress bar (ETA) and, with --verbose, its time and peak memory on stderr. */
export async function runStep<T>(p: Parsed, label: string, fn: (onProgress: OnProgress) => Promise<T>): Promise<T> {
  const bar = progressBar(label);
  const peak = watchPeakMemory();
  const t0 = performance.now();
  try {
    return await fn((done, total) => bar.update(done, total));
  } finally {
    bar.stop();
    const m = peak();
    if (p.values.verbose) {
      process.stderr.write(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s, peak memory ${m.rssMiB.toFixed(0)} MiB resident (${m.heapMiB.toFixed(0)} MiB JS heap + buffers)\n`);
    }
  }
}

/** --lut-type f16|f32: how SqueezeLLM's lookup tables are stored (default f16). */
export function lutTypeOption(p: Parsed): LutType {
  const t = str(p, 'lut-type') ?? 'f16';
  if (t !== 'f16' && t !== 'f32') throw new UsageError(`--lut-type must be f16 or f32, got '${t}'`);
  return t;
}

export function seedOption(p: Parsed): number {
  return num(p, 'seed', { int: true }) ?? 0;
}
