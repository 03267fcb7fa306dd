// The SqueezeLLM toolchain as steps (the reference implementation's order), each a library
// function the CLI wraps: gradients -> chunk -> outliers -> nuq -> pack; quantize() runs them all.
// Steps hand each other per-layer folders (layers.ts), so nuq and pack hold one layer at a time.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { dequantize, payloadBytes, type TensorRecord } from '../../src/format/kinds.ts';
import { checkOutputFile, tempDirPrefix, trackTemp, untrackTemp } from '../../src/format/outpath.ts';
import { SqzWriter } from '../../src/format/writer.ts';
import { LINEAR_LAYERS, type ModelConfig } from '../../src/model/config.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { FormatError, SqzError, UsageError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../checkpoint/index.ts';
import type { Checkpoint } from '../checkpoint/types.ts';
import { checkpointRecords, denseRecord } from '../convert.ts';
import { planPrecision, type PrecisionPlan } from '../precision.ts';
import { calibrationSequences, type FisherLabels } from '../fisher/fisher.ts';
import { computeFisherParallel } from '../fisher/parallel.ts';
import { LlamaGrad } from '../fisher/backward.ts';
import { quantizeSequentially } from '../baselines/index.ts';
import { readTextFile, splitDocuments, writeFileAtomic } from '../text.ts';
import { assertSameModel, linearNamesOf, type LayerManifest, readLayer, readManifest, writeLayer, writeManifest } from './layers.ts';
import { allocateBits, allocationSpec, type BitCosts } from './allocate.ts';
import { balancedRowSplit, type LutType, quantizeMatrix } from './nuq.ts';
import { TUNE_EPOCHS, tuneTables } from './tune.ts';
import { countOutliers, type OutlierConfig, outlierConfigName, percentThreshold, rangeThreshold } from './outliers.ts';

/** (done, total, what) for progress bars. */
export type OnProgress = (done: number, total: number, what?: string) => void;

function f32Of(rec: TensorRecord, where: string): Float32Array {
  if (rec.kind !== 'f32') throw new FormatError(`${where}: ${rec.name} is ${rec.kind}, f32 expected`);
  return rec.data;
}

async function withCheckpoint<T>(source: string, opts: { tokenizer?: string; gradients?: boolean }, fn: (c: Checkpoint) => Promise<T>): Promise<T> {
  const ckpt = await openCheckpoint(source, opts);
  try {
    return await fn(ckpt);
  } finally {
    await ckpt.close();
  }
}

// ---- gradients -------------------------------------------------------------------------------

export interface GradientsOptions {
  /** Calibration text; documents are separated by <|endoftext|> lines. */
  calib: string;
  /** Calibration sequences (the CLI's default 100). */
  samples: number;
  /** Tokens per sequence, BOS first, at most the model's context (the CLI's default 256). */
  seqLen: number;
  /** tokenizer.bin (llama2.c) or tokenizer.json for a checkpoint without its own. */
  tokenizer?: string;
  /** Worker threads for the backward passes (the result does not depend on it). */
  threads?: number;
  /** The gradients' next tokens: the text's (default, SqueezeLLM's Fisher) or drawn from the model (its true Fisher, the KL's Hessian; fisher.ts). */
  labels?: FisherLabels;
  /** Seed of the model's draws (default 0). */
  seed?: number;
  /** Called as calibration sequences are done. */
  onProgress?: OnProgress;
}

/** Calibration token ids: documents (split on <|endoftext|> lines) each after a BOS. */
export async function calibrationTokens(textFile: string, tokenizer: ReturnType<typeof createTokenizer>): Promise<number[]> {
  const docs = splitDocuments(await readTextFile(textFile));
  if (tokenizer.bos === null) throw new UsageError('the tokenizer has no BOS token; calibration sequences start with BOS');
  const ids: number[] = [];
  for (const d of docs) ids.push(tokenizer.bos, ...tokenizer.encode(d, { bos: false }));
  return ids;
}

