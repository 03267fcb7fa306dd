// Hugging Face Llama/Mistral/Qwen2/Gemma/Gemma 2/Phi-3 folders: config.json, model.safetensors or model.safetensors.index.json
// (+ shards), tokenizer.json. Stored names are mapped to canonical ones (hfTensorName); every tensor
// the config implies must exist with exactly the shape tensorShapes() gives. Phi-3's fused
// qkv_proj and gate_up_proj are split into their parts by row ranges of the stored tensor.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LINEAR_LAYERS, type ModelConfig, type RopeScaling, tensorShapes, validateConfig } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { checkLayerCount, nameList } from './checks.ts';
import { parseJsonObject } from './json.ts';
import { type SafetensorsFile, openSafetensors, safetensorsRef } from './safetensors.ts';
import { type TensorRef, assertLittleEndianHost, fmtShape, makeCheckpoint, storedBytes } from './tensors.ts';
import { type SpecialTokenHints, readHfTokenizer, readTokenizerFile } from './tokenizer.ts';
import type { Checkpoint } from './types.ts';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gemma', 'gemma2', 'phi3', 'opt'] as const;

const LAYER_PARTS: Record<string, string> = {
  attn_norm: 'input_layernorm.weight',
  'attn.q': 'self_attn.q_proj.weight',
  'attn.k': 'self_attn.k_proj.weight',
  'attn.v': 'self_attn.v_proj.weight',
  'attn.o': 'self_attn.o_proj.weight',
  'attn.q_bias': 'self_attn.q_proj.bias',
  'attn.k_bias': 'self_attn.k_proj.bias',
  'attn.v_bias': 'self_attn.v_proj.bias',
  'attn.o_bias': 'self_attn.o_proj.bias',
  mlp_norm: 'post_attention_layernorm.weight',
  'mlp.gate': 'mlp.gate_proj.weight',
  'mlp.up': 'mlp.up_proj.weight',
  'mlp.down': 'mlp.down_proj.weight',
};

/** Gemma 2 has a norm before and after each sublayer, and names them its own way. */
const GEMMA2_PARTS: Record<string, string> = {
  attn_post_norm: 'post_attention_layernorm.weight',
  mlp_norm: 'pre_feedforward_layernorm.weight',
  mlp_post_norm: 'post_feedforward_layernorm.weight',
};

/** OPT (modeling_opt.py): its own names under model.decoder, a bias on every projection and norm. */
const OPT_PARTS: Record<string, string> = {
  attn_norm: 'self_attn_layer_norm.weight',
  attn_norm_bias: 'self_attn_layer_norm.bias',
  'attn.q': 'self_attn.q_proj.weight',
  'attn.k': 'self_attn.k_proj.weight',
  'attn.v': 'self_attn.v_proj.weight',
  'attn.o': 'self_attn.out_proj.weight',
  'attn.q_bias': 'self_attn.q_proj.bias',
  'attn.k_bias': 'self_attn.k_proj.bias',
  'attn.v_bias': 'self_attn.v_proj.bias',
  'attn.o_bias': 'self_attn.out_proj.bias',
  mlp_norm: 'final_layer_norm.weight',
  mlp_norm_bias: 'final_layer_norm.bias',
  'mlp.up': 'fc1.weight',
  'mlp.up_bias': 'fc1.bias',
  'mlp.down': 'fc2.weight',
  'mlp.down_bias': 'fc2.bias',
};
const OPT_TOP: Record<string, string> = {
  embed: 'model.decoder.embed_tokens.weight',
  pos_embed: 'model.decoder.embed_positions.weight',
  norm: 'model.decoder.final_layer_norm.weight',
  norm_bias: 'model.decoder.final_layer_norm.bias',
  head: 'lm_head.weight',
};
/** OPT's learned positions start at row 2 of embed_positions (OPTLearnedPositionalEmbedding's offset). */
const OPT_POSITION_OFFSET = 2;

/** Phi-3 stores q, k, v as one matrix and gate, up as another, stacked by rows in this order. */
const PHI3_FUSED: Record<string, { name: string; parts: readonly string[] }> = {
  'attn.q': { name: 'self_attn.qkv_proj.weight', parts: ['attn.q', 'attn.k', 'attn.v'] },
  'mlp.gate': { name: 'mlp.gate_up_proj.weight', parts: ['mlp.gate', 'mlp.up'] },
};
const PHI3_PART_OF = new Map(Object.values(PHI3_FUSED).flatMap((f) => f.parts.map((p) => [p, f] as const)));

