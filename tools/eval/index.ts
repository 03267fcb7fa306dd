// One table of SqueezeLLM against the baselines on one checkpoint (docs/EVAL.md): the f32 model,
// then every method × bits (× group size for rtn/gptq/awq) quantized into OUTDIR/*.sqz, each
// scored by the same sliding-window perplexity (docs/PERPLEXITY.md). The library never prints; it
// reports progress through onProgress and returns the rows. The report (results.md, results.svg)
// is tools/eval/report.ts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOutputFolder } from '../../src/format/outpath.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';
import { SqzError, UsageError } from '../../src/util/errors.ts';
import { type BaselineMethod, quantizeBaseline } from '../baselines/index.ts';
import { convertCheckpoint } from '../convert.ts';
import { DEFAULT_TABLES, PER_ROW_TABLES, quantize as quantizeSqueezeLLM, type TableLayout } from '../squeezellm/steps.ts';
import { parseLayerBits } from '../precision.ts';
import type { FisherLabels } from '../fisher/fisher.ts';
import { readTextFile, writeFileAtomic } from '../text.ts';
import { GGUF_EVAL_TYPES, type GgufEvalType, quantizeGguf } from './gguf.ts';
import { resultsMarkdown, resultsSvg } from './report.ts';

/** SqueezeLLM dense-and-sparse settings of the `squeezellm-sparse` rows (the paper's 0.45% split). */
export const SPARSE_SETTINGS = { outlierPercent: 0.4, sensitivity: 0.05 };

/**
 * How a method's rows are made: a SqueezeLLM configuration (a row per bit width), a baseline one
 * (rows per bit width and group size), or a llama.cpp format (one row, its own bits).
 */
type Recipe = { squeezellm: SqueezeRecipe } | { baseline: BaselineMethod; actOrder?: boolean } | { gguf: GgufEvalType };

/** A SqueezeLLM configuration: Fisher weighting, the dense-and-sparse split, the table layout (default DEFAULT_TABLES), GPTQ's assignment (default SQUEEZE_GPTQ) and the tables' fine-tuning (default with GPTQ's assignment). */
interface SqueezeRecipe {
  fisher: boolean;
  sparse: boolean;
  tables?: TableLayout;
  gptq?: boolean;
  tune?: boolean;
  /** The Fisher information's next tokens (default the text's; 'model': the KL's Hessian). */
  labels?: FisherLabels;
  /** One row per --target-bpw value instead of per bit width (sqz quantize --target-bpw). */
  mix?: boolean;
}

/** Whether `sqz quantize` assigns by GPTQ's error feedback unless told otherwise. */
export const SQUEEZE_GPTQ = true;

const GGUF_RECIPES = Object.fromEntries(Object.keys(GGUF_EVAL_TYPES).map((t) => [t, { gguf: t }])) as Record<GgufEvalType, { gguf: GgufEvalType }>;

const RECIPES = {
  squeezellm: { squeezellm: { fisher: true, sparse: false } },
  'squeezellm-sparse': { squeezellm: { fisher: true, sparse: true } },
  // 3/4 bits per matrix by sensitivity, a row per target average (--target-bpw)
  'squeezellm-mix': { squeezellm: { fisher: true, sparse: false, mix: true } },
  rtn: { baseline: 'rtn' },
  gptq: { baseline: 'gptq' },
  awq: { baseline: 'awq' },
  // ablations, on request: SqueezeLLM without the Fisher weighting, with the paper's tables (one
  // per row, no scales), without GPTQ's assignment, without the tables' fine-tuning, with the
  // Fisher of the KL to the f32 model (labels drawn from it), and the paper's method as
  // published; GPTQ with act-order
  'squeezellm-unweighted': { squeezellm: { fisher: false, sparse: false } },
  'squeezellm-per-row': { squeezellm: { fisher: true, sparse: false, tables: PER_ROW_TABLES } },
  'squeezellm-nearest': { squeezellm: { fisher: true, sparse: false, gptq: false, tune: false } },
  'squeezellm-untuned': { squeezellm: { fisher: true, sparse: false, tune: false } },
  'squeezellm-untuned-sparse': { squeezellm: { fisher: true, sparse: true, tune: false } },
  'squeezellm-kl-fisher': { squeezellm: { fisher: true, sparse: false, labels: 'model' } },
  'squeezellm-paper': { squeezellm: { fisher: true, sparse: false, tables: PER_ROW_TABLES, gptq: false, tune: false } },
  'squeezellm-paper-sparse': { squeezellm: { fisher: true, sparse: true, tables: PER_ROW_TABLES, gptq: false, tune: false } },
  'gptq-act-order': { baseline: 'gptq', actOrder: true },
  ...GGUF_RECIPES,
} satisfies Record<string, Recipe>;

