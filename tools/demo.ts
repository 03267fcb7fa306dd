// The demo (`sqz demo`): get a small model, quantize it with SqueezeLLM at 4 and 3 bits, and
// compare the three on file size, bits per weight, perplexity and speed, with a greedy sample
// from each. No dataset comes with it, so the calibration and evaluation text are sampled from
// the f32 model itself (seeded): perplexity then measures how far each quantized model strays
// from the f32 model's own distribution. The library reports through callbacks and never prints.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Sampler } from '../src/generate/sampler.ts';
import { loadModel } from '../src/index.ts';
import type { Model } from '../src/model/model.ts';
import { SqzError, UsageError } from '../src/util/errors.ts';
import { convertCheckpoint } from './convert.ts';
import { download, isUrl } from './download.ts';
import { chunkStep, gradientsStep, nuqStep, outliersStep, packStep } from './squeezellm/steps.ts';
import { type SyntheticOptions, writeSyntheticModel } from './synthetic.ts';
import { readTextFile, splitDocuments, writeFileAtomic } from './text.ts';

/** The default model: Karpathy's stories15M (llama2.c format, trained on TinyStories) and llama2.c's tokenizer. */
export const DEFAULT_MODEL_URL = 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories15M.bin';
export const DEFAULT_TOKENIZER_URL = 'https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.bin';

/** The synthetic stand-in when no model can be downloaded: small enough for well under a minute on 2 cores. */
export const DEFAULT_SYNTHETIC: SyntheticOptions = { dim: 128, nLayers: 4, nHeads: 8, nKvHeads: 4, hiddenDim: 344, vocabSize: 512, maxSeqLen: 256 };

export interface DemoOptions {
  /** A checkpoint (any format openCheckpoint reads, or a .sqz), as a path or an http(s) URL. Default: stories15M. */
  model?: string;
  /** Tokenizer for a llama2.c checkpoint, as a path or URL (default with the default model: llama2.c's tokenizer.bin). */
  tokenizer?: string;
  /** Download nothing: use the synthetic model (unless `model` is a local file). */
  offline?: boolean;
  /** URLs of the default model and tokenizer (tests point them elsewhere). */
  modelUrl?: string;
  tokenizerUrl?: string;
  /** Download cache folder (default: download.ts cacheDir()). */
  cacheDir?: string;
  /** Milliseconds to wait for a server's answer before falling back (default 10 s). */
  connectTimeoutMs?: number;
  /** Shape of the synthetic model (default DEFAULT_SYNTHETIC); its seed is `seed`. */
  synthetic?: SyntheticOptions;
  /** Calibration text file instead of text sampled from the f32 model. */
  calib?: string;
  /** Evaluation text file instead of text sampled from the f32 model. */
  text?: string;
  /** Sequences sampled from the f32 model for calibration (default 24) and for evaluation (default 8). */
  calibSequences?: number;
  evalSequences?: number;
  /** Tokens per sampled sequence and per calibration window (default 128). */
  seqLen?: number;
  /** Calibration windows for the Fisher information (default 16). */
  samples?: number;
  /** Outliers (percent of each matrix, by magnitude; default 0.4) and sensitive values (top Fisher percent; default 0.05). */
  outlierPercent?: number;
  sensitivity?: number;
  /** Bit widths to quantize to (default [4, 3]). */
  bits?: (3 | 4)[];
  /** Prompt for the speed run and the samples (default "Once upon a time"). */
  prompt?: string;
  /** Greedy tokens generated to measure speed (default 64) and shown as each model's sample (default 40). */
  speedTokens?: number;
  sampleTokens?: number;
  /** The speed run is repeated until this many milliseconds of generation have passed (default 500). */
  minSpeedMs?: number;
  /** Window length for perplexity (default: the model's context, at most 256). */
  ctx?: number;
  /** Threads for the wasm backend (and the k-means workers). Default 1. */
  threads?: number;
  seed?: number;
  /** Keep the three .sqz files and the text files in this folder (default: a temporary folder, removed). */
  outDir?: string;
}

export interface DemoReport {
  /** A fact to tell the user: which model and why, which text. */
  note?(line: string): void;
  /** A long piece of work begins; `progress` calls for it follow until the next stage. `unit` names what is counted. */
  stage?(label: string, unit?: string): void;
  progress?(done: number, total: number): void;
}

