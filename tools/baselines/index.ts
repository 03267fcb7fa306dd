// The baselines at model level: a checkpoint quantized by RTN, GPTQ or AWQ into a .sqz whose seven
// linear layers per block are `uniform` records and everything else f32 (docs/BASELINES.md).
//
//   rtn:  every matrix on its own, no calibration.
//   gptq: block by block, in the order q/k/v, o, gate/up, down (the reference's "true sequential"):
//         each stage's Hessian comes from a forward pass of the calibration sequences through the
//         model as quantized so far, so later layers see the quantized earlier layers' outputs.
//   awq:  block by block, the scales searched on the float model's inputs of that block (the
//         folding keeps the float function, as in llm-awq), folded into the norms and the rows of
//         v and up, then the folded matrices group-quantized.
import type { TensorRecord } from '../../src/format/kinds.ts';
import { dequantize, payloadBytes } from '../../src/format/kinds.ts';
import type { QuantSummary } from '../../src/format/sqz.ts';
import { checkOutputFile } from '../../src/format/outpath.ts';
import { SqzWriter } from '../../src/format/writer.ts';
import { LINEAR_LAYERS, type ModelConfig } from '../../src/model/config.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { UsageError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../checkpoint/index.ts';
import type { Checkpoint } from '../checkpoint/types.ts';
import { LlamaGrad, type WeightMap } from '../fisher/backward.ts';
import { calibrationSequences } from '../fisher/fisher.ts';
import { denseRecord } from '../convert.ts';
import { type PrecisionPlan, planPrecision } from '../precision.ts';
import { calibrationTokens, type OnProgress } from '../squeezellm/steps.ts';
import { awqBlock, type BlockInputStats, type BlockWeights } from './awq.ts';
import { gptqQuantize, InputStats } from './gptq.ts';
import { checkUniformOptions, rtnAtPrecision, type UniformBits, type UniformOptions } from './rtn.ts';

export type BaselineMethod = 'rtn' | 'gptq' | 'awq';
export const BASELINE_METHODS: readonly BaselineMethod[] = ['rtn', 'gptq', 'awq'];

export interface BaselineOptions extends UniformOptions {
  /** 'rtn' (round to nearest, no calibration), 'gptq' or 'awq' (both need calib). */
  method: BaselineMethod;
  /** Calibration text (needed by gptq and awq; documents split on <|endoftext|> lines). */
  calib?: string;
  /** tokenizer.bin / tokenizer.json for a checkpoint without its own. */
  tokenizer?: string;
  /** Calibration sequences (default 100). */
  samples?: number;
  /** Tokens per calibration sequence, BOS included (default 256, at most the model's context). */
  seqLen?: number;
  /** GPTQ: columns by descending Hessian diagonal. */
  actOrder?: boolean;
  /** GPTQ: every group's parameters from the original weights up front. */
  staticGroups?: boolean;
  /** GPTQ: diagonal damping as a share of mean(diag H) (default 0.01). */
  damp?: number;
  /** GPTQ: lazy-update block size (default 128). */
  blockSize?: number;
  /** AWQ: alpha grid 0, 1/grid, ..., 1 (default 20). */
  grid?: number;
  /** Mixed precision, e.g. "embed=f16,layers.0=8,layers.*.mlp=3" (tools/precision.ts); bits is the default. */
  layerBits?: string;
  /** Recorded in the header; nothing in these methods draws random numbers (calibration windows are consecutive). */
  seed?: number;
  /** Called as matrices (or calibration sequences) are done. */
  onProgress?: OnProgress;
}

export interface BaselineResult {
  bytes: number;
  /** Bits per weight of the quantized matrices (the linear layers and any the layer-bits spec names): everything stored for them, counted from the records. */
  avgBits: number;
  seconds: number;
  /** Calibration sequences used (0 for rtn). */
  sequences: number;
  /** Things the user may want to know (skipped AWQ folds). */
  notes: string[];
  /** AWQ: the chosen alpha per block and input: [qkv, o (NaN when skipped), gate/up, down]. */
  awqAlphas?: number[][];
  /** GPTQ: the loss per quantized matrix. */
  gptqLoss?: Record<string, number>;
}