export type EvalMethod = keyof typeof RECIPES;
export const EVAL_METHODS = Object.keys(RECIPES) as EvalMethod[];
/** What a run compares unless told otherwise. */
export const DEFAULT_METHODS: readonly EvalMethod[] = ['squeezellm', 'squeezellm-sparse', 'rtn', 'gptq', 'awq', ...(Object.keys(GGUF_EVAL_TYPES) as GgufEvalType[])];
const recipe = (m: EvalMethod): Recipe => RECIPES[m];
const isBaseline = (m: EvalMethod): boolean => 'baseline' in recipe(m);
/** A llama.cpp format: quantized here, in a moment, whatever --jobs says. */
export const isGguf = (m: EvalMethod | 'f32'): boolean => m !== 'f32' && 'gguf' in recipe(m);

export interface EvalOptions {
  /** Calibration text (Fisher information for SqueezeLLM, Hessians/activations for GPTQ/AWQ). */
  calib: string;
  /** Text scored for perplexity. */
  text: string;
  /** Folder the .sqz files and the report go to (created). */
  outDir: string;
  methods?: EvalMethod[];
  /** Default [3, 4]. SqueezeLLM takes 3 or 4 only; its rows at other widths are skipped (noted). */
  bits?: number[];
  /** Group sizes of the baselines, 0 = one group per row (default [0, 32]). */
  groups?: number[];
  /** Mixed precision for every method (tools/precision.ts); each row's bits is the default. */
  layerBits?: string;
  /** Average bits per weight of the squeezellm-mix rows, one row each (sqz quantize --target-bpw). */
  targetBpw?: number[];
  /** Symmetric baselines (zero fixed at 2^(bits-1)) instead of asymmetric (default). */
  sym?: boolean;
  samples?: number;
  seqLen?: number;
  /** Perplexity window (default 256, at most the model's context). */
  ctx?: number;
  /** Window step (default ctx / 2). */
  stride?: number;
  maxTokens?: number;
  threads?: number;
  seed?: number;
  tokenizer?: string;
  /**
   * Quantizations run at once (default 1): above 1, each row's quantization runs as a child
   * process of the built CLI (`sqz baseline` / `sqz quantize`, same options, same bytes), then the
   * perplexities run one by one here.
   */
  jobs?: number;
  /** Write results.md and results.svg (default true). */
  report?: boolean;
}

export interface EvalRow {
  /** 'f32' or a method. */
  method: 'f32' | EvalMethod;
  /** Bits per weight index (32 for f32). */
  bits: number;
  /** Baselines: group size, 0 = one group per row; null for f32 and SqueezeLLM. */
  group: number | null;
  /** Average bits per quantized weight, from the quantizer's result (counted from the records); 32 for f32. */
  avgBits: number;
  /** The .sqz written. */
  file: string;
  bytes: number;
  perplexity: number;
  /** Scored tokens. */
  tokens: number;
  /** Seconds spent quantizing (converting for f32). */
  seconds: number;
}

export interface EvalResult {
  rows: EvalRow[];
  /** Rows skipped and why. */
  notes: string[];
  ctx: number;
  stride: number;
  /** The mixed-precision spec every method used, or null. */
  layerBits: string | null;
}

/** Progress of the whole run: which row, which of how many, and the step's own done/total. */
export interface EvalProgress {
  /** e.g. 'gptq b4 g32'. */
  row: string;
  /** 'quantize' or 'ppl'. */
  stage: 'quantize' | 'ppl';
  index: number;
  rows: number;
  done: number;
  total: number;
}

export type OnEvalProgress = (p: EvalProgress) => void;

interface Job {
  method: 'f32' | EvalMethod;
  bits: number;
  group: number | null;
  label: string;
  file: string;
  /** squeezellm-mix: the average bits per weight asked for. */
  target?: number;
}

const isMix = (m: EvalMethod | 'f32'): boolean => m !== 'f32' && 'squeezellm' in recipe(m) && Boolean((recipe(m) as { squeezellm: SqueezeRecipe }).squeezellm.mix);