export interface DemoModelInfo {
  /** 'downloaded' or 'cached' (the default model or a URL), 'file' (a local --model), 'synthetic'. */
  source: 'downloaded' | 'cached' | 'file' | 'synthetic';
  name: string;
  /** The checkpoint used (a cache path, a local path, or the synthetic .sqz). */
  path: string;
  /** Why the synthetic model was used (the download error, or --offline). */
  reason?: string;
  /** One line on the model's shape. */
  shape: string;
}

export interface DemoText {
  /** 'sampled' from the f32 model, or a 'file'. */
  source: 'sampled' | 'file';
  file?: string;
  sequences: number;
  tokens: number;
  /** Calibration windows the Fisher information was computed over (after quantization). */
  windows?: number;
}

export interface DemoRow {
  name: string;
  /** 32 for f32; else the bit width of the lookup-table indices. */
  bits: number;
  path: string;
  fileBytes: number;
  /** Bits per weight of the quantized layers (indices, tables and sparse part); 32 for f32. */
  avgBits: number;
  perplexity: number;
  /** perplexity / the f32 model's. */
  pplRatio: number;
  /** Tokens per second of greedy generation (the prompt excluded; runs of speedTokens repeated for at least minSpeedMs). */
  tokensPerSecond: number;
  speedTokens: number;
  /** A greedy continuation of the prompt. */
  sample: string;
  /** Seconds of this bit width's own steps, nuq and pack (0 for f32; the shared ones are DemoResult.fisherSeconds). */
  quantizeSeconds: number;
}

export interface DemoResult {
  model: DemoModelInfo;
  calibration: DemoText;
  evaluation: DemoText;
  prompt: string;
  threads: number;
  seed: number;
  rows: DemoRow[];
  /** Seconds for the steps both bit widths share: Fisher information, chunk, outlier thresholds. */
  fisherSeconds: number;
  /** Where the .sqz files are kept (only with outDir). */
  outDir?: string;
}