/** Fisher information (sum over calibration sequences of grad^2) of every linear layer, written as a layer folder. */
export async function gradientsStep(source: string, out: string, opts: GradientsOptions): Promise<{ sequences: number; meanLoss: number }> {
  return withCheckpoint(source, { tokenizer: opts.tokenizer }, async (ckpt) => {
    if (!ckpt.tokenizer) throw new UsageError(`${ckpt.source}: a tokenizer is needed to read the calibration text (--tokenizer)`);
    const tok = createTokenizer(ckpt.tokenizer);
    const ids = await calibrationTokens(opts.calib, tok);
    const seqLen = Math.min(opts.seqLen, ckpt.config.maxSeqLen);
    const sequences = calibrationSequences(ids, opts.samples, seqLen, tok.bos!);
    const weights = new Map<string, Float32Array>();
    for await (const rec of checkpointRecords(ckpt)) weights.set(rec.name, f32Of(rec, ckpt.source));
    const { fisher, meanLoss } = await computeFisherParallel({ config: ckpt.config, weights }, sequences, {
      threads: opts.threads,
      labels: opts.labels,
      seed: opts.seed,
      onProgress: (d, t) => opts.onProgress?.(d, t, 'sequences'),
    });
    weights.clear();
    const layers = range(ckpt.config.nLayers);
    for (const i of layers) {
      await writeLayer(out, 'fisher', ckpt.config, i, linearNamesOf(i).map((name) => ({ name, kind: 'f32', shape: ckpt.shape(name), data: fisher.get(name)! })));
    }
    await writeManifest(out, {
      kind: 'fisher',
      config: ckpt.config,
      source: { checkpoint: ckpt.source, calib: opts.calib, samples: sequences.length, seqLen, labels: opts.labels ?? 'text' },
      layers,
    });
    return { sequences: sequences.length, meanLoss };
  });
}

// ---- chunk -----------------------------------------------------------------------------------

/** Splits a checkpoint (or, with gradients, an external grad^2 checkpoint) into a per-layer folder. */
export async function chunkStep(source: string, out: string, opts: { tokenizer?: string; gradients?: boolean; onProgress?: OnProgress } = {}): Promise<void> {
  await withCheckpoint(source, opts, async (ckpt) => {
    const kind = opts.gradients ? 'fisher' : 'weights';
    const layers = range(ckpt.config.nLayers);
    for (const i of layers) {
      const recs: TensorRecord[] = [];
      for (const name of linearNamesOf(i)) recs.push({ name, kind: 'f32', shape: ckpt.shape(name), data: await ckpt.read(name) });
      await writeLayer(out, kind, ckpt.config, i, recs);
      opts.onProgress?.(i + 1, layers.length, 'layers');
    }
    await writeManifest(out, { kind, config: ckpt.config, source: { checkpoint: ckpt.source }, layers });
  });
}

// ---- outliers --------------------------------------------------------------------------------

export type OutlierRule = { range: number } | { percent: number };

/** Thresholds per matrix; writes DIR2/outlier_config_o{realized percent}.json and returns its path. */
export async function outliersStep(weightsDir: string, out: string, rule: OutlierRule, onProgress?: OnProgress): Promise<string> {
  const m = await readManifest(weightsDir, 'weights');
  const cfg: OutlierConfig = { rule, percent: 0, tensors: {} };
  let count = 0;
  let total = 0;
  for (const i of m.layers) {
    for (const [name, rec] of await readLayer(weightsDir, i)) {
      const w = f32Of(rec, weightsDir);
      const threshold = 'range' in rule ? rangeThreshold(w, rule.range) : percentThreshold(w, rule.percent);
      const c = countOutliers(w, threshold);
      cfg.tensors[name] = { threshold, count: c, numel: w.length };
      count += c;
      total += w.length;
    }
    onProgress?.(i + 1, m.layers.length, 'layers');
  }
  cfg.percent = (100 * count) / total;
  mkdirSync(out, { recursive: true });
  const path = join(out, outlierConfigName(cfg.percent));
  await writeFileAtomic(path, JSON.stringify(cfg, null, 1));
  return path;
}

async function readOutlierConfig(path: string): Promise<OutlierConfig> {
  if (!existsSync(path)) throw new SqzError(`no such file: ${path}`);
  try {
    const c = JSON.parse(await readFile(path, 'utf8')) as OutlierConfig;
    if (!c.tensors || typeof c.tensors !== 'object') throw new Error('no tensors');
    return c;
  } catch (e) {
    throw new FormatError(`${path}: not an outlier configuration (${(e as Error).message})`);
  }
}

// ---- nuq -------------------------------------------------------------------------------------

/**
 * How each matrix's lookup tables are laid out (shared.ts): `tableRows` consecutive rows share one
 * table (0 = one table for the whole matrix; 1 = a table per row, as the SqueezeLLM paper), and
 * `rowScale` gives each row an f16 scale on its table.
 */
export interface TableLayout {
  tableRows: number;
  rowScale: boolean;
}

/** The paper's layout: a table per row, no scales. */
export const PER_ROW_TABLES: TableLayout = { tableRows: 1, rowScale: false };
/** The default: one table per matrix, a scale per row (docs/RESULTS.md measures both). */
export const DEFAULT_TABLES: TableLayout = { tableRows: 0, rowScale: true };