/** The rows a run makes, in order: f32, then method × bits (× groups for the baselines). */
export function plan(opts: EvalOptions): { jobs: Job[]; notes: string[] } {
  const methods = opts.methods ?? [...DEFAULT_METHODS];
  const bits = opts.bits ?? [3, 4];
  const groups = opts.groups ?? [0, 32];
  for (const m of methods) if (!EVAL_METHODS.includes(m)) throw new UsageError(`unknown method '${m}' (${EVAL_METHODS.join(', ')})`);
  for (const b of bits) if (b !== 3 && b !== 4 && b !== 8) throw new UsageError(`bits must be 3, 4 or 8, got ${b}`);
  for (const g of groups) if (!Number.isInteger(g) || g < 0) throw new UsageError(`group sizes must be integers >= 0 (0 = per row), got ${g}`);
  if (!methods.length || !bits.length) throw new UsageError('nothing to evaluate: give at least one method and one bit width');
  if (methods.some((m) => isBaseline(m)) && !groups.length) throw new UsageError('the baselines need at least one group size');
  if (opts.layerBits !== undefined) {
    // every method must take every width the spec names, before any work starts
    for (const { pattern, value } of parseLayerBits(opts.layerBits)) {
      if (typeof value !== 'number') continue;
      const refuses = methods.find((m) => !isGguf(m) && !(isBaseline(m) ? [3, 4, 8] : [3, 4]).includes(value));
      if (refuses) throw new UsageError(`--layer-bits: ${pattern}=${value}: ${refuses} takes ${isBaseline(refuses) ? '3, 4 or 8' : '3 or 4'} bits, f16 or f32`);
    }
  }
  const jobs: Job[] = [{ method: 'f32', bits: 32, group: null, label: 'f32', file: join(opts.outDir, 'f32.sqz') }];
  const notes: string[] = [];
  for (const m of methods) {
    if (isGguf(m)) {
      // llama.cpp's formats fix their own bits and choose per matrix (their mixes)
      if (opts.layerBits !== undefined) notes.push(`${m} skipped: llama.cpp's formats choose their own per-matrix types (no --layer-bits)`);
      else jobs.push({ method: m, bits: GGUF_EVAL_TYPES[m as GgufEvalType], group: null, label: m, file: join(opts.outDir, `${m}.sqz`) });
      continue;
    }
    if (isMix(m)) {
      const targets = opts.targetBpw ?? [];
      if (!targets.length) notes.push(`${m} skipped: it needs --target-bpw values`);
      else if (opts.layerBits !== undefined) notes.push(`${m} skipped: it chooses its own per-matrix bits (no --layer-bits)`);
      else for (const t of targets) jobs.push({ method: m, bits: 3, group: null, label: `${m} ${t}`, file: join(opts.outDir, `${m}-${t}.sqz`), target: t });
      continue;
    }
    for (const b of bits) {
      if (isBaseline(m)) {
        for (const g of groups) {
          const gs = g === 0 ? 'row' : `g${g}`;
          jobs.push({ method: m, bits: b, group: g, label: `${m} b${b} ${gs}`, file: join(opts.outDir, `${m}-b${b}-${gs}.sqz`) });
        }
      } else if (b === 8) {
        notes.push(`${m} at 8 bits skipped: SqueezeLLM takes 3 or 4 bits`);
      } else {
        jobs.push({ method: m, bits: b, group: null, label: `${m} b${b}`, file: join(opts.outDir, `${m}-b${b}.sqz`) });
      }
    }
  }
  return { jobs, notes };
}

async function quantizeJob(source: string, job: Job, opts: EvalOptions, onProgress: (d: number, t: number) => void): Promise<{ avgBits: number; bytes: number }> {
  const common = { calib: opts.calib, samples: opts.samples, seqLen: opts.seqLen, tokenizer: opts.tokenizer, seed: opts.seed ?? 0, layerBits: opts.layerBits };
  if (job.method === 'f32') {
    await convertCheckpoint(source, job.file, { tokenizer: opts.tokenizer, onTensor: (i, n) => onProgress(i + 1, n) });
    return { avgBits: 32, bytes: (await stat(job.file)).size };
  }
  const r = recipe(job.method);
  if ('gguf' in r) {
    const g = await quantizeGguf(source, job.file, r.gguf, { tokenizer: opts.tokenizer, onProgress });
    return { avgBits: g.avgBits, bytes: (await stat(job.file)).size };
  }
  if ('baseline' in r) {
    const calib = r.baseline === 'rtn' ? undefined : opts.calib;
    return quantizeBaseline(source, job.file, { ...common, calib, method: r.baseline, actOrder: r.actOrder, sym: opts.sym, bits: job.bits as 3 | 4 | 8, groupSize: job.group!, onProgress });
  }
  const { fisher, sparse, tables, gptq, tune, labels } = squeezeSettings(r.squeezellm);
  // the gradient, chunk, nuq and pack steps each count from 0: one bar per step
  return quantizeSqueezeLLM(source, job.file, { ...common, calib: fisher || gptq ? opts.calib : undefined, ...(sparse ? SPARSE_SETTINGS : {}), tables, gptq, ...(tune ? {} : { tuneEpochs: 0 }), ...(labels === 'model' ? { fisherLabels: labels } : {}), targetBpw: job.target, bits: job.bits as 3 | 4, threads: opts.threads, onProgress });
}

