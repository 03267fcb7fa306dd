// Seeded synthetic Llama models for tests and for the demo when no real checkpoint can be had.
// Weights are heavy-tailed like trained ones (a mix of two normals) with a few outlier input
// channels scaled up, so quantizers meet the structure SqueezeLLM is built for.
import type { TensorRecord } from '../src/format/kinds.ts';
import { type ModelConfig, tensorShapes } from '../src/model/config.ts';
import type { TokenizerSpec } from '../src/tokenizer/spec.ts';
import { Rng } from '../src/util/random.ts';
import { writeSqz } from '../src/format/writer.ts';

export interface SyntheticOptions extends Partial<ModelConfig> {
  /** Seed of every weight (default 1): the same options give the same model. */
  seed?: number;
  /** Share of input channels per matrix that are outliers (scaled by 8). Default 0.01. */
  outlierChannels?: number;
}

export interface SyntheticModel {
  config: ModelConfig;
  tokenizer: TokenizerSpec;
  records: TensorRecord[];
}

/** A llama2.c-style tokenizer: <unk>, <s>, </s>, the 256 byte tokens, then printable pieces. */
export function syntheticTokenizer(vocabSize: number): TokenizerSpec {
  if (vocabSize < 259) throw new RangeError(`a synthetic tokenizer needs at least 259 tokens, got ${vocabSize}`);
  const pieces = ['<unk>', '<s>', '</s>'];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
  }
  const chars = ' etaoinshrdlucmfwypvbgkjqxz.,ETAOINSHRDLUCMFWYPVBGKJQXZ!?\'"';
  for (const ch of chars) {
    if (pieces.length >= vocabSize) break;
    pieces.push(ch);
    scores.push(-pieces.length);
  }
  for (let i = 0; pieces.length < vocabSize; i++) {
    const piece = chars[i % 27] + chars[Math.floor(i / 27) % 27];
    if (pieces.includes(piece)) {
      pieces.push(`<extra_${i}>`);
    } else pieces.push(piece);
    scores.push(-pieces.length);
  }
  return { kind: 'llama2c', pieces, scores, bos: 1, eos: 2 };
}

/** The config a SyntheticOptions describes (small test-sized defaults). */
export function syntheticConfig(opts: SyntheticOptions = {}): ModelConfig {
  return {
    arch: 'llama',
    dim: opts.dim ?? 64,
    hiddenDim: opts.hiddenDim ?? 172,
    nLayers: opts.nLayers ?? 2,
    nHeads: opts.nHeads ?? 8,
    nKvHeads: opts.nKvHeads ?? 4,
    vocabSize: opts.vocabSize ?? 320,
    maxSeqLen: opts.maxSeqLen ?? 128,
    ropeTheta: opts.ropeTheta ?? 10000,
    normEps: opts.normEps ?? 1e-5,
    tiedEmbeddings: opts.tiedEmbeddings ?? true,
    rope: opts.rope ?? 'interleaved',
    ...familyFields(opts),
  };
}

const FAMILY_KEYS = ['qkvBias', 'oBias', 'normKind', 'normOffset', 'activation', 'gated', 'ropeScaling', 'embedScale', 'logitSoftcap', 'slidingWindow', 'slidingWindowPattern', 'attnSoftcap', 'postNorms', 'mlpBias', 'normBias', 'positions'] as const;

/** The family fields (config.ts) the options set; absent ones stay absent (Llama 2's defaults). */
function familyFields(opts: SyntheticOptions): Partial<ModelConfig> {
  return Object.fromEntries(FAMILY_KEYS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]));
}

/**
 * The tensors of a synthetic model, made one at a time in file order from one seeded generator, so
 * a large model (the 134M benchmark model is 537 MB in f32) never sits in memory whole.
 */
export function* syntheticRecords(config: ModelConfig, opts: SyntheticOptions = {}): Generator<TensorRecord> {
  const rng = new Rng(opts.seed ?? 1);
  const outlierShare = opts.outlierChannels ?? 0.01;
  for (const [name, shape] of tensorShapes(config)) {
    if (shape.length === 1) {
      // norm weights near 1 (near 0 where the config adds 1 to them), biases spread around 0
      const centre = name.endsWith('_bias') ? 0 : 1 - (config.normOffset ?? 0);
      const spread = name.endsWith('_bias') ? 0.5 : 0.1;
      const data = new Float32Array(shape[0]);
      for (let i = 0; i < data.length; i++) data[i] = centre + spread * rng.normal();
      yield { name, kind: 'f32', shape, data };
      continue;
    }
    const [rows, cols] = shape;
    const scale = name === 'embed' || name === 'head' ? 1 : 1 / Math.sqrt(cols);
    const channelScale = new Float32Array(cols).fill(1);
    for (let c = 0; c < cols; c++) if (rng.next() < outlierShare) channelScale[c] = 8;
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) {
      // heavy tails: 5% of the weights come from a normal three times wider
      const tail = rng.next() < 0.05 ? 3 : 1;
      data[i] = rng.normal() * tail * scale * channelScale[i % cols];
    }
    // Byte and special tokens get small embedding/head rows, so a random model's greedy text is
    // made of the printable pieces rather than invalid UTF-8 bytes.
    if (name === 'embed' || name === 'head') data.subarray(0, Math.min(259, rows) * cols).forEach((v, i, a) => (a[i] = v * 0.2));
    yield { name, kind: 'f32', shape, data };
  }
}

export function syntheticModel(opts: SyntheticOptions = {}): SyntheticModel {
  const config = syntheticConfig(opts);
  return { config, tokenizer: syntheticTokenizer(config.vocabSize), records: [...syntheticRecords(config, opts)] };
}

export interface WriteSyntheticOptions extends SyntheticOptions {
  /** A tokenizer to store instead of the synthetic one (its size must be the vocabulary's). */
  tokenizer?: TokenizerSpec;
  /** Called after each tensor is written. */
  onTensor?: (done: number, total: number) => void;
}

/**
 * Writes a synthetic model as a dense f32 .sqz, which every toolchain command accepts as a
 * checkpoint, streaming: memory peaks at one tensor. Returns its config.
 */
export async function writeSyntheticModel(path: string, opts: WriteSyntheticOptions = {}): Promise<ModelConfig> {
  const config = syntheticConfig(opts);
  const tokenizer = opts.tokenizer ?? syntheticTokenizer(config.vocabSize);
  const total = tensorShapes(config).size;
  async function* counted(): AsyncGenerator<TensorRecord> {
    let done = 0;
    for (const rec of syntheticRecords(config, opts)) {
      yield rec;
      opts.onTensor?.(++done, total);
    }
  }
  await writeSqz(path, { config, tokenizer, quant: { method: 'f32', source: `synthetic seed ${opts.seed ?? 1}` } }, counted());
  return config;
}