/** The layout a LUT folder's manifest records (folders from before the option: per row). */
function tableLayoutOf(source: Record<string, unknown>): TableLayout {
  const t = source.tables as TableLayout | undefined;
  return t && typeof t.tableRows === 'number' ? { tableRows: t.tableRows, rowScale: Boolean(t.rowScale) } : PER_ROW_TABLES;
}

export interface NuqStepOptions {
  /** Bits per weight index: 3 or 4. */
  bits: 3 | 4;
  /** A Fisher layer folder (from gradients or chunk --gradients) or an external gradient checkpoint; absent: unweighted. */
  gradient?: string;
  /** An outlier_config_o*.json from the outliers step: values beyond its thresholds go to the sparse part. */
  outlierConfig?: string;
  /** Percent of each matrix kept sparse as the most sensitive values (needs a gradient). */
  sensitivity?: number;
  /** Inclusive layer range [a, b] (default all). */
  layers?: [number, number];
  /** Mixed precision, e.g. "layers.0=4,layers.*.mlp=3,head=f16" (tools/precision.ts); recorded in the folder for pack. */
  layerBits?: string;
  /** How lookup tables are stored (default f16); recorded in the folder for pack. */
  lutType?: LutType;
  /** How lookup tables are laid out (default DEFAULT_TABLES); recorded in the folder. */
  tables?: TableLayout;
  /** Assign the weights by GPTQ's error feedback, with the Hessians of this calibration run through the checkpoint (gptq.ts). */
  gptq?: GptqCalibration;
  /** Worker threads for the k-means (the result does not depend on it). */
  threads?: number;
  /** Seed of the k-means initialisation (default 0). */
  seed?: number;
  /** Called as matrices are done. */
  onProgress?: OnProgress;
}

export interface NuqStepResult {
  outliers: number;
  sensitive: number;
  nnz: number;
  numel: number;
}

/** Fisher scores of layer i from a Fisher layer folder or an external gradient checkpoint. */
interface FisherSource {
  config: ModelConfig;
  layer(i: number): Promise<Map<string, Float32Array>>;
  close(): Promise<void>;
}

async function openFisher(path: string): Promise<FisherSource> {
  if (existsSync(join(path, 'manifest.json'))) {
    const m = await readManifest(path, 'fisher');
    return {
      config: m.config,
      async layer(i) {
        const recs = await readLayer(path, i);
        return new Map([...recs].map(([n, r]) => [n, f32Of(r, path)]));
      },
      async close() {},
    };
  }
  const ckpt = await openCheckpoint(path, { gradients: true });
  return {
    config: ckpt.config,
    async layer(i) {
      const out = new Map<string, Float32Array>();
      for (const name of linearNamesOf(i)) out.set(name, await ckpt.read(name));
      return out;
    },
    close: () => ckpt.close(),
  };
}