export async function runDemo(opts: DemoOptions = {}, report: DemoReport = {}): Promise<DemoResult> {
  const seed = opts.seed ?? 0;
  const threads = opts.threads ?? 1;
  const seqLen = opts.seqLen ?? 128;
  const prompt = opts.prompt ?? 'Once upon a time';
  const bitsList = opts.bits ?? [4, 3];
  if (seqLen < 2) throw new UsageError(`the sequence length must be at least 2, got ${seqLen}`);
  const work = mkdtempSync(join(tmpdir(), 'sqz-demo-'));
  const keep = opts.outDir ? resolve(opts.outDir) : undefined;
  if (keep) mkdirSync(keep, { recursive: true });
  const out = keep ?? work;
  const stage = (label: string, unit?: string) => report.stage?.(label, unit);
  const progress = (done: number, total: number) => report.progress?.(done, total);
  try {
    // 1. The model, as a dense f32 .sqz (the f32 row, and the source for quantization).
    const f32Path = join(out, 'model-f32.sqz');
    const model = await getModel(opts, f32Path, seed, report);
    const rows: DemoRow[] = [];
    let f32: Model | undefined = await loadModel(f32Path, { threads });
    let calibration: DemoText;
    let evaluation: DemoText;
    let evalIds: number[][];
    let calibFile: string;
    let fisherSeconds = 0;
    try {
      const ctx = Math.min(opts.ctx ?? 256, f32.config.maxSeqLen);
      const len = Math.min(seqLen, f32.config.maxSeqLen);
      model.shape = shapeOf(f32);
      report.note?.(describeModel(model));
      // 2. Calibration and evaluation text.
      if (opts.calib) {
        calibFile = opts.calib;
        const docs = splitDocuments(await readTextFile(calibFile));
        calibration = { source: 'file', file: calibFile, sequences: docs.length, tokens: countIds(docs.map((d) => f32!.tokenizer.encode(d, { bos: false }))) };
      } else {
        const n = opts.calibSequences ?? 24;
        stage(`sample ${n} calibration sequences from the f32 model`, 'sequences');
        const sampled = await sampleSequences(f32, n, len, seed, progress);
        calibFile = join(out, 'calib.txt');
        await writeFileAtomic(calibFile, sampled.texts.join('\n<|endoftext|>\n') + '\n');
        calibration = { source: 'sampled', file: keep ? calibFile : undefined, sequences: sampled.ids.length, tokens: countIds(sampled.ids) };
      }
      if (opts.text) {
        const docs = splitDocuments(await readTextFile(opts.text));
        evalIds = docs.map((d) => f32!.tokenizer.encode(d)).filter((ids) => ids.length >= 2);
        if (evalIds.length === 0) throw new SqzError(`${opts.text} holds no text of two tokens or more`);
        evaluation = { source: 'file', file: opts.text, sequences: evalIds.length, tokens: countIds(evalIds) };
      } else {
        const n = opts.evalSequences ?? 8;
        stage(`sample ${n} evaluation sequences from the f32 model`, 'sequences');
        // Seeds after the calibration ones: held-out text the quantizer never saw.
        const sampled = await sampleSequences(f32, n, len, seed + 1_000_003, progress);
        evalIds = sampled.ids;
        let file: string | undefined;
        if (keep) await writeFileAtomic((file = join(keep, 'eval.txt')), sampled.texts.join('\n<|endoftext|>\n') + '\n');
        evaluation = { source: 'sampled', file, sequences: evalIds.length, tokens: countIds(evalIds) };
      }
      report.note?.(describeText('calibration', calibration, seed));
      report.note?.(describeText('evaluation', evaluation, seed));

      rows.push(await measure(f32, { name: 'f32', bits: 32, path: f32Path, avgBits: 32, quantizeSeconds: 0 }, evalIds, ctx, prompt, opts, report));
      await f32.close();
      f32 = undefined;

      // 3. SqueezeLLM (the steps of quantize(), with the Fisher information, the per-layer
      // weights and the outlier thresholds computed once for both bit widths).
      const q = join(work, 'quantize');
      const fisherDir = join(q, 'fisher');
      const weightsDir = join(q, 'weights');
      const samples = opts.samples ?? 16;
      let t0 = performance.now();
      stage('quantize: Fisher information (gradients)', 'sequences');
      const g = await gradientsStep(f32Path, fisherDir, { calib: calibFile, samples, seqLen: len, onProgress: progress });
      stage('quantize: chunk', 'layers');
      await chunkStep(f32Path, weightsDir, { onProgress: progress });
      stage('quantize: outliers', 'layers');
      const outlierConfig = await outliersStep(weightsDir, q, { percent: opts.outlierPercent ?? 0.4 }, progress);
      fisherSeconds = (performance.now() - t0) / 1000;
      calibration.windows = g.sequences;
      for (const bits of bitsList) {
        t0 = performance.now();
        const path = join(out, `model-q${bits}.sqz`);
        const lutDir = join(q, `lut${bits}`);
        stage(`quantize ${bits}-bit: nuq`, 'matrices');
        const sparse = await nuqStep(weightsDir, lutDir, { bits, gradient: fisherDir, outlierConfig, sensitivity: opts.sensitivity ?? 0.05, threads, seed, onProgress: progress });
        stage(`quantize ${bits}-bit: pack`, 'tensors');
        const packed = await packStep(f32Path, lutDir, path, {
          bits,
          includeSparse: sparse.nnz > 0,
          summary: { calibration: { file: calibration.source === 'file' ? calibFile : 'text sampled from the f32 model (sqz demo)', samples: g.sequences, seqLen: len } },
          onProgress: progress,
        });
        const quantizeSeconds = (performance.now() - t0) / 1000;
        // 4. Each quantized model measured as the f32 one was.
        const m = await loadModel(path, { threads });
        try {
          rows.push(await measure(m, { name: `SqueezeLLM ${bits}-bit`, bits, path, avgBits: packed.avgBits, quantizeSeconds }, evalIds, ctx, prompt, opts, report));
        } finally {
          await m.close();
        }
      }
    } finally {
      await f32?.close();
    }
    const f32Ppl = rows[0].perplexity;
    for (const r of rows) r.pplRatio = r.perplexity / f32Ppl;
    return { model, calibration: calibration!, evaluation: evaluation!, prompt, threads, seed, rows, fisherSeconds, outDir: keep };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- the model -------------------------------------------------------------------------------

/** Resolves the model (download, local file or synthetic) and writes it as a dense f32 .sqz at `f32Path`. */
async function getModel(opts: DemoOptions, f32Path: string, seed: number, report: DemoReport): Promise<DemoModelInfo> {
  const fetchFile = async (url: string) => {
    report.stage?.(`download ${basename(new URL(url).pathname)}`, 'bytes');
    return download(url, {
      cacheDir: opts.cacheDir,
      connectTimeoutMs: opts.connectTimeoutMs,
      onProgress: (d, t) => report.progress?.(d, t ?? Math.max(d, 1)),
    });
  };
  const convert = async (checkpoint: string, tokenizer: string | undefined) => {
    report.stage?.('convert to f32 .sqz', 'tensors');
    await convertCheckpoint(checkpoint, f32Path, { tokenizer, onTensor: (i, n) => report.progress?.(i, n) });
  };

  if (opts.model) {
    // An explicit model: a failed download is an error, not a reason to fall back.
    if (opts.offline && (isUrl(opts.model) || (opts.tokenizer && isUrl(opts.tokenizer)))) throw new UsageError('--offline downloads nothing; give --model and --tokenizer as paths');
    if (isUrl(opts.model) && !/\.(bin|gguf|sqz)$/i.test(new URL(opts.model).pathname)) {
      throw new UsageError(`--model ${opts.model}: a URL must name one file (.bin, .gguf or .sqz); download a Hugging Face folder yourself and give its path`);
    }
    const m = isUrl(opts.model) ? await fetchFile(opts.model) : undefined;
    const t = opts.tokenizer && isUrl(opts.tokenizer) ? await fetchFile(opts.tokenizer) : undefined;
    const path = m?.path ?? opts.model;
    await convert(path, t?.path ?? opts.tokenizer);
    return { source: m ? (m.cached ? 'cached' : 'downloaded') : 'file', name: modelName(path), path, shape: '' };
  }
  if (opts.tokenizer) throw new UsageError('--tokenizer goes with --model (the default model brings its own)');

  let reason = 'offline (--offline): no download was tried';
  if (!opts.offline) {
    const modelUrl = opts.modelUrl ?? DEFAULT_MODEL_URL;
    const tokUrl = opts.tokenizerUrl ?? DEFAULT_TOKENIZER_URL;
    try {
      const m = await fetchFile(modelUrl);
      const t = await fetchFile(tokUrl);
      await convert(m.path, t.path);
      return { source: m.cached && t.cached ? 'cached' : 'downloaded', name: modelName(m.path), path: m.path, shape: '' };
    } catch (e) {
      if (!(e instanceof SqzError)) throw e;
      reason = e.message;
    }
  }
  report.stage?.('generate a synthetic model', 'tensors');
  const shape = { ...DEFAULT_SYNTHETIC, ...opts.synthetic, seed };
  await writeSyntheticModel(f32Path, shape);
  return { source: 'synthetic', name: `synthetic (seed ${seed})`, path: f32Path, reason, shape: '' };
}

function modelName(path: string): string {
  return basename(path).replace(/\.(bin|sqz|gguf)$/i, '');
}

function shapeOf(m: Model): string {
  const c = m.config;
  return `dim ${c.dim}, ${c.nLayers} layers, hidden ${c.hiddenDim}, ${c.nHeads} heads (${c.nKvHeads} kv), vocab ${c.vocabSize}, context ${c.maxSeqLen}`;
}

function describeModel(m: DemoModelInfo): string {
  switch (m.source) {
    case 'downloaded':
      return `model: ${m.name} (${m.shape}), downloaded into ${m.path}`;
    case 'cached':
      return `model: ${m.name} (${m.shape}), from the cache: ${m.path}`;
    case 'file':
      return `model: ${m.name} (${m.shape}), ${m.path}`;
    case 'synthetic':
      return (
        `model: synthetic (${m.shape}; seeded random weights, heavy-tailed, with outlier channels),\n` +
        `  because ${m.reason}.\n` +
        `  It is untrained, so its text is noise: the table shows what quantization costs, not text quality.`
      );
  }
}

// ---- text ------------------------------------------------------------------------------------

/**
 * n sequences sampled from the model from BOS (temperature 1, the full distribution; seed
 * `seed + i`), as token ids (BOS first; what perplexity scores) and as text (what calibration
 * reads).
 */
export async function sampleSequences(
  m: Model,
  n: number,
  maxLen: number,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ ids: number[][]; texts: string[] }> {
  const start = m.tokenizer.encode('');
  if (start.length === 0) throw new UsageError('the tokenizer has no BOS token to start sampling from');
  const len = Math.min(maxLen, m.ctx);
  const ids: number[][] = [];
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const sampler = new Sampler({ temperature: 1, topP: 1, seed: seed + i });
    const seq = [...start];
    let logits = m.forward(seq, 0);
    while (seq.length < len) {
      const next = sampler.sample(logits);
      if (next === m.tokenizer.eos) break;
      seq.push(next);
      if (seq.length >= len) break;
      logits = m.forward([next], seq.length - 1);
    }
    if (seq.length >= 2) {
      ids.push(seq);
      texts.push(m.tokenizer.decode(seq).trim());
    }
    onProgress?.(i + 1, n);
    await tick();
  }
  return { ids, texts };
}

/** Lets timers (progress bars) run between pieces of synchronous work. */
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Tokens scored (all but each sequence's first). */
function countIds(seqs: number[][]): number {
  return seqs.reduce((a, s) => a + s.length - 1, 0);
}


function describeText(what: 'calibration' | 'evaluation', t: DemoText, seed: number): string {
  const kept = t.file && t.source === 'sampled' ? `, kept in ${t.file}` : '';
  if (what === 'calibration') {
    return t.source === 'file'
      ? `calibration: ${t.file} (${t.sequences} documents, ${t.tokens} tokens)`
      : `calibration: ${t.sequences} sequences sampled from the f32 model (temperature 1, seed ${seed}; ${t.tokens} tokens)${kept}`;
  }
  return t.source === 'file'
    ? `evaluation: perplexity on ${t.file} (${t.sequences} documents, ${t.tokens} tokens)`
    : `evaluation: perplexity on text sampled from the f32 model: ${t.sequences} other sequences, held out from calibration (${t.tokens} tokens)${kept}`;
}

// ---- measuring -------------------------------------------------------------------------------

type RowBase = Pick<DemoRow, 'name' | 'bits' | 'path' | 'avgBits' | 'quantizeSeconds'>;

async function measure(m: Model, base: RowBase, seqs: number[][], ctx: number, prompt: string, opts: DemoOptions, report: DemoReport): Promise<DemoRow> {
  // Perplexity over all sequences together: each scored from its BOS, the log-likelihoods pooled.
  report.stage?.(`perplexity: ${base.name}`, 'sequences');
  let nll = 0;
  let tokens = 0;
  for (let i = 0; i < seqs.length; i++) {
    const p = m.perplexityOfIds(seqs[i], { ctx });
    nll += p.nll * p.tokens;
    tokens += p.tokens;
    report.progress?.(i + 1, seqs.length);
    await tick();
  }

  // The greedy sample first (it also warms the code up), then timed runs: the same greedy
  // generation repeated until half a second has passed, so small models get a steady figure.
  report.stage?.(`generate: ${base.name}`, 'ms');
  const sampleTokens = opts.sampleTokens ?? 40;
  const speedTokens = opts.speedTokens ?? 64;
  const minMs = opts.minSpeedMs ?? 500;
  let sample = '';
  for await (const piece of m.generate(prompt, { temperature: 0, maxTokens: sampleTokens })) sample += piece;
  let generated = 0;
  let ms = 0;
  let runs = 0;
  do {
    for await (const _ of m.generate(prompt, { temperature: 0, maxTokens: speedTokens })) void _;
    generated += m.lastStats!.generatedTokens;
    ms += m.lastStats!.generateMs;
    report.progress?.(Math.min(ms, minMs), minMs);
    await tick();
  } while (ms < minMs && ++runs < 100);
  return {
    ...base,
    fileBytes: statSync(base.path).size,
    perplexity: Math.exp(nll / tokens),
    pplRatio: 1,
    tokensPerSecond: ms > 0 ? (generated * 1000) / ms : 0,
    speedTokens: m.lastStats!.generatedTokens,
    sample,
  };
}
