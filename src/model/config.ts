// The model description shared by every reader, the .sqz header and the forward pass.
import type { RopeStyle } from '../kernels/reference.ts';
import { type Llama3Scaling, dividedFrequencies, llama3Frequencies } from '../kernels/family.ts';
import { FormatError } from '../util/errors.ts';

export interface ModelConfig {
  arch: 'llama';
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  maxSeqLen: number;
  ropeTheta: number;
  normEps: number;
  /** The output head is the token embedding (no `head` tensor is stored). */
  tiedEmbeddings: boolean;
  /** RoPE pairing of the source checkpoint: llama2.c and GGUF pair (2i, 2i+1), Hugging Face pairs (i, i + headSize/2). */
  rope: RopeStyle;
  // What sets the families apart, as data (issue 17). Every field is optional and its default is
  // Llama 2's, so headers written before these fields existed load unchanged (resolveFamily).
  /** Biases on the q, k and v projections (Qwen2): tensors layers.{i}.attn.{q,k,v}_bias. Default false. */
  qkvBias?: boolean;
  /** A bias on the attention output projection: layers.{i}.attn.o_bias. Default false. */
  oBias?: boolean;
  /** 'rms' (RMSNorm, default) or 'layer' (LayerNorm without bias: the mean is taken out first). */
  normKind?: NormKind;
  /** Added to every norm weight before it scales (Gemma's Hugging Face weights are stored as w - 1: offset 1). Default 0. */
  normOffset?: number;
  /** The feed-forward's activation: 'silu' (default), 'gelu-tanh' (Gemma's GeGLU) or 'relu'. */
  activation?: Activation;
  /** true (default): down(act(gate x) * up x); false: down(act(up x)), no gate tensor (OPT's fc1 / fc2). */
  gated?: boolean;
  /** Biases on the feed-forward matrices (OPT): layers.{i}.mlp.{gate,up,down}_bias. Default false. */
  mlpBias?: boolean;
  /** Biases on every norm (OPT's LayerNorm): layers.{i}.{attn_norm,mlp_norm}_bias and norm_bias. Default false. */
  normBias?: boolean;
  /** 'rope' (default) or 'learned': a pos_embed [maxSeqLen, dim] row added to each token's embedding, no RoPE (OPT). */
  positions?: 'rope' | 'learned';
  /** RoPE frequency scaling (Llama 3.1/3.2's 'llama3'); absent: none. */
  ropeScaling?: RopeScaling;
  /** The token embedding is multiplied by this before the first block (Gemma: sqrt(dim)). Default 1. */
  embedScale?: number;
  /** Final logits become cap * tanh(logits / cap) (Gemma 2: 30). Default 0: none. */
  logitSoftcap?: number;
  /** Each position attends to at most this many positions, itself included (Mistral: 4096). Default 0: all. */
  slidingWindow?: number;
  /** With a sliding window, layer l is global (sees every position) when (l + 1) % this == 0 (Gemma 2: 2, odd layers global). Default 0: every layer slides. */
  slidingWindowPattern?: number;
  /** Attention scores become cap * tanh(score / cap) before the softmax (Gemma 2: 50). Default 0: none. */
  attnSoftcap?: number;
  /** A norm on each sublayer's output before the residual add (Gemma 2): tensors layers.{i}.attn_post_norm, layers.{i}.mlp_post_norm. Default false. */
  postNorms?: boolean;
}

export type NormKind = 'rms' | 'layer';
export type Activation = 'silu' | 'gelu-tanh' | 'relu';
/**
 * RoPE frequency scaling. 'llama3': wavelengths longer than originalMaxSeqLen / lowFreqFactor are
 * divided by factor, shorter than originalMaxSeqLen / highFreqFactor kept, those between blended
 * (src/kernels/family.ts llama3Frequencies). 'factors': pair i's frequency divided by divisors[i]
 * (headSize / 2 of them), as GGUF stores Llama 3's scaling (the rope_freqs tensor).
 */