/** The Hugging Face name of a canonical tensor (embed -> model.embed_tokens.weight, ...): for Phi-3's q, k, v, gate and up, the fused tensor holding them. */
export function hfTensorName(canonical: string, modelType = 'llama'): string {
  if (modelType === 'opt') {
    const m = /^layers\.(\d+)\.(.+)$/.exec(canonical);
    const name = m ? OPT_PARTS[m[2]] && `model.decoder.layers.${m[1]}.${OPT_PARTS[m[2]]}` : OPT_TOP[canonical];
    if (!name) throw new Error(`no Hugging Face OPT name for canonical tensor '${canonical}'`);
    return name;
  }
  if (canonical === 'embed') return 'model.embed_tokens.weight';
  if (canonical === 'norm') return 'model.norm.weight';
  if (canonical === 'head') return 'lm_head.weight';
  const m = /^layers\.(\d+)\.(.+)$/.exec(canonical);
  const part = m && ((modelType === 'gemma2' && GEMMA2_PARTS[m[2]]) || (modelType === 'phi3' && PHI3_PART_OF.get(m[2])?.name) || LAYER_PARTS[m[2]]);
  if (!m || !part) throw new Error(`no Hugging Face name for canonical tensor '${canonical}'`);
  return `model.layers.${m[1]}.${part}`;
}

const readJson = async (path: string, what: string): Promise<Record<string, unknown>> => parseJsonObject(await readFile(path, 'utf8'), what);

const readJsonIfExists = async (path: string, what: string) => (existsSync(path) ? readJson(path, what) : undefined);

/** config.json to ModelConfig; anything the forward pass would get wrong is refused, not ignored. */
export function hfModelConfig(cfg: Record<string, unknown>, source: string): { config: ModelConfig; notes: string[] } {
  const notes: string[] = [];
  const type = cfg.model_type;
  if (typeof type !== 'string') throw new FormatError(`${source}: config.json has no model_type`);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedError(`${source}: model_type '${type}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  const num = (key: string, dflt?: number): number => {
    const v = cfg[key];
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      throw new FormatError(`${source}: config.json has no ${key}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(`${source}: config.json ${key} = ${JSON.stringify(v)} is not a number`);
    return v;
  };
  const refuse = (what: string) => {
    throw new UnsupportedError(`${source}: ${what} is not supported`);
  };
  if (type === 'opt') return { config: optConfig(cfg, source, num, refuse), notes };
  const ropeScaling = hfRopeScaling(cfg.rope_scaling, refuse);
  // Gemma's hidden_act "gelu" is run as the tanh approximation by Transformers itself; Gemma 2's is gelu_pytorch_tanh
  const gemma = type === 'gemma' || type === 'gemma2';
  const act = gemma ? 'gelu-tanh' : cfg.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'gelu-tanh') refuse(`hidden_act '${act}' (only silu)`);
  if (cfg.mlp_bias === true) refuse('mlp_bias true');

  const dim = num('hidden_size');
  const nHeads = num('num_attention_heads');
  if (cfg.head_dim != null && num('head_dim') !== dim / nHeads) {
    refuse(`head_dim ${cfg.head_dim} != hidden_size / num_attention_heads (${dim / nHeads})`);
  }
  if (cfg.tie_word_embeddings !== undefined && typeof cfg.tie_word_embeddings !== 'boolean') {
    throw new FormatError(`${source}: config.json tie_word_embeddings = ${JSON.stringify(cfg.tie_word_embeddings)} is not a boolean`);
  }
  const config: ModelConfig = {
    arch: 'llama',
    dim,
    hiddenDim: num('intermediate_size'),
    nLayers: num('num_hidden_layers'),
    nHeads,
    nKvHeads: num('num_key_value_heads', nHeads),
    vocabSize: num('vocab_size'),
    maxSeqLen: num('max_position_embeddings'),
    ropeTheta: num('rope_theta', 10000),
    normEps: num('rms_norm_eps', 1e-6),
    // LlamaConfig, MistralConfig, Qwen2Config and Phi3Config default to untied, GemmaConfig and Gemma2Config to tied.
    tiedEmbeddings: cfg.tie_word_embeddings === true || (gemma && cfg.tie_word_embeddings === undefined),
    rope: 'half',
  };
  // Qwen2 always has q/k/v biases; Llama's attention_bias puts one on o as well
  if (type === 'qwen2' || cfg.attention_bias === true) config.qkvBias = true;
  if (type !== 'qwen2' && cfg.attention_bias === true) config.oBias = true;
  if (ropeScaling) config.ropeScaling = ropeScaling;
  if (gemma) Object.assign(config, { activation: 'gelu-tanh', normOffset: 1, embedScale: Math.sqrt(dim) });
  if (type === 'gemma2') {
    // scores scaled by query_pre_attn_scalar^-1/2: the kernels scale by headSize^-1/2 (Gemma 2 2B and 9B: equal)
    if (num('query_pre_attn_scalar', dim / nHeads) !== dim / nHeads) refuse(`query_pre_attn_scalar ${cfg.query_pre_attn_scalar} != head size ${dim / nHeads}`);
    Object.assign(config, { postNorms: true, slidingWindowPattern: 2, attnSoftcap: num('attn_logit_softcapping', 0), logitSoftcap: num('final_logit_softcapping', 0) });
  }
  // Mistral's, Gemma 2's (even layers) and Phi-3's window (Qwen2's only with use_sliding_window, off in every released config)
  const window = type === 'mistral' || type === 'gemma2' || type === 'phi3' || (type === 'qwen2' && cfg.use_sliding_window === true) ? cfg.sliding_window : undefined;
  if (typeof window === 'number' && window < config.maxSeqLen) config.slidingWindow = window;
  validateConfig(config, source, { nLayers: 'num_hidden_layers' });
  return { config, notes };
}