/** Quantizes each linear matrix of the chosen layers; writes a LUT layer folder. */
export async function nuqStep(weightsDir: string, out: string, opts: NuqStepOptions): Promise<NuqStepResult> {
  if (opts.bits !== 3 && opts.bits !== 4) throw new UsageError(`--bits must be 3 or 4, got ${opts.bits}`);
  if (opts.sensitivity && !opts.gradient) throw new UsageError('--sensitivity needs Fisher scores (--gradient DIR)');
  const m = await readManifest(weightsDir, 'weights');
  const plan = squeezePlan(m.config, opts.bits, opts.layerBits);
  const outliers = opts.outlierConfig ? await readOutlierConfig(opts.outlierConfig) : undefined;
  const fisherSrc = opts.gradient ? await openFisher(opts.gradient) : undefined;
  try {
    if (fisherSrc) assertSameModel(m.config, fisherSrc.config, `gradient ${opts.gradient}`);
    const [a, b] = opts.layers ?? [0, m.config.nLayers - 1];
    const layers = m.layers.filter((i) => i >= a && i <= b);
    if (layers.length === 0) throw new UsageError(`--layers ${a},${b} selects no layer of ${m.config.nLayers}`);
    const total: NuqStepResult = { outliers: 0, sensitive: 0, nnz: 0, numel: 0 };
    const tables = opts.tables ?? DEFAULT_TABLES;
    const names = layers.flatMap(linearNamesOf);
    let done = 0;
    /** One matrix at its planned precision: clustered (GPTQ-assigned with a Hessian), or kept float. */
    const quantizeOne = async (name: string, w: Float32Array, fisher: Float32Array | null, rows: number, cols: number, hessian?: Float64Array): Promise<TensorRecord> => {
      const bits = plan.of.get(name)!;
      opts.onProgress?.(done, names.length, name);
      // kept float by the layer-bits spec: no clustering, no sparse part
      if (typeof bits !== 'number') return denseRecord(name, [rows, cols], w, bits);
      const threshold = outliers?.tensors[name]?.threshold;
      if (outliers && threshold === undefined) throw new FormatError(`${opts.outlierConfig} has no threshold for ${name} (made for another model?)`);
      const r = await quantizeMatrix(name, w, fisher, rows, cols, {
        bits: bits as 3 | 4,
        lutType: opts.lutType,
        ...tables,
        outlierThreshold: threshold,
        sensitivity: opts.sensitivity,
        hessian,
        threads: opts.threads,
        seed: opts.seed,
      });
      total.outliers += r.outliers;
      total.sensitive += r.sensitive;
      total.nnz += r.nnz;
      total.numel += rows * cols;
      return r.record;
    };
    if (opts.gptq) {
      if (opts.layers) throw new UsageError('--gptq quantizes the layers in order through the model: it takes no --layers');
      await nuqSequential(opts.gptq, m.config, out, fisherSrc, async (name, w, fisher, rows, cols, h) => {
        const rec = await quantizeOne(name, w, fisher, rows, cols, h);
        opts.onProgress?.(++done, names.length, name);
        return rec;
      });
    } else {
      for (const i of layers) {
        const weights = await readLayer(weightsDir, i);
        const fisher = fisherSrc ? await fisherSrc.layer(i) : undefined;
        const recs: TensorRecord[] = [];
        for (const name of linearNamesOf(i)) {
          const rec = weights.get(name)!;
          recs.push(await quantizeOne(name, f32Of(rec, weightsDir), fisher?.get(name) ?? null, rec.shape[0], rec.shape[1]));
          opts.onProgress?.(++done, names.length, name);
        }
        await writeLayer(out, 'lut', m.config, i, recs);
      }
    }
    await writeManifest(out, {
      kind: 'lut',
      config: m.config,
      source: {
        bits: opts.bits,
        weighted: Boolean(opts.gradient),
        sensitivity: opts.sensitivity ?? 0,
        outlierPercent: outliers?.percent ?? 0,
        sparsePercent: total.numel ? (100 * total.nnz) / total.numel : 0,
        layerBits: plan.spec,
        lutType: opts.lutType ?? 'f16',
        tables,
        gptq: Boolean(opts.gptq),
      },
      layers,
    });
    return total;
  } finally {
    await fisherSrc?.close();
  }
}

/** Where GPTQ's Hessians come from: the checkpoint, run on calibration sequences. */
export interface GptqCalibration {
  checkpoint: string;
  calib: string;
  samples: number;
  seqLen: number;
  tokenizer?: string;
}

type MatrixQuantizer = (name: string, w: Float32Array, fisher: Float32Array | null, rows: number, cols: number, h: Float64Array) => Promise<TensorRecord>;

/**
 * The nuq step in GPTQ's sequential order (tools/baselines quantizeSequentially): every block's
 * matrices quantized with the Hessians of their inputs through the model quantized so far; each
 * layer's records written to the LUT folder once its seven matrices are done.
 */
async function nuqSequential(g: GptqCalibration, config: ModelConfig, out: string, fisherSrc: FisherSource | undefined, one: MatrixQuantizer): Promise<void> {
  await withCheckpoint(g.checkpoint, { tokenizer: g.tokenizer }, async (ckpt) => {
    assertSameModel(config, ckpt.config, `checkpoint ${g.checkpoint}`);
    if (!ckpt.tokenizer) throw new UsageError(`${ckpt.source}: a tokenizer is needed to read the calibration text (--tokenizer)`);
    const tok = createTokenizer(ckpt.tokenizer);
    const sequences = calibrationSequences(await calibrationTokens(g.calib, tok), g.samples, Math.min(g.seqLen, ckpt.config.maxSeqLen), tok.bos!);
    const weights = new Map<string, Float32Array>();
    for await (const rec of checkpointRecords(ckpt)) weights.set(rec.name, f32Of(rec, ckpt.source));
    const lg = new LlamaGrad(ckpt.config, weights);
    let fisherLayer = -1;
    let fisher: Map<string, Float32Array> | undefined;
    const records = new Map<string, TensorRecord>();
    await quantizeSequentially(ckpt.config, lg, weights, sequences, async (name, w, rows, cols, h) => {
      const layer = Number(/^layers\.(\d+)\./.exec(name)![1]);
      if (fisherSrc && layer !== fisherLayer) {
        fisher = await fisherSrc.layer(layer);
        fisherLayer = layer;
      }
      const rec = await one(name, w, fisher?.get(name) ?? null, rows, cols, h);
      // a layer is complete after its last matrix (mlp.down, the last stage)
      if (name.endsWith('.mlp.down')) await writeLayer(out, 'lut', config, layer, linearNamesOf(layer).map((n) => (n === name ? rec : records.get(n)!)));
      return rec;
    }, records, () => {});
  });
}

