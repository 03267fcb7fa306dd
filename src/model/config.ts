// The model description shared by every reader, the .sqz header and the forward pass.
import type { RopeStyle } from '../kernels/reference.ts';
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
}

/** The seven linear layers of a block, in forward order; SqueezeLLM quantizes exactly these. */
export const LINEAR_LAYERS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down'] as const;
export type LinearLayer = (typeof LINEAR_LAYERS)[number];

export const headSize = (c: ModelConfig): number => c.dim / c.nHeads;
export const kvDim = (c: ModelConfig): number => (c.dim / c.nHeads) * c.nKvHeads;

/**
 * Canonical tensor names and shapes, in file order. Matrices are [out, in] (one row per output).
 *   embed [vocab, dim]; layers.{i}.attn_norm [dim]; layers.{i}.attn.{q,k,v,o}; layers.{i}.mlp_norm [dim];
 *   layers.{i}.mlp.{gate,up} [hidden, dim]; layers.{i}.mlp.down [dim, hidden]; norm [dim]; head [vocab, dim] unless tied.
 */
export function tensorShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const kv = kvDim(c);
  m.set('embed', [c.vocabSize, c.dim]);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    m.set(p + 'attn_norm', [c.dim]);
    m.set(p + 'attn.q', [c.dim, c.dim]);
    m.set(p + 'attn.k', [kv, c.dim]);
    m.set(p + 'attn.v', [kv, c.dim]);
    m.set(p + 'attn.o', [c.dim, c.dim]);
    m.set(p + 'mlp_norm', [c.dim]);
    m.set(p + 'mlp.gate', [c.hiddenDim, c.dim]);
    m.set(p + 'mlp.up', [c.hiddenDim, c.dim]);
    m.set(p + 'mlp.down', [c.dim, c.hiddenDim]);
  }
  m.set('norm', [c.dim]);
  if (!c.tiedEmbeddings) m.set('head', [c.vocabSize, c.dim]);
  return m;
}

/** Checks a config's numbers are usable, naming the first bad field. */
export function validateConfig(c: ModelConfig, source: string): void {
  const positive = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'maxSeqLen'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new FormatError(`${source}: config ${k} = ${c[k]} is not a positive integer`);
  }
  if (c.arch !== 'llama') throw new FormatError(`${source}: architecture '${c.arch}' is not supported (llama family only)`);
  if (c.dim % c.nHeads) throw new FormatError(`${source}: dim ${c.dim} is not a multiple of n_heads ${c.nHeads}`);
  if ((c.dim / c.nHeads) % 2) throw new FormatError(`${source}: head size ${c.dim / c.nHeads} is odd; RoPE needs pairs`);
  if (c.nHeads % c.nKvHeads) throw new FormatError(`${source}: n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  if (!(c.ropeTheta > 0)) throw new FormatError(`${source}: rope theta ${c.ropeTheta} must be positive`);
  if (!(c.normEps > 0)) throw new FormatError(`${source}: norm eps ${c.normEps} must be positive`);
  if (c.rope !== 'interleaved' && c.rope !== 'half') throw new FormatError(`${source}: unknown RoPE style '${c.rope}'`);
}