/**
 * OPTConfig to the llama block with OPT's fields: learned positions, LayerNorm with biases (eps
 * 1e-5, fixed in modeling_opt.py), biases on every projection, the ungated ReLU fc1/fc2 feed-forward,
 * tied by default. The variants the block does not take (opt-350m's norm-after and projected
 * embedding) are refused.
 */
function optConfig(cfg: Record<string, unknown>, source: string, num: (k: string, d?: number) => number, refuse: (what: string) => never): ModelConfig {
  if (cfg.do_layer_norm_before === false) refuse('do_layer_norm_before false (norms after the sublayers, opt-350m)');
  const dim = num('hidden_size');
  if (cfg.word_embed_proj_dim != null && num('word_embed_proj_dim') !== dim) refuse(`word_embed_proj_dim ${cfg.word_embed_proj_dim} != hidden_size ${dim} (projected embeddings)`);
  if ((cfg.activation_function ?? 'relu') !== 'relu') refuse(`activation_function '${cfg.activation_function}' (only relu)`);
  if (cfg.enable_bias === false || cfg.layer_norm_elementwise_affine === false) refuse('OPT without biases or norm weights');
  const nHeads = num('num_attention_heads');
  const config: ModelConfig = {
    arch: 'llama', dim, hiddenDim: num('ffn_dim'), nLayers: num('num_hidden_layers'), nHeads, nKvHeads: nHeads, vocabSize: num('vocab_size'),
    maxSeqLen: num('max_position_embeddings'), ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: cfg.tie_word_embeddings !== false, rope: 'half',
    positions: 'learned', normKind: 'layer', normBias: true, qkvBias: true, oBias: true, mlpBias: true, gated: false, activation: 'relu',
  };
  validateConfig(config, source, { nLayers: 'num_hidden_layers', hiddenDim: 'ffn_dim' });
  return config;
}

/** config.json's rope_scaling: none, or Llama 3's (rope_type "llama3"); any other kind is refused. */
function hfRopeScaling(v: unknown, refuse: (what: string) => never): RopeScaling | undefined {
  if (v === undefined || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const kind = r.rope_type ?? r.type;
  if (kind !== 'llama3') refuse(`rope_scaling ${JSON.stringify(v)}`);
  const n = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : refuse(`rope_scaling without a number ${k}`));
  return { kind: 'llama3', factor: n('factor'), lowFreqFactor: n('low_freq_factor'), highFreqFactor: n('high_freq_factor'), originalMaxSeqLen: n('original_max_position_embeddings') };
}