// ---- tune ------------------------------------------------------------------------------------

export interface TuneStepOptions {
  /** Calibration text (the same as the other steps'), sequences and their length. */
  calib: string;
  samples: number;
  seqLen: number;
  tokenizer?: string;
  /** Passes over the calibration sequences, `batch` per Adam step (tune.ts). */
  epochs: number;
  batch?: number;
  /** Adam's step size relative to each parameter group's RMS (default TUNE_LR). */
  lr?: number;
  onProgress?: OnProgress;
}

/**
 * Fine-tunes the tables, row scales and sparse values of a LUT folder in place against the
 * checkpoint's f32 outputs (KL, tune.ts); the indices stay. Returns the calibration KL before and after.
 */
export async function tuneStep(source: string, lutDir: string, opts: TuneStepOptions): Promise<{ klBefore: number; klAfter: number }> {
  const m = await readManifest(lutDir, 'lut');
  return withCheckpoint(source, { tokenizer: opts.tokenizer }, async (ckpt) => {
    assertSameModel(ckpt.config, m.config, `LUT folder ${lutDir}`);
    if (!ckpt.tokenizer) throw new UsageError(`${ckpt.source}: a tokenizer is needed to read the calibration text (--tokenizer)`);
    const missing = range(ckpt.config.nLayers).filter((i) => !m.layers.includes(i));
    if (missing.length) throw new FormatError(`${lutDir} lacks layers ${missing.join(', ')}; tuning needs every layer quantized`);
    const tok = createTokenizer(ckpt.tokenizer);
    const sequences = calibrationSequences(await calibrationTokens(opts.calib, tok), opts.samples, Math.min(opts.seqLen, ckpt.config.maxSeqLen), tok.bos!);
    const teacher = new Map<string, Float32Array>();
    for await (const rec of checkpointRecords(ckpt)) teacher.set(rec.name, f32Of(rec, ckpt.source));
    const records = new Map<string, TensorRecord>();
    for (const i of m.layers) for (const [name, rec] of await readLayer(lutDir, i)) records.set(name, rec);
    const r = await tuneTables(ckpt.config, teacher, records, sequences, {
      epochs: opts.epochs,
      batch: opts.batch,
      lr: opts.lr,
      onProgress: (d, t) => opts.onProgress?.(d, t, 'steps'),
    });
    for (const i of m.layers) await writeLayer(lutDir, 'lut', m.config, i, linearNamesOf(i).map((n) => r.records.get(n) ?? records.get(n)!));
    await writeManifest(lutDir, { ...m, source: { ...m.source, tuned: { epochs: opts.epochs, batch: opts.batch ?? 4, lr: opts.lr ?? null, klBefore: r.klBefore, klAfter: r.klAfter } } });
    return { klBefore: r.klBefore, klAfter: r.klAfter };
  });
}

// ---- allocate (--target-bpw) ------------------------------------------------------------------

export interface AllocateOptions {
  /** Average bits per weight to stay within. */
  target: number;
  gradient?: string;
  outlierConfig?: string;
  sensitivity?: number;
  lutType?: LutType;
  tables?: TableLayout;
  threads?: number;
  seed?: number;
  onProgress?: OnProgress;
}

/**
 * Chooses 3 or 4 bits per linear matrix for an average of at most `target` bits per weight
 * (allocate.ts): each matrix is clustered at both widths as nuq would (nearest assignment), its
 * Fisher-weighted error and stored bytes measured. Returns the --layer-bits spec (null: all 3-bit)
 * and the average it reaches.
 */
export async function allocateStep(weightsDir: string, opts: AllocateOptions): Promise<{ spec: string | null; avgBits: number }> {
  const m = await readManifest(weightsDir, 'weights');
  const outliers = opts.outlierConfig ? await readOutlierConfig(opts.outlierConfig) : undefined;
  const fisherSrc = opts.gradient ? await openFisher(opts.gradient) : undefined;
  try {
    const costs: BitCosts[] = [];
    const total = m.layers.length * LINEAR_LAYERS.length;
    for (const i of m.layers) {
      const weights = await readLayer(weightsDir, i);
      const fisher = fisherSrc ? await fisherSrc.layer(i) : undefined;
      for (const name of linearNamesOf(i)) {
        opts.onProgress?.(costs.length, total, name);
        const rec = weights.get(name)!;
        const w = f32Of(rec, weightsDir);
        const f = fisher?.get(name) ?? null;
        const [rows, cols] = rec.shape;
        const at = async (bits: 3 | 4) => {
          const r = await quantizeMatrix(name, w, f, rows, cols, { bits, lutType: opts.lutType, ...(opts.tables ?? DEFAULT_TABLES), outlierThreshold: outliers?.tensors[name]?.threshold, sensitivity: f ? opts.sensitivity : undefined, threads: opts.threads, seed: opts.seed });
          const d = dequantize(r.record);
          let err = 0;
          for (let j = 0; j < d.length; j++) err += (f ? f[j] : 1) * (w[j] - d[j]) ** 2;
          return { bytes: payloadBytes(r.record), err };
        };
        const [q3, q4] = [await at(3), await at(4)];
        costs.push({ name, weights: rows * cols, bytes3: q3.bytes, bytes4: q4.bytes, err3: q3.err, err4: q4.err });
      }
    }
    const a = allocateBits(costs, opts.target);
    return { spec: a.four.size ? allocationSpec(a) : null, avgBits: a.avgBits };
  } finally {
    await fisherSrc?.close();
  }
}

