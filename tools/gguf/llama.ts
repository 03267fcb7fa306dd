// The `llama` architecture in GGUF and its kin `qwen2` and `gemma` (the same block with family
// fields set, src/model/config.ts): tensor names, the <arch>.* config keys, the SentencePiece
// (`tokenizer.ggml.model = "llama"`) tokenizer keys, and the RoPE row permutation. Both directions
// (import: tools/checkpoint/gguf.ts; export: tools/gguf/export.ts). docs/GGUF.md has the tables.
import { type ModelConfig, headSize, resolveFamily } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { gpt2TokenizerSpec, hfTokenizerMetadata } from './hf-tokenizer.ts';
import type { GgufArray, GgufValue } from './spec.ts';
import { BYTE_PIECE, TOKEN_TYPE, VT } from './spec.ts';
import { type KvValue, kv } from './write.ts';

export type Metadata = Map<string, GgufValue>;

// ---------------------------------------------------------------------------------------------
// Tensor names

const LAYER_PARTS: Record<string, string> = {
  attn_norm: 'attn_norm',
  'attn.q': 'attn_q',
  'attn.k': 'attn_k',
  'attn.v': 'attn_v',
  'attn.o': 'attn_output',
  mlp_norm: 'ffn_norm',
  'mlp.gate': 'ffn_gate',
  'mlp.up': 'ffn_up',
  'mlp.down': 'ffn_down',
  attn_post_norm: 'post_attention_norm',
  mlp_post_norm: 'post_ffw_norm',
  // phi3's fused matrices, split at load and joined at export (FUSED)
  'attn.qkv': 'attn_qkv',
  'mlp.gate_up': 'ffn_up',
};
const LAYER_PARTS_BACK = new Map(Object.entries(LAYER_PARTS).filter(([c]) => c !== 'mlp.gate_up').map(([c, g]) => [g, c]));

/**
 * phi3 stores q, k and v as one attn_qkv matrix and gate and up as one ffn_up of twice the rows,
 * the parts stacked in this order (llama.cpp's phi3 reads gate as the first half).
 */
export const FUSED: Record<string, readonly string[]> = { 'attn.qkv': ['attn.q', 'attn.k', 'attn.v'], 'mlp.gate_up': ['mlp.gate', 'mlp.up'] };

/** The canonical name of a phi3 GGUF tensor: ffn_up there is the fused gate and up. */
export function canonicalPhi3Name(gguf: string): string | undefined {
  const c = canonicalTensorName(gguf);
  return c?.endsWith('.mlp.up') ? c.replace(/\.mlp\.up$/, '.mlp.gate_up') : c;
}

/** GGUF name of a canonical tensor: embed -> token_embd.weight, layers.3.attn.q -> blk.3.attn_q.weight, layers.3.attn.q_bias -> blk.3.attn_q.bias, ... */
export function ggufTensorName(canonical: string): string {
  if (canonical === 'embed') return 'token_embd.weight';
  if (canonical === 'norm') return 'output_norm.weight';
  if (canonical === 'head') return 'output.weight';
  const m = /^layers\.(\d+)\.(.+?)(_bias)?$/.exec(canonical);
  const part = m && LAYER_PARTS[m[2]];
  if (!m || !part) throw new Error(`no GGUF name for canonical tensor '${canonical}'`);
  return `blk.${m[1]}.${part}.${m[3] ? 'bias' : 'weight'}`;
}

/** Canonical name of a GGUF tensor, or undefined for a name we do not map. */
export function canonicalTensorName(gguf: string): string | undefined {
  if (gguf === 'token_embd.weight') return 'embed';
  if (gguf === 'output_norm.weight') return 'norm';
  if (gguf === 'output.weight') return 'head';
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(gguf);
  const part = m && LAYER_PARTS_BACK.get(m[2]);
  if (!m || !part) return undefined;
  // biases exist for the attention projections only (Qwen2's q/k/v, o where a family has it)
  if (m[3] === 'bias') return /^attn\.[qkvo]$/.test(part) ? `layers.${Number(m[1])}.${part}_bias` : undefined;
  return `layers.${Number(m[1])}.${part}`;
}