export type RopeScaling = ({ kind: 'llama3' } & Llama3Scaling) | { kind: 'factors'; divisors: number[] };

/** A config's family fields with the Llama 2 defaults filled in: what the forward pass reads. */
export interface Family {
  qkvBias: boolean;
  oBias: boolean;
  normKind: NormKind;
  normOffset: number;
  activation: Activation;
  gated: boolean;
  mlpBias: boolean;
  normBias: boolean;
  positions: 'rope' | 'learned';
  ropeScaling: RopeScaling | undefined;
  embedScale: number;
  logitSoftcap: number;
  slidingWindow: number;
  slidingWindowPattern: number;
  attnSoftcap: number;
  postNorms: boolean;
}

export function resolveFamily(c: ModelConfig): Family {
  return {
    qkvBias: c.qkvBias ?? false,
    oBias: c.oBias ?? false,
    normKind: c.normKind ?? 'rms',
    normOffset: c.normOffset ?? 0,
    activation: c.activation ?? 'silu',
    gated: c.gated ?? true,
    mlpBias: c.mlpBias ?? false,
    normBias: c.normBias ?? false,
    positions: c.positions ?? 'rope',
    ropeScaling: c.ropeScaling,
    embedScale: c.embedScale ?? 1,
    logitSoftcap: c.logitSoftcap ?? 0,
    slidingWindow: c.slidingWindow ?? 0,
    slidingWindowPattern: c.slidingWindowPattern ?? 0,
    attnSoftcap: c.attnSoftcap ?? 0,
    postNorms: c.postNorms ?? false,
  };
}

/**
 * The per-pair RoPE frequencies of a scaled config, or undefined for plain theta^(-2i/headSize).
 * Learned positions take all zeros: every angle 0, so RoPE leaves q and k as they are (cos 1, sin 0).
 */
export function ropeFrequencies(c: ModelConfig): Float64Array | undefined {
  if (c.positions === 'learned') return new Float64Array(headSize(c) / 2);
  const r = c.ropeScaling;
  if (!r) return undefined;
  return r.kind === 'llama3' ? llama3Frequencies(headSize(c), c.ropeTheta, r) : dividedFrequencies(headSize(c), c.ropeTheta, r.divisors);
}

/** The sliding window layer l attends within, or 0 for all positions (slidingWindow, slidingWindowPattern). */
export function layerWindow(f: Family, l: number): number {
  return f.slidingWindowPattern && (l + 1) % f.slidingWindowPattern === 0 ? 0 : f.slidingWindow;
}

/** The ops a config uses beyond Llama 2's (none for Llama 2, SmolLM, Mistral within its window), named for a message. */
export function familyOpsBeyondLlama(c: ModelConfig): string[] {
  const f = resolveFamily(c);
  const ops: string[] = [];
  if (f.qkvBias) ops.push('q/k/v biases');
  if (f.oBias) ops.push('an output-projection bias');
  if (f.normKind !== 'rms') ops.push(`${f.normKind} norm`);
  if (f.normOffset !== 0) ops.push(`norm weight offset ${f.normOffset}`);
  if (f.activation !== 'silu') ops.push(`${f.activation} activation`);
  if (!f.gated) ops.push('an ungated feed-forward');
  if (f.mlpBias) ops.push('feed-forward biases');
  if (f.normBias) ops.push('norm biases');
  if (f.positions !== 'rope') ops.push(`${f.positions} positions`);
  if (f.ropeScaling) ops.push(`${f.ropeScaling.kind} RoPE scaling`);
  if (f.embedScale !== 1) ops.push(`embedding scale ${f.embedScale}`);
  if (f.logitSoftcap) ops.push(`logit soft-cap ${f.logitSoftcap}`);
  if (f.slidingWindow) ops.push(`sliding window ${f.slidingWindow}${f.slidingWindowPattern ? ` (every ${f.slidingWindowPattern}th layer global)` : ''}`);
  if (f.attnSoftcap) ops.push(`attention soft-cap ${f.attnSoftcap}`);
  if (f.postNorms) ops.push('post-sublayer norms');
  return ops;
}

