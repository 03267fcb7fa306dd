// Test-only writers for tiny synthetic checkpoints, written from the format descriptions (not from
// the readers), so reading them back checks the readers independently.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { halfToFloat } from '../../src/kernels/reference.ts';
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import { Rng } from '../../src/util/random.ts';

export function tempDir(tag: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sqz-ckpt-${tag}-`));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    arch: 'llama', dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 10, maxSeqLen: 8,
    ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true, rope: 'interleaved', ...over,
  };
}

/** Plain arrays for one model in llama2.c's own terms (one entry per layer where it is per-layer). */
export interface L2cWeights {
  embed: Float32Array; rmsAtt: Float32Array[]; wq: Float32Array[]; wk: Float32Array[]; wv: Float32Array[]; wo: Float32Array[];
  rmsFfn: Float32Array[]; w1: Float32Array[]; w2: Float32Array[]; w3: Float32Array[]; rmsFinal: Float32Array;
  freqReal: Float32Array; freqImag: Float32Array; wcls?: Float32Array;
}

export function randomL2c(c: ModelConfig, seed: number, unshared: boolean): L2cWeights {
  const r = new Rng(seed);
  const kv = (c.dim / c.nHeads) * c.nKvHeads;
  const per = (n: number) => Array.from({ length: c.nLayers }, () => r.normals(n));
  const hs2 = c.dim / c.nHeads / 2;
  return {
    embed: r.normals(c.vocabSize * c.dim), rmsAtt: per(c.dim), wq: per(c.dim * c.dim), wk: per(kv * c.dim), wv: per(kv * c.dim),
    wo: per(c.dim * c.dim), rmsFfn: per(c.dim), w1: per(c.hiddenDim * c.dim), w2: per(c.dim * c.hiddenDim), w3: per(c.hiddenDim * c.dim),
    rmsFinal: r.normals(c.dim), freqReal: r.normals(c.maxSeqLen * hs2), freqImag: r.normals(c.maxSeqLen * hs2),
    wcls: unshared ? r.normals(c.vocabSize * c.dim) : undefined,
  };
}

const f32bytes = (arrs: Float32Array[]) => arrs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));

/** llama2.c legacy v0: 7 int32 (vocab negative when wcls is stored), then run.c order. */
export function writeL2cV0(path: string, c: ModelConfig, w: L2cWeights): void {
  const head = Buffer.alloc(28);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, w.wcls ? -c.vocabSize : c.vocabSize, c.maxSeqLen].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  const parts = [w.embed, ...w.rmsAtt, ...w.wq, ...w.wk, ...w.wv, ...w.wo, ...w.rmsFfn, ...w.w1, ...w.w2, ...w.w3, w.rmsFinal, w.freqReal, w.freqImag];
  if (w.wcls) parts.push(w.wcls);
  writeFileSync(path, Buffer.concat([head, ...f32bytes(parts)]));
}

/** llama2.c export.py version 1: 256-byte header (magic, version, 7 ints, shared flag), norms first, no freq_cis. */
export function writeL2cV1(path: string, c: ModelConfig, w: L2cWeights, version = 1): void {
  const head = Buffer.alloc(256);
  head.writeUInt32LE(0x616b3432, 0);
  head.writeInt32LE(version, 4);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.maxSeqLen].forEach((v, i) => head.writeInt32LE(v, 8 + 4 * i));
  head.writeUInt8(w.wcls ? 0 : 1, 36);
  const parts = [...w.rmsAtt, ...w.rmsFfn, w.rmsFinal, w.embed, ...w.wq, ...w.wk, ...w.wv, ...w.wo, ...w.w1, ...w.w2, ...w.w3];
  if (w.wcls) parts.push(w.wcls);
  writeFileSync(path, Buffer.concat([head, ...f32bytes(parts)]));
}

/**
 * export.py's Q8_0 for one tensor, written from its description: per group of g values,
 * scale = max|w| / 127, q = round(w / scale); returns the int8 values, the scales, and q * scale.
 */
export function q80(w: Float32Array, g: number): { q: Int8Array; s: Float32Array; deq: Float32Array } {
  const q = new Int8Array(w.length);
  const s = new Float32Array(w.length / g);
  const deq = new Float32Array(w.length);
  for (let k = 0; k < s.length; k++) {
    let m = 0;
    for (let i = k * g; i < (k + 1) * g; i++) m = Math.max(m, Math.abs(w[i]));
    s[k] = m / 127;
    for (let i = k * g; i < (k + 1) * g; i++) {
      q[i] = s[k] === 0 ? 0 : Math.round(w[i] / s[k]);
      deq[i] = q[i] * s[k];
    }
  }
  return { q, s, deq };
}

/**
 * llama2.c export.py version 2: the v1 header with int32 group_size at byte 37, f32 norms, then each
 * weight as int8 followed by its f32 group scales. Returns the weights as a reader must give them (q * scale).
 */
export function writeL2cV2(path: string, c: ModelConfig, w: L2cWeights, g: number): L2cWeights {
  const head = Buffer.alloc(256);
  head.writeUInt32LE(0x616b3432, 0);
  head.writeInt32LE(2, 4);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.maxSeqLen].forEach((v, i) => head.writeInt32LE(v, 8 + 4 * i));
  head.writeUInt8(w.wcls ? 0 : 1, 36);
  head.writeInt32LE(g, 37);
  const norms = [...w.rmsAtt, ...w.rmsFfn, w.rmsFinal];
  const bufs = [head, ...f32bytes(norms)];
  const quant = (a: Float32Array): Float32Array => {
    const { q, s, deq } = q80(a, g);
    bufs.push(Buffer.from(q.buffer), ...f32bytes([s]));
    return deq;
  };
  const embed = quant(w.embed);
  const [wq, wk, wv, wo, w1, w2, w3] = [w.wq, w.wk, w.wv, w.wo, w.w1, w.w2, w.w3].map((l) => l.map(quant));
  const wcls = w.wcls ? quant(w.wcls) : undefined;
  writeFileSync(path, Buffer.concat(bufs));
  return { ...w, embed, wq, wk, wv, wo, w1, w2, w3, wcls };
}

/** Canonical name -> expected f32 values for a llama2.c weight set. */
export function l2cExpected(c: ModelConfig, w: L2cWeights): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>([['embed', w.embed]]);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    m.set(p + 'attn_norm', w.rmsAtt[i]).set(p + 'attn.q', w.wq[i]).set(p + 'attn.k', w.wk[i]).set(p + 'attn.v', w.wv[i]);
    m.set(p + 'attn.o', w.wo[i]).set(p + 'mlp_norm', w.rmsFfn[i]).set(p + 'mlp.gate', w.w1[i]).set(p + 'mlp.down', w.w2[i]).set(p + 'mlp.up', w.w3[i]);
  }
  m.set('norm', w.rmsFinal);
  if (w.wcls) m.set('head', w.wcls);
  return m;
}

/** llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len, bytes. */
export function writeL2cTokenizer(path: string, pieces: string[], scores: number[]): void {
  const bufs = pieces.map((p) => Buffer.from(p, 'utf8'));
  const head = Buffer.alloc(4);
  head.writeInt32LE(Math.max(...bufs.map((b) => b.length)), 0);
  const parts = [head];
  bufs.forEach((b, i) => {
    const h = Buffer.alloc(8);
    h.writeFloatLE(scores[i], 0);
    h.writeInt32LE(b.length, 4);
    parts.push(h, b);
  });
  writeFileSync(path, Buffer.concat(parts));
}

// ---- safetensors ----

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32';
const ST_BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4 };

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  /** Raw little-endian element bytes. */
  data: Uint8Array;
}

/** Writes a safetensors file: u64 LE header length, JSON header (offsets relative to the data), data (in the given order). */
export function writeSafetensors(path: string, tensors: Record<string, StTensor>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1) * ST_BYTES[t.dtype];
    if (n !== t.data.byteLength) throw new Error(`writer: ${name} has ${t.data.byteLength} bytes, wants ${n}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the reference writer pads to 8 with spaces
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...Object.values(tensors).map((t) => Buffer.from(t.data))]));
}