// ---- pack ------------------------------------------------------------------------------------

export interface PackOptions {
  /** Bits per weight index: 3 or 4, as the lookup-table folder was made. */
  bits: 3 | 4;
  /** tokenizer.bin (llama2.c) or tokenizer.json for a checkpoint without its own. */
  tokenizer?: string;
  /** Keep the sparse part (outliers and sensitive values); without it only the dense tables are packed. */
  includeSparse?: boolean;
  /** Record a row split per matrix with about equal work over this many workers. */
  balance?: number;
  /** Threads and seed of the k-means for embed and head when the folder's layer-bits spec quantizes them. */
  threads?: number;
  /** Seed of that k-means (default 0). */
  seed?: number;
  /** Extra facts for the header's quantization summary (calibration, timings). */
  summary?: Record<string, unknown>;
  /** Called as tensors are written. */
  onProgress?: OnProgress;
}

export interface PackResult {
  bytes: number;
  /** Bits per weight of the quantized matrices (linear layers, and embed/head when the spec names them): indices, tables and sparse part, counted from the records. */
  avgBits: number;
}

/** SqueezeLLM's precision plan: 3 or 4 bits, or a float kind, per matrix. */
function squeezePlan(c: ModelConfig, bits: 3 | 4, layerBits: string | null | undefined): PrecisionPlan {
  return planPrecision(c, bits, layerBits ?? undefined, 'squeezellm', [3, 4]);
}

/** The checkpoint's tensors with its linear layers replaced by the LUT folder's: one .sqz. */
export async function packStep(source: string, lutDir: string, out: string, opts: PackOptions): Promise<PackResult> {
  const m = await readManifest(lutDir, 'lut');
  if (m.source.bits !== opts.bits) throw new UsageError(`${lutDir} holds ${m.source.bits}-bit tables, not ${opts.bits}-bit (--bits)`);
  return withCheckpoint(source, { tokenizer: opts.tokenizer }, async (ckpt) => {
    assertSameModel(ckpt.config, m.config, `LUT folder ${lutDir}`);
    const missing = range(ckpt.config.nLayers).filter((i) => !m.layers.includes(i));
    if (missing.length) throw new FormatError(`${lutDir} lacks layers ${missing.join(', ')} (nuq was run with --layers); quantize every layer before packing`);
    const layerBits = (m.source.layerBits as string | null | undefined) ?? null;
    const plan = squeezePlan(ckpt.config, opts.bits, layerBits);
    const quant = {
      method: 'squeezellm',
      bits: opts.bits,
      weighted: m.source.weighted,
      sensitivity: m.source.sensitivity,
      outlierPercent: m.source.outlierPercent,
      sparsePercent: opts.includeSparse ? m.source.sparsePercent : 0,
      tables: tableLayoutOf(m.source),
      gptq: Boolean(m.source.gptq),
      ...(layerBits !== null ? { layerBits } : {}),
      ...opts.summary,
    };
    const w = await SqzWriter.create(out, { config: ckpt.config, tokenizer: ckpt.tokenizer ?? null, quant });
    try {
      let qBytes = 0;
      let qWeights = 0;
      let layer = -1;
      let luts = new Map<string, TensorRecord>();
      const names = ckpt.names();
      for (let n = 0; n < names.length; n++) {
        const name = names[n];
        const shape = ckpt.shape(name);
        const li = /^layers\.(\d+)\.(attn|mlp)\./.exec(name);
        const p = plan.of.get(name);
        let rec: TensorRecord;
        if (li) {
          if (Number(li[1]) !== layer) {
            layer = Number(li[1]);
            luts = await readLayer(lutDir, layer);
          }
          rec = luts.get(name)!;
          const lutKind = rec.kind === 'nuq' || rec.kind === 'nuq-shared';
          if (typeof p === 'number' ? !lutKind : rec.kind !== p) throw new FormatError(`${lutDir}: ${name} is ${rec.kind}, but its layer-bits say ${typeof p === 'number' ? 'nuq' : p}`);
          if ((rec.kind === 'nuq' || rec.kind === 'nuq-shared') && !opts.includeSparse && rec.sparse) rec = { ...rec, sparse: undefined };
        } else if (typeof p === 'number') {
          // embed or head quantized by the spec: unweighted k-means (Fisher covers the linear layers only)
          const [rows, cols] = shape;
          const lutType = (m.source.lutType as LutType | undefined) ?? 'f32';
          const tables = tableLayoutOf(m.source);
          rec = (await quantizeMatrix(name, await ckpt.read(name), null, rows, cols, { bits: p as 3 | 4, lutType, ...tables, threads: opts.threads, seed: opts.seed })).record;
        } else {
          rec = denseRecord(name, shape, await ckpt.read(name), p ?? 'f32');
        }
        if (p !== undefined) {
          qBytes += payloadBytes(rec);
          qWeights += shape[0] * shape[1];
        }
        // the split is counted as layout, not weights: added after the byte count
        if ((rec.kind === 'nuq' || rec.kind === 'nuq-shared') && opts.balance && opts.balance > 1) rec = { ...rec, rowSplit: balancedRowSplit(rec, opts.balance) };
        await w.add(rec);
        opts.onProgress?.(n + 1, names.length, name);
      }
      const avgBits = (8 * qBytes) / qWeights;
      w.setQuant({ ...quant, avgBitsPerWeight: avgBits });
      const res = await w.finish();
      return { bytes: res.bytes, avgBits };
    } catch (e) {
      await w.abort();
      throw e;
    }
  });
}