const INPUT_OF: Record<(typeof LINEAR_LAYERS)[number], 'attn' | 'attnOut' | 'mlp' | 'mlpHidden'> = {
  'attn.q': 'attn',
  'attn.k': 'attn',
  'attn.v': 'attn',
  'attn.o': 'attnOut',
  'mlp.gate': 'mlp',
  'mlp.up': 'mlp',
  'mlp.down': 'mlpHidden',
};

/** GPTQ's stages within a block: layers quantized together (they read the same input). */
const GPTQ_STAGES: (typeof LINEAR_LAYERS)[number][][] = [['attn.q', 'attn.k', 'attn.v'], ['attn.o'], ['mlp.gate', 'mlp.up'], ['mlp.down']];

function checkOptions(o: BaselineOptions): void {
  if (!BASELINE_METHODS.includes(o.method)) throw new UsageError(`unknown baseline method '${o.method}' (rtn, gptq or awq)`);
  checkUniformOptions(o);
  if (o.method !== 'rtn' && !o.calib) throw new UsageError(`${o.method} needs calibration text (calib)`);
  for (const k of ['samples', 'seqLen'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isInteger(v) || v < (k === 'seqLen' ? 2 : 1))) throw new UsageError(`${k} must be an integer >= ${k === 'seqLen' ? 2 : 1}, got ${v}`);
  }
}

async function readSequences(ckpt: Checkpoint, opts: BaselineOptions): Promise<number[][]> {
  if (!ckpt.tokenizer) throw new UsageError(`${ckpt.source}: a tokenizer is needed to read the calibration text (tokenizer option)`);
  const tok = createTokenizer(ckpt.tokenizer);
  const ids = await calibrationTokens(opts.calib!, tok);
  const seqLen = Math.min(opts.seqLen ?? 256, ckpt.config.maxSeqLen);
  return calibrationSequences(ids, opts.samples ?? 100, seqLen, tok.bos!);
}

function blockWeights(weights: WeightMap, l: number): BlockWeights {
  const g = (n: string) => weights.get(`layers.${l}.${n}`)!;
  return {
    attnNorm: g('attn_norm'),
    q: g('attn.q'),
    k: g('attn.k'),
    v: g('attn.v'),
    o: g('attn.o'),
    mlpNorm: g('mlp_norm'),
    gate: g('mlp.gate'),
    up: g('mlp.up'),
    down: g('mlp.down'),
  };
}

/** The .sqz header's quantization summary (avgBitsPerWeight added when known). */
function summary(opts: BaselineOptions, plan: PrecisionPlan, source: string, sequences: number, seqLen: number | null): QuantSummary {
  const q: QuantSummary = {
    method: opts.method,
    bits: opts.bits,
    // a matrix narrower than the group size has one group per row (its record says so)
    groupSize: opts.groupSize ? opts.groupSize : 'row',
    sym: opts.sym ?? false,
    source,
  };
  if (opts.method === 'gptq') Object.assign(q, { actOrder: opts.actOrder ?? false, staticGroups: opts.staticGroups ?? false, damp: opts.damp ?? 0.01, blockSize: opts.blockSize ?? 128 });
  if (opts.method === 'awq') q.grid = opts.grid ?? 20;
  q.calibration = opts.method === 'rtn' ? null : { file: opts.calib, samples: sequences, seqLen };
  if (plan.spec !== null) q.layerBits = plan.spec;
  if (opts.seed !== undefined) q.seed = opts.seed;
  return q;
}