/** The seven linear layers of a block, in forward order; SqueezeLLM quantizes exactly these. */
export const LINEAR_LAYERS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down'] as const;
export type LinearLayer = (typeof LINEAR_LAYERS)[number];

export const headSize = (c: ModelConfig): number => c.dim / c.nHeads;
export const kvDim = (c: ModelConfig): number => (c.dim / c.nHeads) * c.nKvHeads;

/**
 * Canonical tensor names and shapes, in file order. Matrices are [out, in] (one row per output).
 *   embed [vocab, dim]; layers.{i}.attn_norm [dim]; layers.{i}.attn.{q,k,v,o};
 *   layers.{i}.attn.{q,k,v}_bias [dim | kvDim] when qkvBias; layers.{i}.attn.o_bias [dim] when oBias; layers.{i}.mlp_norm [dim];
 *   layers.{i}.attn_post_norm [dim] when postNorms; layers.{i}.mlp.{gate,up} [hidden, dim]; layers.{i}.mlp.down [dim, hidden];
 *   layers.{i}.mlp_post_norm [dim] when postNorms; norm [dim]; head [vocab, dim] unless tied. OPT's fields add
 *   pos_embed [maxSeqLen, dim] (learned positions), a *_bias [dim] after each norm (normBias), mlp.{gate,up,down}_bias
 *   (mlpBias), and drop mlp.gate (gated false).
 */
export function tensorShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const kv = kvDim(c);
  m.set('embed', [c.vocabSize, c.dim]);
  if (c.positions === 'learned') m.set('pos_embed', [c.maxSeqLen, c.dim]);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    m.set(p + 'attn_norm', [c.dim]);
    if (c.normBias) m.set(p + 'attn_norm_bias', [c.dim]);
    m.set(p + 'attn.q', [c.dim, c.dim]);
    m.set(p + 'attn.k', [kv, c.dim]);
    m.set(p + 'attn.v', [kv, c.dim]);
    m.set(p + 'attn.o', [c.dim, c.dim]);
    if (c.qkvBias) {
      m.set(p + 'attn.q_bias', [c.dim]);
      m.set(p + 'attn.k_bias', [kv]);
      m.set(p + 'attn.v_bias', [kv]);
    }
    if (c.oBias) m.set(p + 'attn.o_bias', [c.dim]);
    if (c.postNorms) m.set(p + 'attn_post_norm', [c.dim]);
    m.set(p + 'mlp_norm', [c.dim]);
    if (c.normBias) m.set(p + 'mlp_norm_bias', [c.dim]);
    if (c.gated !== false) m.set(p + 'mlp.gate', [c.hiddenDim, c.dim]);
    if (c.gated !== false && c.mlpBias) m.set(p + 'mlp.gate_bias', [c.hiddenDim]);
    m.set(p + 'mlp.up', [c.hiddenDim, c.dim]);
    if (c.mlpBias) m.set(p + 'mlp.up_bias', [c.hiddenDim]);
    m.set(p + 'mlp.down', [c.dim, c.hiddenDim]);
    if (c.mlpBias) m.set(p + 'mlp.down_bias', [c.dim]);
    if (c.postNorms) m.set(p + 'mlp_post_norm', [c.dim]);
  }
  m.set('norm', [c.dim]);
  if (c.normBias) m.set('norm_bias', [c.dim]);
  if (!c.tiedEmbeddings) m.set('head', [c.vocabSize, c.dim]);
  return m;
}

/**
 * Bounds on each integer field: far above every released Llama-family model (Llama 3.1 405B: dim
 * 16384, hidden 53248, 126 layers, 128 heads; vocabularies up to ~256K; contexts up to ~10M), and
 * low enough that a corrupt count fails here, at once, instead of building a 2^31-entry tensor map.
 */