/** A recipe with its defaults filled in (unweighted SqueezeLLM has no calibration, so no GPTQ and no tuning). */
function squeezeSettings(r: SqueezeRecipe): Required<Omit<SqueezeRecipe, 'mix'>> {
  const gptq = (r.gptq ?? SQUEEZE_GPTQ) && r.fisher;
  return { fisher: r.fisher, sparse: r.sparse, tables: r.tables ?? DEFAULT_TABLES, gptq, tune: (r.tune ?? gptq) && r.fisher, labels: r.labels ?? 'text' };
}

/** bin/sqz.mjs, found from this module whether it runs from sources (tools/eval/) or the bundle (build/). */
function sqzBin(): string {
  for (const rel of ['../bin/sqz.mjs', '../../bin/sqz.mjs']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new SqzError('bin/sqz.mjs not found next to the eval module');
}

/** The command line that makes `job`'s file, the same options as quantizeJob. */
function cliArgs(source: string, job: Job, opts: EvalOptions): string[] {
  const a = [source, '--bits', String(job.bits), '--seed', String(opts.seed ?? 0), '-o', job.file];
  if (opts.tokenizer !== undefined) a.push('--tokenizer', opts.tokenizer);
  if (opts.layerBits !== undefined) a.push('--layer-bits', opts.layerBits);
  const r = recipe(job.method as EvalMethod);
  if ('gguf' in r) throw new SqzError(`${job.label} is quantized in this process, not by a child`);
  // rtn and unweighted SqueezeLLM read no calibration (the commands refuse --calib there; the file is the same)
  if ('baseline' in r ? r.baseline !== 'rtn' : squeezeSettings(r.squeezellm).fisher) {
    a.push('--calib', opts.calib);
    if (opts.samples !== undefined) a.push('--samples', String(opts.samples));
    if (opts.seqLen !== undefined) a.push('--seq-len', String(opts.seqLen));
  }
  if ('baseline' in r) return ['baseline', ...a, '--method', r.baseline, ...(r.actOrder ? ['--act-order'] : []), ...(opts.sym ? ['--sym'] : []), '--group', String(job.group)];
  const { fisher, sparse, tables, gptq, tune, labels } = squeezeSettings(r.squeezellm);
  const extra = sparse ? ['--outlier-percent', String(SPARSE_SETTINGS.outlierPercent), '--sensitivity', String(SPARSE_SETTINGS.sensitivity)] : [];
  const layout = ['--table-rows', String(tables.tableRows), ...(tables.rowScale ? [] : ['--no-row-scale']), ...(fisher && !gptq ? ['--no-gptq'] : []), ...(fisher && !tune ? ['--tune-epochs', '0'] : []), ...(labels === 'model' ? ['--fisher-labels', 'model'] : [])];
  const target = job.target !== undefined ? ['--target-bpw', String(job.target)] : [];
  return ['quantize', ...a, ...(fisher ? [] : ['--no-fisher']), ...extra, ...layout, ...target, '--threads', String(opts.threads ?? 1)];
}

/** Runs `sqz …` in a child process; its one-line error becomes ours. */
function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [sqzBin(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new SqzError(`sqz ${args[0]} for ${args[args.indexOf('-o') + 1]} failed: ${err.trim().split('\n').pop()?.replace(/^sqz: /, '') ?? `exit code ${code}`}`));
    });
  });
}