/** Quantizes a checkpoint (any format openCheckpoint reads) with a baseline method and writes `out`. */
export async function quantizeBaseline(checkpoint: string, out: string, opts: BaselineOptions): Promise<BaselineResult> {
  checkOptions(opts);
  checkOutputFile(out); // before the long work, not after it
  const t0 = performance.now();
  const ckpt = await openCheckpoint(checkpoint, { tokenizer: opts.tokenizer });
  try {
    const c = ckpt.config;
    const names = ckpt.names();
    const plan = planPrecision(c, opts.bits, opts.layerBits, opts.method, [3, 4, 8]);
    let done = 0;
    const progress = (name: string) => opts.onProgress?.(++done, plan.of.size, name);
    const notes: string[] = [];
    const result: Partial<BaselineResult> = {};

    // stored records by name (the plan's matrices), and float tensors that replace the checkpoint's (AWQ's norms)
    const quantized = new Map<string, TensorRecord>();
    const replaced = new Map<string, Float32Array>();
    let sequences: number[][] = [];

    if (opts.method !== 'rtn') {
      sequences = await readSequences(ckpt, opts);
      const weights: WeightMap = new Map();
      for (const name of names) weights.set(name, await ckpt.read(name));
      const lg = new LlamaGrad(c, weights);
      if (opts.method === 'gptq') result.gptqLoss = await runGptq(c, lg, weights, sequences, opts, plan, quantized, progress);
      else result.awqAlphas = await runAwq(c, lg, weights, sequences, opts, plan, quantized, replaced, notes, progress);
    }
    // rtn's matrices, and embed and head when the spec names them (gptq and awq model the inputs
    // of the linear layers only, so they leave these to RTN too)
    for (const [name, p] of plan.of) {
      if (quantized.has(name)) continue;
      const [rows, cols] = ckpt.shape(name);
      quantized.set(name, rtnAtPrecision(name, await ckpt.read(name), rows, cols, p, opts));
      progress(name);
    }

    const quant = summary(opts, plan, ckpt.source, sequences.length, sequences.length ? sequences[0].length : null);
    const w = await SqzWriter.create(out, { config: c, tokenizer: ckpt.tokenizer ?? null, quant });
    try {
      let qBytes = 0;
      let qWeights = 0;
      for (const name of names) {
        const q = quantized.get(name);
        let rec: TensorRecord;
        if (q) {
          rec = q;
          qBytes += payloadBytes(q);
          qWeights += q.shape[0] * q.shape[1];
        } else rec = { name, kind: 'f32', shape: ckpt.shape(name), data: replaced.get(name) ?? (await ckpt.read(name)) };
        await w.add(rec);
      }
      const avgBits = (8 * qBytes) / qWeights;
      w.setQuant({ ...quant, avgBitsPerWeight: avgBits, ...(notes.length ? { notes } : {}) });
      const res = await w.finish();
      return { ...result, bytes: res.bytes, avgBits, seconds: (performance.now() - t0) / 1000, sequences: sequences.length, notes };
    } catch (e) {
      await w.abort();
      throw e;
    }
  } finally {
    await ckpt.close();
  }
}

/** Lets progress be drawn between long synchronous stretches. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Quantizes one matrix of a block given the Hessian of its inputs: the record to store. */
export type HessianQuantizer = (name: string, w: Float32Array, rows: number, cols: number, h: Float64Array) => TensorRecord | Promise<TensorRecord>;

/**
 * GPTQ's sequential order over a model: block by block, stage by stage (q/k/v, o, gate/up, down),
 * each stage's Hessian 2/N X^T X from the calibration sequences run through the model as quantized
 * so far, each matrix quantized by `quantizeOne` and then replaced in `weights` by what it stores,
 * so later stages and blocks see it. SqueezeLLM's GPTQ-style option (tools/squeezellm/gptq.ts)
 * runs the same loop with its own grid.
 */