export const CONFIG_LIMITS = {
  dim: 1 << 16,
  hiddenDim: 1 << 18,
  nLayers: 1024,
  nHeads: 1024,
  nKvHeads: 1024,
  vocabSize: 1 << 22,
  maxSeqLen: 1 << 24,
} as const;

/** What each config field is called where it came from (HF's num_hidden_layers, GGUF's block_count...), for error messages. */
export type ConfigFieldNames = Partial<Record<keyof ModelConfig, string>>;

/**
 * Checks every field of a config before anything is built from it: types, bounds (CONFIG_LIMITS),
 * and how the fields must relate (heads divide dim into even head sizes, KV heads divide heads).
 * Throws a one-line FormatError naming `source` and the first bad field (by its name in `names`
 * when the reader gives one).
 */
export function validateConfig(c: ModelConfig, source: string, names: ConfigFieldNames = {}): void {
  const field = (k: keyof ModelConfig): string => (names[k] ? `${names[k]} (${k})` : k);
  const bad = (k: keyof ModelConfig, why: string): never => {
    throw new FormatError(`${source}: config ${field(k)} = ${show(c[k])} ${why}`);
  };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new FormatError(`${source}: the model config is not a map`);
  if (c.arch !== 'llama') throw new FormatError(`${source}: architecture ${show(c.arch)} is not supported (llama family only)`);
  for (const [k, max] of Object.entries(CONFIG_LIMITS) as [keyof typeof CONFIG_LIMITS, number][]) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) bad(k, `is not a positive integer (at most ${max})`);
  }
  if (c.dim % c.nHeads) throw new FormatError(`${source}: config dim ${c.dim} is not a multiple of n_heads ${c.nHeads}`);
  if ((c.dim / c.nHeads) % 2) throw new FormatError(`${source}: config head size ${c.dim / c.nHeads} (dim ${c.dim} / n_heads ${c.nHeads}) is odd; RoPE needs pairs`);
  if (c.nHeads % c.nKvHeads) throw new FormatError(`${source}: config n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  if (typeof c.ropeTheta !== 'number' || !Number.isFinite(c.ropeTheta) || c.ropeTheta <= 0) bad('ropeTheta', 'is not a finite positive number');
  if (typeof c.normEps !== 'number' || !Number.isFinite(c.normEps) || c.normEps <= 0 || c.normEps >= 1) bad('normEps', 'is not a number between 0 and 1');
  if (typeof c.tiedEmbeddings !== 'boolean') bad('tiedEmbeddings', 'is not true or false');
  if (c.rope !== 'interleaved' && c.rope !== 'half') bad('rope', "is not 'interleaved' or 'half'");
  validateFamilyFields(c, bad);
}

/**
 * Bounds on the family fields (each may be absent: its default). The numeric bounds sit far beyond
 * released models (Gemma's embedding scale is sqrt(dim) <= 256, its soft-caps 30 and 50, Llama 3's
 * RoPE factor 8 to 32) and exclude what would make the forward pass meaningless (NaN, a negative cap).
 */
function validateFamilyFields(c: ModelConfig, bad: (k: keyof ModelConfig, why: string) => never): void {
  const optional = (k: keyof ModelConfig, ok: (v: unknown) => boolean, why: string) => {
    if (c[k] !== undefined && !ok(c[k])) bad(k, why);
  };
  const num = (lo: number, hi: number) => (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
  const bool = (v: unknown) => typeof v === 'boolean';
  optional('qkvBias', bool, 'is not true or false');
  optional('oBias', bool, 'is not true or false');
  optional('normKind', (v) => v === 'rms' || v === 'layer', "is not 'rms' or 'layer'");
  optional('normOffset', num(-16, 16), 'is not a number between -16 and 16');
  optional('activation', (v) => v === 'silu' || v === 'gelu-tanh' || v === 'relu', "is not 'silu', 'gelu-tanh' or 'relu'");
  optional('gated', bool, 'is not true or false');
  optional('mlpBias', bool, 'is not true or false');
  optional('normBias', bool, 'is not true or false');
  optional('positions', (v) => v === 'rope' || v === 'learned', "is not 'rope' or 'learned'");
  optional('embedScale', (v) => num(0, 1 << 16)(v) && (v as number) > 0, `is not a positive number (at most ${1 << 16})`);
  optional('logitSoftcap', num(0, 1e6), 'is not 0 (none) or a positive number (at most 1e6)');
  optional('slidingWindow', (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= CONFIG_LIMITS.maxSeqLen, `is not 0 (none) or a positive integer (at most ${CONFIG_LIMITS.maxSeqLen})`);
  optional('slidingWindowPattern', (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= CONFIG_LIMITS.nLayers, `is not 0 (every layer slides) or a positive integer (at most ${CONFIG_LIMITS.nLayers})`);
  optional('attnSoftcap', num(0, 1e6), 'is not 0 (none) or a positive number (at most 1e6)');
  optional('postNorms', bool, 'is not true or false');
  const r = c.ropeScaling;
  if (r === undefined) return;
  if (typeof r === 'object' && r !== null && r.kind === 'factors') {
    const d = r.divisors;
    const ok = Array.isArray(d) && d.length === c.dim / c.nHeads / 2 && d.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0);
    if (!ok) bad('ropeScaling', `is not {kind: "factors", divisors: ${c.dim / c.nHeads / 2} positive numbers (one per RoPE pair)}`);
    return;
  }
  const why = 'is not {kind: "llama3", factor >= 1, 0 < lowFreqFactor < highFreqFactor, originalMaxSeqLen a positive integer} or {kind: "factors", divisors}';
  if (typeof r !== 'object' || r === null || r.kind !== 'llama3') bad('ropeScaling', why);
  const ok = num(1, 1024)(r.factor) && num(1e-6, 1e6)(r.lowFreqFactor) && num(1e-6, 1e6)(r.highFreqFactor) && r.lowFreqFactor < r.highFreqFactor;
  if (!ok || !Number.isSafeInteger(r.originalMaxSeqLen) || r.originalMaxSeqLen < 1 || r.originalMaxSeqLen > CONFIG_LIMITS.maxSeqLen) bad('ropeScaling', why);
}

/** A config value as it would read in the file (NaN, 1e+308, "text", ...), kept short. */
function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** A tensor as an index or checkpoint lists it. */
export interface TensorListing {
  name: string;
  shape: readonly number[];
}

/**
 * Checks that the tensors present are exactly the ones the config needs (tensorShapes), with the
 * config's shapes: a file that stores more layers than its config says (or fewer), a head the
 * config ties away, or a matrix of another size is refused, naming the tensors. Run on an index,
 * before any tensor is read.
 */
export function checkTensorSet(c: ModelConfig, present: Iterable<TensorListing>, source: string): void {
  const want = tensorShapes(c);
  const leftover: string[] = [];
  const seen = new Set<string>();
  for (const t of present) {
    const shape = want.get(t.name);
    if (!shape) {
      leftover.push(t.name);
      continue;
    }
    seen.add(t.name);
    if (shape.join('x') !== t.shape.join('x')) throw new FormatError(`${source}: tensor '${t.name}' has shape [${t.shape}] but the config implies [${shape}]`);
  }
  const missing = [...want.keys()].filter((n) => !seen.has(n));
  const layers = `${c.nLayers} layer${c.nLayers === 1 ? '' : 's'}${c.tiedEmbeddings ? ', tied embeddings' : ''}`;
  if (missing.length) throw new FormatError(`${source}: ${missing.length} tensor${missing.length === 1 ? '' : 's'} the config (${layers}) needs ${missing.length === 1 ? 'is' : 'are'} missing: ${listNames(missing)}`);
  if (leftover.length) throw new FormatError(`${source}: ${leftover.length} tensor${leftover.length === 1 ? '' : 's'} the config (${layers}) does not use: ${listNames(leftover)}`);
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 6).map((n) => `'${n}'`).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}
