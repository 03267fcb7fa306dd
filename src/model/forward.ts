// The Llama forward pass, read top to bottom like llama2.c's forward(): the backend's kernels are
// the verbs, the run state holds every buffer, and speed lives in the kernels. A batch of n
// consecutive tokens goes through at once (matmul over the batch), so a prompt costs one pass.
import type { AttentionShape, Backend, KvCache, Vec, Weight } from '../backend/types.ts';
import { slice } from '../backend/types.ts';
import type { KvKind } from '../kernels/attention.ts';
import { type ModelConfig, headSize, kvDim, layerWindow, resolveFamily, ropeFrequencies } from './config.ts';

export interface LayerWeights {
  attnNorm: Weight;
  q: Weight;
  k: Weight;
  v: Weight;
  o: Weight;
  mlpNorm: Weight;
  /** Absent for an ungated feed-forward (gated false). */
  gate?: Weight;
  up: Weight;
  down: Weight;
  /** Present when the config has them (qkvBias, oBias, postNorms, normBias, mlpBias). */
  qBias?: Weight;
  kBias?: Weight;
  vBias?: Weight;
  oBias?: Weight;
  attnPostNorm?: Weight;
  mlpPostNorm?: Weight;
  attnNormBias?: Weight;
  mlpNormBias?: Weight;
  gateBias?: Weight;
  upBias?: Weight;
  downBias?: Weight;
}

export interface ModelWeights {
  embed: Weight;
  /** Learned position embeddings (positions 'learned'). */
  posEmbed?: Weight;
  layers: LayerWeights[];
  norm: Weight;
  normBias?: Weight;
  /** The embedding itself when the model ties them. */
  head: Weight;
}

/** The weights of a model by role, from a lookup by canonical name (src/model/config.ts). */
export function assembleWeights(c: ModelConfig, get: (name: string) => Weight): ModelWeights {
  return {
    embed: get('embed'),
    ...(c.positions === 'learned' ? { posEmbed: get('pos_embed') } : {}),
    layers: Array.from({ length: c.nLayers }, (_, i) => ({
      attnNorm: get(`layers.${i}.attn_norm`),
      q: get(`layers.${i}.attn.q`),
      k: get(`layers.${i}.attn.k`),
      v: get(`layers.${i}.attn.v`),
      o: get(`layers.${i}.attn.o`),
      mlpNorm: get(`layers.${i}.mlp_norm`),
      ...(c.gated !== false ? { gate: get(`layers.${i}.mlp.gate`) } : {}),
      up: get(`layers.${i}.mlp.up`),
      down: get(`layers.${i}.mlp.down`),
      ...(c.qkvBias ? { qBias: get(`layers.${i}.attn.q_bias`), kBias: get(`layers.${i}.attn.k_bias`), vBias: get(`layers.${i}.attn.v_bias`) } : {}),
      ...(c.oBias ? { oBias: get(`layers.${i}.attn.o_bias`) } : {}),
      ...(c.postNorms ? { attnPostNorm: get(`layers.${i}.attn_post_norm`), mlpPostNorm: get(`layers.${i}.mlp_post_norm`) } : {}),
      ...(c.normBias ? { attnNormBias: get(`layers.${i}.attn_norm_bias`), mlpNormBias: get(`layers.${i}.mlp_norm_bias`) } : {}),
      ...(c.mlpBias ? { upBias: get(`layers.${i}.mlp.up_bias`), downBias: get(`layers.${i}.mlp.down_bias`), ...(c.gated !== false ? { gateBias: get(`layers.${i}.mlp.gate_bias`) } : {}) } : {}),
    })),
    norm: get('norm'),
    ...(c.normBias ? { normBias: get('norm_bias') } : {}),
    head: c.tiedEmbeddings ? get('embed') : get('head'),
  };
}

/** Every buffer the forward pass touches, placed once: activations for up to `batch` tokens and the KV cache. */
export class RunState {
  readonly x: Vec; // residual stream [batch, dim]
  readonly xb: Vec; // normed input of a sublayer [batch, dim]
  readonly xb2: Vec; // sublayer output [batch, dim]
  readonly q: Vec; // queries [batch, dim]
  readonly att: Vec; // attention output [batch, dim]
  readonly hb: Vec; // gate, then silu(gate) * up [batch, hidden]
  readonly hb2: Vec; // up [batch, hidden]
  readonly logits: Vec; // [batch, vocab]
  readonly k: Vec; // keys of the batch before they go into the cache [batch, kvDim]
  readonly v: Vec;
  readonly kv: KvCache; // every layer's keys and values, per KV head (src/kernels/attention.ts)

  constructor(backend: Backend, c: ModelConfig, readonly ctx: number, readonly batch: number, kind: KvKind, residual?: number) {
    const kv = kvDim(c);
    this.x = backend.alloc(batch * c.dim);
    this.xb = backend.alloc(batch * c.dim);
    this.xb2 = backend.alloc(batch * c.dim);
    this.q = backend.alloc(batch * c.dim);
    this.att = backend.alloc(batch * c.dim);
    this.hb = backend.alloc(batch * c.hiddenDim);
    this.hb2 = backend.alloc(batch * c.hiddenDim);
    this.logits = backend.alloc(batch * c.vocabSize);
    this.k = backend.alloc(batch * kv);
    this.v = backend.alloc(batch * kv);
    this.kv = backend.kvCache({ kind, layers: c.nLayers, ctx, nKvHeads: c.nKvHeads, headSize: headSize(c), residual });
  }
}

/**
 * Runs tokens[0..n) at positions pos..pos+n-1 (n <= s.batch, pos + n <= s.ctx), filling the KV
 * cache, and returns the logits of positions logitsFrom..n-1 as one [n - logitsFrom, vocab] array.
 */