export async function quantizeSequentially(
  c: ModelConfig,
  lg: LlamaGrad,
  weights: WeightMap,
  sequences: number[][],
  quantizeOne: HessianQuantizer,
  quantized: Map<string, TensorRecord>,
  progress: (name: string) => void,
): Promise<void> {
  // each sequence's input of the current block, through the blocks quantized so far
  let residual: Float32Array[] | undefined;
  for (let l = 0; l < c.nLayers; l++) {
    for (const stage of GPTQ_STAGES) {
      const input = INPUT_OF[stage[0]];
      const cols = input === 'mlpHidden' ? c.hiddenDim : c.dim;
      const st = new InputStats(cols);
      for (let s = 0; s < sequences.length; s++) {
        const x = lg.linearInputs(sequences[s], l, residual?.[s]);
        st.add(x[input], x.T);
      }
      const H = st.hessian();
      for (const layer of stage) {
        const name = `layers.${l}.${layer}`;
        const w = weights.get(name)!;
        const rec = await quantizeOne(name, w, w.length / cols, cols, H);
        quantized.set(name, rec);
        w.set(dequantize(rec));
        progress(name);
        await tick();
      }
    }
    if (l + 1 < c.nLayers) residual = sequences.map((seq, s) => lg.linearInputs(seq, l, residual?.[s]).residualOut.slice());
  }
}

async function runGptq(
  c: ModelConfig,
  lg: LlamaGrad,
  weights: WeightMap,
  sequences: number[][],
  opts: BaselineOptions,
  plan: PrecisionPlan,
  quantized: Map<string, TensorRecord>,
  progress: (name: string) => void,
): Promise<Record<string, number>> {
  const losses: Record<string, number> = {};
  const one: HessianQuantizer = (name, w, rows, cols, H) => {
    const p = plan.of.get(name)!;
    if (typeof p !== 'number') return denseRecord(name, [rows, cols], w, p);
    const r = gptqQuantize(name, w, rows, cols, H, { ...opts, bits: p as UniformBits });
    losses[name] = r.loss;
    return r.record;
  };
  await quantizeSequentially(c, lg, weights, sequences, one, quantized, progress);
  return losses;
}

async function runAwq(
  c: ModelConfig,
  lg: LlamaGrad,
  weights: WeightMap,
  sequences: number[][],
  opts: BaselineOptions,
  plan: PrecisionPlan,
  quantized: Map<string, TensorRecord>,
  replaced: Map<string, Float32Array>,
  notes: string[],
  progress: (name: string) => void,
): Promise<number[][]> {
  const alphas: number[][] = [];
  // each sequence's input of the current block, through the float blocks before it
  const residual: Float32Array[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const X: BlockInputStats = { attn: new InputStats(c.dim), attnOut: new InputStats(c.dim), mlp: new InputStats(c.dim), mlpHidden: new InputStats(c.hiddenDim) };
    for (let s = 0; s < sequences.length; s++) {
      const x = lg.linearInputs(sequences[s], l, residual[s]);
      X.attn.add(x.attn, x.T);
      X.attnOut.add(x.attnOut, x.T);
      X.mlp.add(x.mlp, x.T);
      X.mlpHidden.add(x.mlpHidden, x.T);
      residual[s] = x.residualOut.slice();
    }
    const r = awqBlock(c, l, blockWeights(weights, l), X, opts, (name) => plan.of.get(name)!);
    for (const rec of r.records) {
      quantized.set(rec.name, rec);
      progress(rec.name);
    }
    replaced.set(`layers.${l}.attn_norm`, r.folded.attnNorm);
    replaced.set(`layers.${l}.mlp_norm`, r.folded.mlpNorm);
    const s = r.scales;
    alphas.push([s.qkv.alpha, s.o ? s.o.alpha : NaN, s.gateUp.alpha, s.down.alpha]);
    if (l === 0) notes.push(...s.notes.map((n) => `${n} (every block)`));
    await tick();
  }
  return alphas;
}