// ---- quantize: everything in one go ---------------------------------------------------------

export interface QuantizeOptions {
  /** Bits per weight index: 3 or 4 (the default under layerBits). */
  bits: 3 | 4;
  /** Calibration text; absent = unweighted clustering and no sensitive values. */
  calib?: string;
  /** Calibration sequences (default 100). */
  samples?: number;
  /** Tokens per calibration sequence, BOS first, at most the model's context (default 256). */
  seqLen?: number;
  /** The Fisher information's next tokens: the text's (default) or drawn from the model (gradientsStep). */
  fisherLabels?: FisherLabels;
  /** Outliers by the interquartile rule with range R: |w| >= max(|q1 - R(q3-q1)|, |q3 + R(q3-q1)|); not with outlierPercent. */
  outlierRange?: number;
  /** Or: about this percent of each matrix are outliers, kept in the sparse part. */
  outlierPercent?: number;
  /** Percent of each matrix's largest Fisher scores kept sparse as sensitive values, e.g. 0.05 (needs calib). */
  sensitivity?: number;
  /** Mixed precision (tools/precision.ts); bits is the default. */
  layerBits?: string;
  /** 3 or 4 bits per linear matrix, chosen by sensitivity for at most this average (allocateStep); bits must be 3, no layerBits. */
  targetBpw?: number;
  /** How lookup tables are stored (default f16). */
  lutType?: LutType;
  /** How lookup tables are laid out (default DEFAULT_TABLES). */
  tables?: TableLayout;
  /** Assign weights to the tables by GPTQ's error feedback, with Hessians from `calib` (default: whenever there is calibration text). */
  gptq?: boolean;
  /** Passes of fine-tuning the tables against the f32 model's outputs (tuneStep; default TUNE_EPOCHS with calibration text, 0: none). */
  tuneEpochs?: number;
  /** Their step size (default TUNE_LR). */
  tuneLr?: number;
  /** tokenizer.bin (llama2.c) or tokenizer.json for a checkpoint without its own. */
  tokenizer?: string;
  /** Record in each matrix a row split with about equal work for this many workers. */
  balance?: number;
  /** Worker threads for the backward passes and the k-means (the result does not depend on it). */
  threads?: number;
  /** Seed of every random choice (default 0). */
  seed?: number;
  /** Keep the intermediate folders here instead of a temporary folder. */
  workDir?: string;
  /** Called as each step starts: 'gradients', 'chunk', 'outliers', 'allocate', 'nuq', 'tune', 'pack'. */
  onStep?: (step: string) => void;
  /** Called with each step's progress. */
  onProgress?: OnProgress;
}

export interface QuantizeResult extends PackResult {
  /** Seconds per step. */
  seconds: Record<string, number>;
}