export function forward(b: Backend, c: ModelConfig, w: ModelWeights, s: RunState, tokens: number[], pos: number, logitsFrom = tokens.length - 1): Float32Array {
  const n = tokens.length;
  const { dim, hiddenDim, vocabSize } = c;
  const kv = kvDim(c);
  const row = (v: Vec, i: number, width: number) => slice(v, i * width, width);
  const rows = (v: Vec, count: number, width: number) => slice(v, 0, count * width);
  // the family's choices (config.ts); each `!` op is there, checked at load (family.ts)
  const f = resolveFamily(c);
  const bias = (v: Vec, weight: Weight | undefined) => weight && b.addBias!(v, weight);
  const norm = (out: Vec, x: Vec, weight: Weight, shift?: Weight) => {
    if (f.normKind === 'layer') b.layernorm!(out, x, weight, c.normEps);
    else b.rmsnorm(out, x, weight, c.normEps);
    bias(out, shift);
  };
  // a sublayer's output normed before the residual add where the family has post-norms (Gemma 2)
  const postNorm = (v: Vec, weight: Weight | undefined) => {
    if (weight) for (let i = 0; i < n; i++) norm(row(v, i, dim), row(v, i, dim), weight);
  };
  const ropeFreqs = ropeFrequencies(c);
  const attention = (l: number): AttentionShape => ({
    nHeads: c.nHeads, nKvHeads: c.nKvHeads, headSize: headSize(c), ropeTheta: c.ropeTheta, rope: c.rope,
    ...(ropeFreqs ? { ropeFreqs } : {}), window: layerWindow(f, l), scoreSoftcap: f.attnSoftcap,
  });

  // token embeddings into the residual stream
  for (let i = 0; i < n; i++) b.embed(row(s.x, i, dim), w.embed, tokens[i]);
  if (f.embedScale !== 1) b.scale!(rows(s.x, n, dim), f.embedScale);
  // learned positions (OPT): each position's row added; RoPE then turns by angle 0 (ropeFrequencies)
  if (w.posEmbed) {
    for (let i = 0; i < n; i++) b.embed(row(s.xb, i, dim), w.posEmbed, pos + i);
    b.add(rows(s.x, n, dim), rows(s.x, n, dim), rows(s.xb, n, dim));
  }

  for (let l = 0; l < c.nLayers; l++) {
    const L = w.layers[l];
    // attention norm
    for (let i = 0; i < n; i++) norm(row(s.xb, i, dim), row(s.x, i, dim), L.attnNorm, L.attnNormBias);

    // q, k, v projections
    b.matmul(rows(s.q, n, dim), L.q, rows(s.xb, n, dim), n);
    b.matmul(rows(s.k, n, kv), L.k, rows(s.xb, n, dim), n);
    b.matmul(rows(s.v, n, kv), L.v, rows(s.xb, n, dim), n);
    bias(rows(s.q, n, dim), L.qBias);
    bias(rows(s.k, n, kv), L.kBias);
    bias(rows(s.v, n, kv), L.vBias);

    // RoPE on q and k (per-pair frequencies when scaled), k and v into the cache, causal
    // grouped-query attention: position pos+i sees 0..pos+i, or the layer's sliding window of them
    b.attend(rows(s.att, n, dim), rows(s.q, n, dim), rows(s.k, n, kv), rows(s.v, n, kv), s.kv, l, pos, n, attention(l));

    // output projection and residual
    b.matmul(rows(s.xb2, n, dim), L.o, rows(s.att, n, dim), n);
    bias(rows(s.xb2, n, dim), L.oBias);
    postNorm(s.xb2, L.attnPostNorm);
    b.add(rows(s.x, n, dim), rows(s.x, n, dim), rows(s.xb2, n, dim));

    // ffn norm
    for (let i = 0; i < n; i++) norm(row(s.xb, i, dim), row(s.x, i, dim), L.mlpNorm, L.mlpNormBias);

    // feed-forward: down(act(gate x) * up x) (SwiGLU for silu, GeGLU for gelu-tanh), or ungated
    // down(act(up x)) (OPT's ReLU), and residual
    const hb = rows(s.hb, n, hiddenDim);
    if (L.gate) {
      b.matmul(hb, L.gate, rows(s.xb, n, dim), n);
      bias(hb, L.gateBias);
      b.matmul(rows(s.hb2, n, hiddenDim), L.up, rows(s.xb, n, dim), n);
      bias(rows(s.hb2, n, hiddenDim), L.upBias);
      if (f.activation === 'silu') b.swiglu(hb, hb, rows(s.hb2, n, hiddenDim));
      else b.gatedActivation!(hb, hb, rows(s.hb2, n, hiddenDim), f.activation);
    } else {
      b.matmul(hb, L.up, rows(s.xb, n, dim), n);
      bias(hb, L.upBias);
      b.activation!(hb, f.activation);
    }
    b.matmul(rows(s.xb2, n, dim), L.down, hb, n);
    bias(rows(s.xb2, n, dim), L.downBias);
    postNorm(s.xb2, L.mlpPostNorm);
    b.add(rows(s.x, n, dim), rows(s.x, n, dim), rows(s.xb2, n, dim));
  }

  // final norm and the classifier, for the positions whose logits are wanted
  const m = n - logitsFrom;
  for (let i = 0; i < m; i++) norm(row(s.xb, i, dim), row(s.x, logitsFrom + i, dim), w.norm, w.normBias);
  b.matmul(rows(s.logits, m, vocabSize), w.head, rows(s.xb, m, dim), m);
  if (f.logitSoftcap) b.softcap!(rows(s.logits, m, vocabSize), f.logitSoftcap);
  return b.read(rows(s.logits, m, vocabSize));
}