/**
 * Stored tensors of a GGUF that change what the model computes and that the forward pass has no
 * place for: biases (other than the attention ones canonicalTensorName maps), RoPE frequency factors
 * (Phi-3's long-context rope_factors_long/short), mixture-of-experts parts. Llama 3's rope_freqs is read (RoPE divisors).
 */
export function isRefusedTensor(gguf: string): boolean {
  if (canonicalTensorName(gguf) !== undefined) return false;
  return /\.bias$/.test(gguf) || /\.ffn_(gate_inp|gate_exps|up_exps|down_exps)\./.test(gguf) || /^blk\.\d+\.rope_factors_(long|short)\./.test(gguf);
}

// ---------------------------------------------------------------------------------------------
// RoPE layout

/**
 * Rows of a q or k matrix ([heads * headSize, cols]) from Hugging Face's rotate-half pairing
 * (i, i + headSize/2) to the interleaved pairing (2i, 2i + 1) that GGUF/llama.cpp use: row
 * h*hs + 2i + j takes row h*hs + j*hs/2 + i (llama.cpp's convert script, `permute`).
 */
export function permuteHalfToInterleaved(w: Float32Array, rows: number, cols: number, hs: number): Float32Array {
  if (rows % hs || hs % 2) throw new RangeError(`${rows} rows are not whole heads of size ${hs}`);
  const out = new Float32Array(w.length);
  const half = hs / 2;
  for (let h = 0; h < rows; h += hs) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), (h + 2 * i + j) * cols);
      }
    }
  }
  return out;
}

/** The inverse of permuteHalfToInterleaved (for tests and for anyone who needs HF layout back). */
export function permuteInterleavedToHalf(w: Float32Array, rows: number, cols: number, hs: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = hs / 2;
  for (let h = 0; h < rows; h += hs) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h + 2 * i + j) * cols;
        out.set(w.subarray(src, src + cols), (h + j * half + i) * cols);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Metadata helpers

/** The shortest decimal that is the same f32 (GGUF stores eps and theta as f32: 1e-5 stays 1e-5). */
export function f32Decimal(x: number): number {
  const want = Math.fround(x);
  if (!Number.isFinite(want)) return want;
  for (let p = 1; p <= 9; p++) {
    const v = Number(want.toPrecision(p));
    if (Math.fround(v) === want) return v;
  }
  return want;
}

function describeValue(v: GgufValue): string {
  if (typeof v === 'object') return `an array of ${v.values.length}`;
  return JSON.stringify(typeof v === 'bigint' ? v.toString() : v);
}

/** A numeric metadata value as a JS number (bigint u64/i64 included), or undefined when absent. */
export function metaNumber(md: Metadata, key: string, source: string, opts: { int?: boolean } = {}): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else throw new FormatError(`${source}: metadata ${key} is ${describeValue(v)}, not a number`);
  if (!Number.isFinite(n) || (opts.int && !Number.isSafeInteger(n))) throw new FormatError(`${source}: metadata ${key} = ${describeValue(v)} is not ${opts.int ? 'an integer' : 'a finite number'}`);
  return n;
}

export function metaString(md: Metadata, key: string, source: string): string | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new FormatError(`${source}: metadata ${key} is ${describeValue(v)}, not a string`);
  return v;
}