export const f32Tensor = (shape: number[], v: Float32Array): StTensor => ({ dtype: 'F32', shape, data: new Uint8Array(v.buffer.slice(0)) });

/**
 * Random 16-bit patterns that are finite in both f16 and bf16 (exponent field not all ones in
 * either) and, as bf16, below 2^32 in magnitude (the readers refuse larger weights as corrupt).
 */
export function randomHalfBits(n: number, r: Rng): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let b: number;
    do b = r.int(65536);
    while (((b >> 10) & 0x1f) === 0x1f || ((b >> 7) & 0xff) >= 127 + 32);
    out[i] = b;
  }
  return out;
}

/** bf16 bits to f32 by definition (the high half of an f32), through a DataView. */
export function bf16ToF32Ref(bits: Uint16Array): Float32Array {
  const dv = new DataView(new ArrayBuffer(4));
  return Float32Array.from(bits, (b) => {
    dv.setUint16(0, 0, true);
    dv.setUint16(2, b, true);
    return dv.getFloat32(0, true);
  });
}

export const HF_LAYER_NAMES: Record<string, string> = {
  attn_norm: 'input_layernorm', 'attn.q': 'self_attn.q_proj', 'attn.k': 'self_attn.k_proj', 'attn.v': 'self_attn.v_proj',
  'attn.o': 'self_attn.o_proj', mlp_norm: 'post_attention_layernorm', 'mlp.gate': 'mlp.gate_proj', 'mlp.up': 'mlp.up_proj', 'mlp.down': 'mlp.down_proj',
};