export async function quantize(source: string, out: string, opts: QuantizeOptions): Promise<QuantizeResult> {
  if (opts.outlierRange !== undefined && opts.outlierPercent !== undefined) throw new UsageError('give --outlier-range or --outlier-percent, not both');
  if (opts.gptq && !opts.calib) throw new UsageError('GPTQ assignment needs calibration text (--calib FILE) for its Hessians');
  const gptq = opts.gptq ?? Boolean(opts.calib);
  if (opts.targetBpw !== undefined && (opts.layerBits !== undefined || opts.bits !== 3)) throw new UsageError('--target-bpw chooses 3 or 4 bits per matrix itself: give it with --bits 3 and without --layer-bits');
  checkOutputFile(out); // before the long steps, not after them
  const work = opts.workDir ?? mkdtempSync(tempDirPrefix(dirname(resolve(out)), 'quantize'));
  if (!opts.workDir) trackTemp(work);
  const seconds: Record<string, number> = {};
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    opts.onStep?.(step);
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      seconds[step] = (performance.now() - t0) / 1000;
    }
  };
  try {
    const gradDir = join(work, 'fisher');
    const weightsDir = join(work, 'weights');
    const lutDir = join(work, 'lut');
    const calib = opts.calib;
    if (calib) {
      await timed('gradients', () =>
        gradientsStep(source, gradDir, { calib, samples: opts.samples ?? 100, seqLen: opts.seqLen ?? 256, tokenizer: opts.tokenizer, threads: opts.threads, labels: opts.fisherLabels, seed: opts.seed, onProgress: opts.onProgress }),
      );
    }
    await timed('chunk', () => chunkStep(source, weightsDir, { tokenizer: opts.tokenizer, onProgress: opts.onProgress }));
    let outlierConfig: string | undefined;
    if (opts.outlierRange !== undefined || opts.outlierPercent) {
      const rule: OutlierRule = opts.outlierRange !== undefined ? { range: opts.outlierRange } : { percent: opts.outlierPercent! };
      outlierConfig = await timed('outliers', () => outliersStep(weightsDir, work, rule, opts.onProgress));
    }
    let layerBits = opts.layerBits;
    const target = opts.targetBpw;
    if (target !== undefined) {
      const tables = opts.tables;
      const a = await timed('allocate', () =>
        allocateStep(weightsDir, { target, gradient: calib ? gradDir : undefined, outlierConfig, sensitivity: calib ? opts.sensitivity : undefined, lutType: opts.lutType, tables, threads: opts.threads, seed: opts.seed, onProgress: opts.onProgress }),
      );
      layerBits = a.spec ?? undefined;
    }
    const sparse = await timed('nuq', () =>
      nuqStep(weightsDir, lutDir, {
        bits: opts.bits,
        gradient: calib ? gradDir : undefined,
        outlierConfig,
        sensitivity: calib ? opts.sensitivity : undefined,
        layerBits,
        lutType: opts.lutType,
        tables: opts.tables,
        gptq: gptq && calib ? { checkpoint: source, calib, samples: opts.samples ?? 100, seqLen: opts.seqLen ?? 256, tokenizer: opts.tokenizer } : undefined,
        threads: opts.threads,
        seed: opts.seed,
        onProgress: opts.onProgress,
      }),
    );
    const tuneEpochs = opts.tuneEpochs ?? (calib ? TUNE_EPOCHS : 0);
    let tuned: { klBefore: number; klAfter: number } | undefined;
    if (tuneEpochs > 0) {
      if (!calib) throw new UsageError('tuning the tables needs calibration text (--calib FILE)');
      tuned = await timed('tune', () =>
        tuneStep(source, lutDir, { calib, samples: opts.samples ?? 100, seqLen: opts.seqLen ?? 256, tokenizer: opts.tokenizer, epochs: tuneEpochs, lr: opts.tuneLr, onProgress: opts.onProgress }),
      );
    }
    const packed = await timed('pack', () =>
      packStep(source, lutDir, out, {
        bits: opts.bits,
        tokenizer: opts.tokenizer,
        includeSparse: sparse.nnz > 0,
        balance: opts.balance,
        threads: opts.threads,
        seed: opts.seed,
        summary: {
          calibration: calib ? { file: calib, samples: opts.samples ?? 100, seqLen: opts.seqLen ?? 256, ...(opts.fisherLabels === 'model' ? { fisherLabels: 'model' } : {}) } : null,
          ...(target !== undefined ? { targetBpw: target } : {}),
          ...(tuned ? { tuned: { epochs: tuneEpochs, ...tuned } } : {}),
        },
        onProgress: opts.onProgress,
      }),
    );
    return { ...packed, seconds };
  } finally {
    if (!opts.workDir) {
      rmSync(work, { recursive: true, force: true });
      untrackTemp(work);
    }
  }
}

// ---- helpers ---------------------------------------------------------------------------------

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export type { LayerManifest };