/** All safetensors files of the folder, and which file holds each stored name. */
async function openWeights(dir: string, source: string): Promise<{ files: SafetensorsFile[]; where: Map<string, SafetensorsFile> }> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  const files: SafetensorsFile[] = [];
  const where = new Map<string, SafetensorsFile>();
  try {
    if (existsSync(single)) {
      files.push(await openSafetensors(single));
      for (const k of files[0].entries.keys()) where.set(k, files[0]);
    } else if (existsSync(index)) {
      const idx = await readJson(index, `${source}: model.safetensors.index.json`);
      const map = idx.weight_map as Record<string, unknown> | undefined;
      if (!map || typeof map !== 'object') throw new FormatError(`${source}: model.safetensors.index.json has no weight_map`);
      const byFile = new Map<string, SafetensorsFile>();
      for (const [tensor, file] of Object.entries(map)) {
        if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
          throw new FormatError(`${source}: model.safetensors.index.json maps ${tensor} to ${JSON.stringify(file)}`);
        }
        let f = byFile.get(file);
        if (!f) {
          const p = join(dir, file);
          if (!existsSync(p)) throw new FormatError(`${source}: model.safetensors.index.json names shard ${file}, which is missing`);
          f = await openSafetensors(p);
          byFile.set(file, f);
          files.push(f);
        }
        if (!f.entries.has(tensor)) throw new FormatError(`${source}: model.safetensors.index.json puts ${tensor} in ${file}, which does not hold it`);
        where.set(tensor, f);
      }
    } else if (existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'))) {
      throw new UnsupportedError(`${source}: only safetensors weights are read; this folder has PyTorch pytorch_model.bin weights (convert them to safetensors)`);
    } else {
      throw new FormatError(`${source}: ${dir} has no model.safetensors or model.safetensors.index.json`);
    }
  } catch (e) {
    await Promise.all(files.map((f) => f.fh.close()));
    throw e;
  }
  return { files, where };
}

/** The tensors a folder must hold: all of them, or for a gradient checkpoint the seven linear layers of each block. */
function requiredShapes(config: ModelConfig, gradients = false): Map<string, number[]> {
  const all = tensorShapes(config);
  if (!gradients) return all;
  return new Map([...all].filter(([name]) => LINEAR_LAYERS.some((l) => name.endsWith(`.${l}`))));
}

/** Every stored tensor name and the shard holding it; a tensor held by two shards is refused. */
function storedNames(files: SafetensorsFile[], source: string): Map<string, string> {
  const holder = new Map<string, string>();
  for (const f of files) {
    for (const name of f.entries.keys()) {
      const other = holder.get(name);
      if (other !== undefined) throw new FormatError(`${source}: tensor ${name} is stored twice (in ${other} and ${basename(f.path)})`);
      holder.set(name, basename(f.path));
    }
  }
  return holder;
}

/**
 * Notes on the stored tensors no canonical tensor took. Biases are refused (the forward pass has
 * no place for them); RoPE's inv_freq (recomputed) and the second copy of a tied head are
 * expected; anything else is named. A gradient checkpoint holds every parameter: no notes.
 */
function leftovers(stored: Iterable<string>, used: Map<string, TensorRef>, config: ModelConfig, source: string, gradients: boolean): string[] {
  if (gradients) return [];
  const taken = new Set([...used.values()].map((r) => r.storedName));
  const ignored: string[] = [];
  for (const name of stored) {
    if (taken.has(name) || /\.rotary_emb\.inv_freq$/.test(name) || (name === 'lm_head.weight' && config.tiedEmbeddings)) continue;
    if (/\.bias$/.test(name)) throw new UnsupportedError(`${source}: tensor ${name} is not supported (the llama forward pass here has no biases)`);
    ignored.push(name);
  }
  return ignored.length ? [`ignored tensors: ${nameList(ignored, 8)}`] : [];
}

/** The rows of a fused Phi-3 tensor (q, k, v or gate, up stacked) that are `canonical`, checking the whole has the parts' rows. */
function fusedPartRef(whole: TensorRef, canonical: string, parts: readonly string[], config: ModelConfig, source: string): TensorRef {
  const prefix = canonical.replace(/[^.]+\.[^.]+$/, '');
  const shapes = tensorShapes(config);
  const rows = parts.map((p) => shapes.get(prefix + p)![0]);
  const cols = shapes.get(canonical)![1];
  const want = [rows.reduce((a, b) => a + b, 0), cols];
  if (fmtShape(whole.shape) !== fmtShape(want)) throw new FormatError(`${source}: tensor ${whole.storedName} has shape ${fmtShape(whole.shape)}, expected ${fmtShape(want)} (${parts.join(', ')} stacked) from config.json`);
  const i = parts.findIndex((p) => prefix + p === canonical);
  const before = rows.slice(0, i).reduce((a, b) => a + b, 0);
  return { ...whole, offset: whole.offset + storedBytes(whole.dtype, before * cols), shape: [rows[i], cols] };
}