/** HF config.json for a tiny config. */
export function hfConfigJson(c: ModelConfig, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: c.dim, intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads, vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen, rms_norm_eps: 1e-6, rope_theta: 10000, rope_scaling: null,
    tie_word_embeddings: c.tiedEmbeddings, hidden_act: 'silu', bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32', ...over,
  };
}

/** A minimal tokenizer.json (enough for the reader, which keeps it verbatim). */
export const TINY_TOKENIZER_JSON = JSON.stringify({
  version: '1.0',
  added_tokens: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true }],
  model: { type: 'BPE', vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, a: 3, b: 4 }, merges: [] },
});

// ---- Hugging Face folders ----

export const hfName = (canonical: string): string => {
  if (canonical === 'embed') return 'model.embed_tokens.weight';
  if (canonical === 'norm') return 'model.norm.weight';
  if (canonical === 'head') return 'lm_head.weight';
  const [, i, part, bias] = /^layers\.(\d+)\.(.+?)(_bias)?$/.exec(canonical)!;
  return `model.layers.${i}.${HF_LAYER_NAMES[part]}.${bias ? 'bias' : 'weight'}`;
};

/** A random tensor stored as `dtype`, and the f32 values a reader must return for it. */
export function randomTensor(shape: number[], dtype: StDtype, r: Rng): { t: StTensor; want: Float32Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'F32') {
    const v = r.normals(n);
    return { t: f32Tensor(shape, v), want: v };
  }
  if (dtype === 'F16' || dtype === 'BF16') {
    const bits = randomHalfBits(n, r);
    const want = dtype === 'BF16' ? bf16ToF32Ref(bits) : Float32Array.from(bits, halfToFloat);
    return { t: { dtype, shape, data: new Uint8Array(bits.buffer) }, want };
  }
  const v = new Float64Array(n).map(() => r.normal());
  return { t: { dtype, shape, data: new Uint8Array(v.buffer) }, want: new Float32Array(v) };
}

export interface Folder {
  /** Stored name -> tensor; which shard each goes to is `shards`. */
  tensors: Record<string, StTensor>;
  want: Map<string, Float32Array>;
}

/** Random tensors for every canonical name (head only when untied), stored under HF names; dtype picked by `dtypeOf`. */
export function randomFolder(c: ModelConfig, seed: number, dtypeOf: (canonical: string) => StDtype = () => 'F32'): Folder {
  const r = new Rng(seed);
  const tensors: Record<string, StTensor> = {};
  const want = new Map<string, Float32Array>();
  for (const [name, shape] of tensorShapes(c)) {
    const { t, want: w } = randomTensor(shape, dtypeOf(name), r);
    tensors[hfName(name)] = t;
    want.set(name, w);
  }
  return { tensors, want };
}

export function writeFolder(dir: string, c: ModelConfig, f: Folder, o: { config?: Record<string, unknown>; shards?: number; metadata?: Record<string, string>; tokenizer?: boolean } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfigJson(c, o.config)));
  if (o.tokenizer !== false) writeFileSync(join(dir, 'tokenizer.json'), TINY_TOKENIZER_JSON);
  const names = Object.keys(f.tensors);
  if (!o.shards) {
    writeSafetensors(join(dir, 'model.safetensors'), f.tensors, o.metadata ?? { format: 'pt' });
    return;
  }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < o.shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(o.shards).padStart(5, '0')}.safetensors`;
    const part: Record<string, StTensor> = {};
    names.forEach((n, i) => {
      if (i % o.shards! === s) {
        part[n] = f.tensors[n];
        weightMap[n] = file;
      }
    });
    writeSafetensors(join(dir, file), part, { format: 'pt' });
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}