/** Quantizes `jobs` in child processes, `n` at a time; bits per weight from each file's header. */
async function quantizeInChildren(source: string, jobs: Job[], opts: EvalOptions, n: number, onDone: (done: number) => void): Promise<Map<Job, { avgBits: number; seconds: number }>> {
  const out = new Map<Job, { avgBits: number; seconds: number }>();
  let next = 0;
  let failed: unknown = null;
  const lane = async () => {
    while (next < jobs.length && !failed) {
      const job = jobs[next++];
      const t0 = performance.now();
      try {
        await runChild(cliArgs(source, job, opts));
        const r = await SqzReader.open(job.file);
        const avgBits = Number(r.header.quant.avgBitsPerWeight);
        await r.close();
        out.set(job, { avgBits, seconds: (performance.now() - t0) / 1000 });
        onDone(out.size);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, lane));
  if (failed) throw failed;
  return out;
}

/** Runs the whole evaluation; writes OUTDIR/*.sqz and (unless report: false) results.md, results.svg and results.json. */
export async function runEval(checkpoint: string, opts: EvalOptions, onProgress?: OnEvalProgress): Promise<EvalResult> {
  const { jobs, notes } = plan(opts);
  const text = await readTextFile(opts.text);
  await readTextFile(opts.calib); // a missing calibration file fails before any work
  // one new folder at most: a mistyped path must not grow a tree of folders
  checkOutputFolder(dirname(resolve(opts.outDir)), opts.outDir);
  await mkdir(opts.outDir, { recursive: true });
  const rows: EvalRow[] = [];
  let ctx = opts.ctx ?? 256;
  let stride = opts.stride ?? 0;
  const n = opts.jobs ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`jobs must be an integer >= 1, got ${n}`);
  let done: Map<Job, { avgBits: number; seconds: number }> | null = null;
  if (n > 1 && jobs.length > 1) {
    // the quantized rows first, n at a time in child processes (f32 and llama.cpp's formats stay
    // here: a copy, and a few milliseconds of block encoding)
    const rest = jobs.slice(1).filter((j) => !isGguf(j.method));
    const report = (d: number) => onProgress?.({ row: `${rest.length} quantizations, ${n} at a time`, stage: 'quantize', index: 1, rows: jobs.length, done: d, total: rest.length });
    report(0);
    done = await quantizeInChildren(checkpoint, rest, opts, n, report);
  }
  for (const [index, job] of jobs.entries()) {
    const report = (stage: EvalProgress['stage']) => (done: number, total: number) => onProgress?.({ row: job.label, stage, index, rows: jobs.length, done, total });
    const t0 = performance.now();
    const q = done?.get(job) ?? (await quantizeJob(checkpoint, job, opts, report('quantize')));
    const seconds = done?.get(job)?.seconds ?? (performance.now() - t0) / 1000;
    // the first model (f32) tells the context length; later ones allocate only the window
    const model = await loadModel(job.file, { threads: opts.threads, ctx: index === 0 ? undefined : ctx });
    try {
      if (index === 0) {
        // the window can be no longer than the model's context
        ctx = Math.min(ctx, model.config.maxSeqLen);
        if (ctx < 2) throw new UsageError(`ctx must be at least 2, got ${ctx}`);
        stride = opts.stride !== undefined ? opts.stride : ctx >> 1;
        if (stride < 1 || stride >= ctx) throw new UsageError(`stride must be in 1..ctx-1 (ctx ${ctx}), got ${stride}`);
        if (opts.ctx !== undefined && opts.ctx > ctx) notes.push(`ctx ${opts.ctx} cut to the model's context, ${ctx}`);
      }
      const r = await model.perplexity(text, { ctx, stride, maxTokens: opts.maxTokens, onProgress: report('ppl') });
      rows.push({ method: job.method, bits: job.bits, group: job.group, avgBits: q.avgBits, file: job.file, bytes: (await stat(job.file)).size, perplexity: r.perplexity, tokens: r.tokens, seconds });
    } finally {
      await model.close();
    }
  }
  if (opts.sym) notes.push('baselines symmetric (--sym)');
  const result: EvalResult = { rows, notes, ctx, stride, layerBits: opts.layerBits ?? null };
  if (opts.report !== false) {
    await writeFileAtomic(join(opts.outDir, 'results.md'), resultsMarkdown(result, checkpoint));
    const subtitle = `${basename(checkpoint)}${result.layerBits === null ? '' : `, --layer-bits ${result.layerBits}`}${opts.sym ? ', symmetric baselines' : ''}`;
    await writeFileAtomic(join(opts.outDir, 'results.svg'), resultsSvg(result.rows, subtitle));
    // the same rows for programs (and for redrawing the plot), perplexities as numbers
    await writeFileAtomic(join(opts.outDir, 'results.json'), JSON.stringify({ checkpoint, ...result }, null, 1) + '\n');
  }
  return result;
}
