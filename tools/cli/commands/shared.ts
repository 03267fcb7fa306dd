// Options several commands share, parsed one way.
import { cudaStatus } from '../../../src/backend/cuda/addon.ts';
import type { BackendName, Model } from '../../../src/index.ts';
import { openModel } from '../../convert.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { KV_KINDS, type KvKind } from '../../../src/kernels/attention.ts';
import type { FisherLabels } from '../../fisher/fisher.ts';
import type { LutType } from '../../squeezellm/nuq.ts';
import { DEFAULT_TABLES, type OnProgress, type TableLayout } from '../../squeezellm/steps.ts';
import { num, type Options, type Parsed, str } from '../command.ts';
import { watchPeakMemory } from '../memory.ts';
import { progressBar } from '../progress.ts';

export const modelOptions: Options = {
  ctx: { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  'max-memory': { type: 'string' },
  kv: { type: 'string' },
  'kv-window': { type: 'string' },
};

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** --max-memory SIZE: bytes, or a number with K, M or G (powers of 1024; KiB/MiB/GiB and KB/MB/GB read the same). */
export function maxMemoryOption(p: Parsed): number | undefined {
  const raw = str(p, 'max-memory');
  if (raw === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(raw);
  const bytes = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
  if (!(bytes >= 1)) throw new UsageError(`--max-memory expects a size such as 2G, 512M or a number of bytes, got '${raw}'`);
  return Math.floor(bytes);
}

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

/**
 * --fast / --exact (run, ppl, serve): whether the LUT (nuq) products take the wasm backend's int8 fast
 * path (not exact; docs/KERNELS.md, "LUT products"). Without either, the fast path is taken wherever the
 * backend is wasm: its perplexity stays within 0.5% (4-bit) / 1% (3-bit) of the exact path's on
 * stories3M and tinystories-656k (measured in docs/KERNELS.md). --exact keeps the exact path, the yardstick.
 */
export const fastOptions: Options = { fast: { type: 'boolean' }, exact: { type: 'boolean' } };

export function fastOption(p: Parsed): boolean {
  if (p.values.fast === true && p.values.exact === true) throw new UsageError('--fast and --exact exclude each other');
  if (p.values.fast === true) return true;
  if (p.values.exact === true) return false;
  // the default: fast where the backend is (or auto resolves to) wasm; js and cuda have no fast path
  const b = backendOption(p);
  return b === 'wasm' || (b === 'auto' && (threadsOption(p) > 1 || !cudaStatus().ok));
}

/** The model a run-time command names, opened with its --tokenizer/--backend/--threads/--fast/--kv/--kv-window/--max-memory and the context (default --ctx). */
export function openModelOption(p: Parsed, source: string, ctx = num(p, 'ctx', { int: true, min: 2 })): Promise<Model> {
  return openModel(source, {
    tokenizer: str(p, 'tokenizer'),
    backend: backendOption(p),
    threads: threadsOption(p),
    fast: fastOption(p),
    kv: kvOption(p),
    kvWindow: num(p, 'kv-window', { int: true, min: 32 }),
    ctx,
    maxMemory: maxMemoryOption(p),
  });
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
    return await fn((done, total, what) => bar.update(done, total, what));
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

/** SqueezeLLM's table layout (quantize, nuq). */
export const tableOptions: Options = { 'table-rows': { type: 'string' }, 'no-row-scale': { type: 'boolean' } };

export const tableOptionsHelp = `      --table-rows N           rows sharing one lookup table (default ${DEFAULT_TABLES.tableRows}: one table per matrix;
                               1: one per row, as the SqueezeLLM paper)
      --no-row-scale           no f16 scale per row on its table (default: one per row)`;

/** --table-rows N and --no-row-scale: how the lookup tables are laid out (docs/TOOLCHAIN.md). */
export function tableLayoutOption(p: Parsed): TableLayout {
  return { tableRows: num(p, 'table-rows', { int: true, min: 0 }) ?? DEFAULT_TABLES.tableRows, rowScale: p.values['no-row-scale'] ? false : DEFAULT_TABLES.rowScale };
}

export function seedOption(p: Parsed): number {
  return num(p, 'seed', { int: true }) ?? 0;
}

/** --labels / --fisher-labels text|model: the Fisher information's next tokens (tools/fisher/fisher.ts). */
export function fisherLabelsOption(p: Parsed, name: string): FisherLabels | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (v !== 'text' && v !== 'model') throw new UsageError(`--${name} must be text or model, got '${v}'`);
  return v;
}