function metaArray(md: Metadata, key: string, source: string): GgufArray | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'object') throw new FormatError(`${source}: metadata ${key} is ${describeValue(v)}, not an array`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Config

/** The GGUF architectures read and written: the llama block with these family fields. */
export const GGUF_ARCHITECTURES = ['llama', 'qwen2', 'gemma', 'gemma2', 'phi3'] as const;
export type GgufArchitecture = (typeof GGUF_ARCHITECTURES)[number];

/** general.architecture, checked to be one we read. */
export function checkArchitecture(md: Metadata, source: string): GgufArchitecture {
  const arch = metaString(md, 'general.architecture', source);
  if (arch === undefined) throw new FormatError(`${source}: metadata general.architecture is missing`);
  if (!(GGUF_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new UnsupportedError(`${source}: GGUF architecture '${arch}' is not supported (supported: ${GGUF_ARCHITECTURES.join(', ')})`);
  }
  return arch as GgufArchitecture;
}

/**
 * What each architecture is, as config fields, the way llama.cpp runs it. llama pairs RoPE
 * (2i, 2i+1) (its converter permutes Hugging Face q/k into that); qwen2 and gemma use the NEOX
 * pairing (i, i + headSize/2), Hugging Face's own, unpermuted. Gemma's converter stores the norm
 * weights with Hugging Face's + 1 already added (so normOffset is 0 here), and llama.cpp scales
 * the embedding by sqrt(dim) and uses GELU (tanh) in a gated feed-forward. gemma2 adds post-norms
 * and a sliding window on its even layers (its soft-caps and window are metadata: GEMMA2_KEYS);
 * phi3 is the llama block with fused matrices (FUSED) and NEOX pairing.
 */
function familyOf(arch: GgufArchitecture, dim: number): Partial<ModelConfig> {
  if (arch === 'qwen2') return { rope: 'half', qkvBias: true };
  if (arch === 'gemma') return { rope: 'half', activation: 'gelu-tanh', embedScale: Math.sqrt(dim) };
  if (arch === 'gemma2') return { rope: 'half', activation: 'gelu-tanh', embedScale: Math.sqrt(dim), postNorms: true, slidingWindowPattern: 2 };
  if (arch === 'phi3') return { rope: 'half' };
  return { rope: 'interleaved' };
}

/** gemma2's metadata keys (after `gemma2.`) and the config field each holds. */
const GEMMA2_KEYS = [['attention.sliding_window', 'slidingWindow'], ['attn_logit_softcapping', 'attnSoftcap'], ['final_logit_softcapping', 'logitSoftcap']] as const;

/**
 * The architecture a config is written as, or an UnsupportedError naming what no GGUF architecture
 * here carries. `normOffset` is not a difference: export folds it into the norm weights; nor are
 * RoPE scaling (a rope_freqs tensor) and gemma2's metadata fields. `asPhi3` picks phi3 over llama
 * for a Llama-block model (the two differ only in how the matrices are stored).
 */
export function ggufArchitectureOf(c: ModelConfig, source: string, asPhi3 = false): GgufArchitecture {
  const f = resolveFamily(c);
  // sqrt(dim) as a reader computed it, or as an f32 header keeps it
  const gemma = f.activation === 'gelu-tanh' && Math.abs(f.embedScale - Math.sqrt(c.dim)) <= 1e-6 * Math.sqrt(c.dim);
  const arch: GgufArchitecture = f.qkvBias ? 'qwen2' : gemma ? (f.postNorms ? 'gemma2' : 'gemma') : asPhi3 ? 'phi3' : 'llama';
  const metadataFields = arch === 'gemma2' ? Object.fromEntries(GEMMA2_KEYS.map(([, k]) => [k, c[k]])) : {};
  const want = resolveFamily({ ...c, ...familyOf(arch, c.dim), normOffset: f.normOffset, ropeScaling: f.ropeScaling, ...metadataFields, ...(gemma ? { embedScale: f.embedScale } : {}) });
  const differs = (Object.keys(want) as (keyof typeof want)[]).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(f[k]));
  if (differs.length) throw new UnsupportedError(`${source}: no GGUF architecture here carries this model's ${differs.join(', ')} (GGUF export writes ${GGUF_ARCHITECTURES.join(', ')})`);
  if ((arch === 'gemma' || arch === 'gemma2') && !c.tiedEmbeddings) throw new UnsupportedError(`${source}: llama.cpp's gemma ties the output head to the embedding; this model has its own head`);
  return arch;
}

/** <arch>.* keys to a ModelConfig (vocabulary size and tied head come from the tokenizer and tensors). */
export function configFromMetadata(md: Metadata, source: string, vocabSize: number, tied: boolean, arch: GgufArchitecture = 'llama'): ModelConfig {
  const need = (name: string): number => {
    const key = `${arch}.${name}`;
    const v = metaNumber(md, key, source, { int: true });
    if (v === undefined) throw new FormatError(`${source}: metadata ${key} is missing`);
    return v;
  };
  const refuse = (what: string): never => {
    throw new UnsupportedError(`${source}: ${what} is not supported`);
  };
  const kvHeads = md.get(`${arch}.attention.head_count_kv`);
  if (kvHeads !== undefined && typeof kvHeads === 'object') refuse(`a per-layer ${arch}.attention.head_count_kv array`);
  const nHeads = need('attention.head_count');
  const eps = metaNumber(md, `${arch}.attention.layer_norm_rms_epsilon`, source);
  if (eps === undefined) throw new FormatError(`${source}: metadata ${arch}.attention.layer_norm_rms_epsilon is missing`);
  const config: ModelConfig = {
    arch: 'llama',
    dim: need('embedding_length'),
    hiddenDim: need('feed_forward_length'),
    nLayers: need('block_count'),
    nHeads,
    nKvHeads: metaNumber(md, `${arch}.attention.head_count_kv`, source, { int: true }) ?? nHeads,
    vocabSize,
    maxSeqLen: need('context_length'),
    ropeTheta: f32Decimal(metaNumber(md, `${arch}.rope.freq_base`, source) ?? 10000),
    normEps: f32Decimal(eps),
    tiedEmbeddings: tied,
    rope: 'interleaved',
  };
  Object.assign(config, familyOf(arch, config.dim));
  if (arch === 'gemma2') {
    for (const [key, field] of GEMMA2_KEYS) {
      const v = metaNumber(md, `gemma2.${key}`, source, { int: field === 'slidingWindow' });
      if (v === undefined) throw new FormatError(`${source}: metadata gemma2.${key} is missing`);
      config[field] = field === 'slidingWindow' ? v : f32Decimal(v);
    }
  }
  const declared = metaNumber(md, `${arch}.vocab_size`, source, { int: true });
  if (declared !== undefined && declared !== vocabSize) {
    throw new FormatError(`${source}: ${arch}.vocab_size ${declared} differs from the tokenizer's ${vocabSize} tokens`);
  }
  if (config.nHeads > 0 && config.dim % config.nHeads === 0) {
    const hs = config.dim / config.nHeads;
    const rd = metaNumber(md, `${arch}.rope.dimension_count`, source, { int: true });
    if (rd !== undefined && rd !== hs) refuse(`${arch}.rope.dimension_count ${rd} (partial rotary; head size is ${hs})`);
    for (const k of [`${arch}.attention.key_length`, `${arch}.attention.value_length`]) {
      const v = metaNumber(md, k, source, { int: true });
      if (v !== undefined && v !== hs) refuse(`${k} ${v} (head size is embedding_length / head_count = ${hs})`);
    }
  }
  const scaling = md.get(`${arch}.rope.scaling.type`);
  if (scaling !== undefined && scaling !== 'none') refuse(`RoPE scaling '${String(scaling)}' (${arch}.rope.scaling.type)`);
  const factor = metaNumber(md, `${arch}.rope.scale_linear`, source);
  if (factor !== undefined && factor !== 1) refuse(`${arch}.rope.scale_linear ${factor}`);
  const experts = metaNumber(md, `${arch}.expert_count`, source, { int: true });
  if (experts !== undefined && experts > 0) refuse(`a mixture of experts (${arch}.expert_count ${experts})`);
  return config;
}

/** The <arch>.* and general.* keys for a config. */
export function configMetadata(c: ModelConfig, name: string, fileType: number, quantized: boolean, arch: GgufArchitecture = 'llama'): Array<[string, KvValue]> {
  const out: Array<[string, KvValue]> = [
    ['general.architecture', kv.str(arch)],
    ['general.name', kv.str(name)],
    ['general.file_type', kv.u32(fileType)],
  ];
  if (quantized) out.push(['general.quantization_version', kv.u32(2)]);
  out.push(
    [`${arch}.vocab_size`, kv.u32(c.vocabSize)],
    [`${arch}.context_length`, kv.u32(c.maxSeqLen)],
    [`${arch}.embedding_length`, kv.u32(c.dim)],
    [`${arch}.block_count`, kv.u32(c.nLayers)],
    [`${arch}.feed_forward_length`, kv.u32(c.hiddenDim)],
    [`${arch}.rope.dimension_count`, kv.u32(headSize(c))],
    [`${arch}.attention.head_count`, kv.u32(c.nHeads)],
    [`${arch}.attention.head_count_kv`, kv.u32(c.nKvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, kv.f32(c.normEps)],
    [`${arch}.rope.freq_base`, kv.f32(c.ropeTheta)],
  );
  if (arch === 'gemma2') {
    for (const [key, field] of GEMMA2_KEYS) out.push([`gemma2.${key}`, field === 'slidingWindow' ? kv.u32(c.slidingWindow ?? 0) : kv.f32(c[field] ?? 0)]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

const SPACE = '\u2581'; // ▁, SentencePiece's space

/** The tokens array of the file (its length is the vocabulary size), or undefined when there is none. */
export function ggufTokens(md: Metadata, source: string): string[] | undefined {
  const a = metaArray(md, 'tokenizer.ggml.tokens', source);
  if (!a) return undefined;
  if (a.type !== VT.STRING) throw new FormatError(`${source}: tokenizer.ggml.tokens is not an array of strings`);
  return a.values as string[];
}

function numbers(md: Metadata, key: string, source: string, n: number): number[] | undefined {
  const a = metaArray(md, key, source);
  if (!a) return undefined;
  if (a.type === VT.STRING || a.type === VT.ARRAY || a.type === VT.BOOL) throw new FormatError(`${source}: ${key} is not a numeric array`);
  if (a.values.length !== n) throw new FormatError(`${source}: ${key} has ${a.values.length} entries, tokenizer.ggml.tokens has ${n}`);
  return Array.from(a.values as ArrayLike<number | bigint>, Number);
}

/**
 * The GGUF tokenizer as a spec. A SentencePiece ("llama") one becomes our llama2c-kind spec: the same
 * score-driven BPE with <0xNN> byte fallback. Pieces get ' ' for '▁' (llama2.c's spelling); scores
 * and ids are kept. A byte-level "gpt2" one becomes the tokenizer.json it stands for (hf-tokenizer.ts).
 */
export function tokenizerFromMetadata(md: Metadata, source: string): { spec: TokenizerSpec; notes: string[] } {
  const notes: string[] = [];
  const model = metaString(md, 'tokenizer.ggml.model', source);
  if (model === undefined) throw new FormatError(`${source}: metadata tokenizer.ggml.model is missing (give --tokenizer)`);
  if (model !== 'llama' && model !== 'gpt2') {
    throw new UnsupportedError(`${source}: tokenizer.ggml.model '${model}' is not supported (only 'llama', SentencePiece BPE, and 'gpt2', byte-level BPE); give --tokenizer to use another tokenizer file`);
  }
  const tokens = ggufTokens(md, source);
  if (!tokens) throw new FormatError(`${source}: metadata tokenizer.ggml.tokens is missing`);
  const n = tokens.length;
  const types = numbers(md, 'tokenizer.ggml.token_type', source, n);
  if (model === 'gpt2') {
    const merges = metaArray(md, 'tokenizer.ggml.merges', source);
    if (!merges || merges.type !== VT.STRING) throw new FormatError(`${source}: tokenizer.ggml.merges (an array of strings) is missing`);
    // byte-level files have no BOS unless they say so (GPT-2 has none)
    const bos = md.get('tokenizer.ggml.add_bos_token') === true ? metaNumber(md, 'tokenizer.ggml.bos_token_id', source, { int: true }) : undefined;
    const eos = metaNumber(md, 'tokenizer.ggml.eos_token_id', source, { int: true });
    const pre = metaString(md, 'tokenizer.ggml.pre', source);
    return { spec: gpt2TokenizerSpec({ tokens, merges: merges.values as string[], types, pre, bos: bos ?? null, eos: eos ?? null }, source), notes };
  }
  const scores = numbers(md, 'tokenizer.ggml.scores', source, n) ?? new Array<number>(n).fill(0);
  const bos = metaNumber(md, 'tokenizer.ggml.bos_token_id', source, { int: true }) ?? 1;
  const eos = metaNumber(md, 'tokenizer.ggml.eos_token_id', source, { int: true }) ?? 2;
  for (const [what, id] of [['bos', bos], ['eos', eos]] as const) {
    if (id < 0 || id >= n) throw new FormatError(`${source}: tokenizer.ggml.${what}_token_id ${id} is outside the ${n} tokens`);
  }
  if (scores.some((s) => Number.isNaN(s))) throw new FormatError(`${source}: tokenizer.ggml.scores has a NaN`);
  const userDefined = types ? types.filter((t) => t === TOKEN_TYPE.USER_DEFINED).length : 0;
  if (userDefined) notes.push(`${userDefined} user-defined tokens are matched only through merges, not as whole strings in the text as llama.cpp does`);
  if (md.get('tokenizer.ggml.add_bos_token') === false) notes.push('tokenizer.ggml.add_bos_token is false, but encoding puts BOS first (as llama2.c does)');
  if (md.get('tokenizer.ggml.add_space_prefix') === false) notes.push('tokenizer.ggml.add_space_prefix is false, but encoding adds the dummy space prefix (as llama2.c does)');
  const pieces = tokens.map((t) => t.replaceAll(SPACE, ' '));
  return { spec: { kind: 'llama2c', pieces, scores, bos, eos }, notes };
}

/**
 * tokenizer.ggml.* for a tokenizer spec: a llama2c-kind one (SentencePiece BPE with scores) as
 * 'llama', a Hugging Face tokenizer.json as hf-tokenizer.ts decides.
 */
export function tokenizerMetadata(spec: TokenizerSpec | undefined, vocabSize: number, source: string): Array<[string, KvValue]> {
  if (!spec) throw new UnsupportedError(`${source} has no tokenizer (a llama2.c checkpoint needs --tokenizer tokenizer.bin)`);
  if (spec.kind === 'hf') return hfTokenizerMetadata(spec, vocabSize, source);
  const { pieces, scores, bos, eos } = spec;
  const seen = new Map<string, number>();
  let unk = -1;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    let p = pieces[i];
    let type: number = TOKEN_TYPE.NORMAL;
    if (i === bos || i === eos) {
      type = TOKEN_TYPE.CONTROL;
      // llama2.c's export spells BOS/EOS "\n<s>\n" and "\n</s>\n"; SentencePiece has "<s>", "</s>"
      if (p.trim()) p = p.trim();
    } else if (p === '<unk>') {
      type = TOKEN_TYPE.UNKNOWN;
      if (unk < 0) unk = i;
    } else if (BYTE_PIECE.test(p)) type = TOKEN_TYPE.BYTE;
    const text = p.replaceAll(' ', SPACE);
    const prev = seen.get(text);
    if (prev !== undefined) {
      throw new UnsupportedError(`${source}: tokens ${prev} and ${i} are both ${JSON.stringify(text)}; llama.cpp needs distinct token texts`);
    }
    seen.set(text, i);
    tokens.push(text);
    types.push(type);
  }
  const out: Array<[string, KvValue]> = [
    ['tokenizer.ggml.model', kv.str('llama')],
    ['tokenizer.ggml.tokens', kv.strings(tokens)],
    ['tokenizer.ggml.scores', kv.f32s(scores)],
    ['tokenizer.ggml.token_type', kv.i32s(types)],
    ['tokenizer.ggml.bos_token_id', kv.u32(bos)],
    ['tokenizer.ggml.eos_token_id', kv.u32(eos)],
  ];
  if (unk >= 0) out.push(['tokenizer.ggml.unknown_token_id', kv.u32(unk)]);
  out.push(
    ['tokenizer.ggml.add_bos_token', kv.bool(true)],
    ['tokenizer.ggml.add_eos_token', kv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', kv.bool(true)],
  );
  return out;
}