/** embed_positions without its first OPT_POSITION_OFFSET rows (never used: position p reads row p + 2). */
function optPositions(whole: TensorRef, config: ModelConfig, source: string): TensorRef {
  const want = [config.maxSeqLen + OPT_POSITION_OFFSET, config.dim];
  if (fmtShape(whole.shape) !== fmtShape(want)) throw new FormatError(`${source}: tensor ${whole.storedName} has shape ${fmtShape(whole.shape)}, expected ${fmtShape(want)} (max_position_embeddings + ${OPT_POSITION_OFFSET} rows)`);
  return { ...whole, offset: whole.offset + storedBytes(whole.dtype, OPT_POSITION_OFFSET * config.dim), shape: [config.maxSeqLen, config.dim] };
}

/** Opens a Hugging Face folder. `tokenizer` replaces the folder's tokenizer.json (a .json, or a llama2.c tokenizer.bin). */
export async function openHf(dir: string, opts: { tokenizer?: string; gradients?: boolean } = {}): Promise<Checkpoint> {
  assertLittleEndianHost();
  const source = `Hugging Face ${basename(dir)}`;
  const cfg = await readJson(join(dir, 'config.json'), `${source}: config.json`);
  const { config, notes } = hfModelConfig(cfg, source);

  const hints: SpecialTokenHints = {
    configs: [cfg, await readJsonIfExists(join(dir, 'generation_config.json'), `${source}: generation_config.json`)],
    tokenizerConfig: await readJsonIfExists(join(dir, 'tokenizer_config.json'), `${source}: tokenizer_config.json`),
  };
  let tokenizer: TokenizerSpec | undefined;
  if (opts.gradients) tokenizer = undefined;
  else if (opts.tokenizer) tokenizer = await readTokenizerFile(opts.tokenizer, config.vocabSize, hints);
  else if (existsSync(join(dir, 'tokenizer.json'))) tokenizer = await readHfTokenizer(join(dir, 'tokenizer.json'), hints);
  else throw new FormatError(`${source}: ${dir} has no tokenizer.json; pass one with --tokenizer`);

  const { files, where } = await openWeights(dir, source);
  try {
    const stored = storedNames(files, source);
    checkLayerCount(stored.keys(), config.nLayers, /^model\.(?:decoder\.)?layers\.(\d+)\./, `${source}: config.json num_hidden_layers`);
    const tensors = new Map<string, TensorRef>();
    const type = cfg.model_type as string;
    for (const [canonical, shape] of requiredShapes(config, opts.gradients)) {
      const name = hfTensorName(canonical, type);
      let stored: string | undefined = where.has(name) ? name : undefined;
      // A tied checkpoint may store the matrix once: safetensors metadata names the alias
      // (e.g. {"model.embed_tokens.weight": "lm_head.weight"}), or only lm_head.weight is present.
      if (!stored) {
        for (const f of files) {
          const alias = f.metadata[name];
          if (typeof alias === 'string' && where.has(alias)) stored = alias;
        }
      }
      if (!stored && canonical === 'embed' && config.tiedEmbeddings && where.has('lm_head.weight')) stored = 'lm_head.weight';
      if (!stored) {
        if (opts.gradients) throw new FormatError(`${source}: gradient checkpoint lacks ${name} (${canonical})`);
        const hint = canonical === 'head' ? ' (config.json has tie_word_embeddings false; the head must be stored)' : '';
        throw new FormatError(`${source}: tensor ${name} (${canonical}) is missing${hint}`);
      }
      const fused = type === 'phi3' ? PHI3_PART_OF.get(canonical.replace(/^layers\.\d+\./, '')) : undefined;
      const whole = safetensorsRef(where.get(stored)!, stored);
      const ref = fused ? fusedPartRef(whole, canonical, fused.parts, config, source) : type === 'opt' && canonical === 'pos_embed' ? optPositions(whole, config, source) : whole;
      if (fmtShape(ref.shape) !== fmtShape(shape)) {
        throw new FormatError(`${source}: tensor ${stored} (${canonical}) has shape ${fmtShape(ref.shape)}, expected ${fmtShape(shape)} from config.json`);
      }
      tensors.set(canonical, ref);
    }
    notes.push(...leftovers(stored.keys(), tensors, config, source, opts.gradients === true));
    return makeCheckpoint({ source, config, tokenizer, tensors, handles: files.map((f) => f.fh), notes, required: requiredShapes(config, opts.gradients) });
  } catch (e) {
    await Promise.all(files.map((f) => f.fh.close()));
    throw e;
  }
}
