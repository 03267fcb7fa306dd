// GGUF export: any model the toolchain opens (a .sqz, dense or SqueezeLLM, or a checkpoint) as a
// GGUF v3 `llama` file that llama.cpp loads. Matrices are stored in the chosen type (f32, f16, q8_0,
// q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k) or in one of llama.cpp's mixes (Q3_K_S,
// Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_M);
// norms and other 1-D tensors stay F32. A matrix whose row length is not a whole number of the type's
// blocks falls back as llama.cpp's quantizer does: Q2_K and Q3_K to IQ4_NL, Q4_K to Q5_0, Q5_K to
// Q5_1, Q6_K to Q8_0, and to F16 when rows are not a multiple of 32 either. A model with Hugging Face (rotate-half) RoPE has its q
// and k rows permuted into GGUF's interleaved layout. docs/GGUF.md.
import { basename, extname } from 'node:path';
import { checkOutputFile } from '../../src/format/outpath.ts';
import { type ModelConfig, headSize, ropeFrequencies } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../checkpoint/index.ts';
import type { Checkpoint } from '../checkpoint/types.ts';
import { encodeGgml } from './blocks.ts';
import { FUSED, configMetadata, ggufArchitectureOf, ggufTensorName, permuteHalfToInterleaved, permuteInterleavedToHalf, tokenizerMetadata } from './llama.ts';
import { normValues } from '../../src/model/family.ts';
import { FILE_TYPE, GGML_TYPES, GT } from './spec.ts';
import { type KvValue, type TensorPlan, writeGguf } from './write.ts';

/**
 * llama.cpp's fallback (llama_tensor_get_type, convert_incompatible_tensor) for a K-quant matrix
 * whose rows are not whole 256-weight super-blocks: a 32-weight type with at least as many bits
 * (IQ4_NL for the 2- and 3-bit types, as for llama.cpp's IQ types).
 */
const K_FALLBACK: Record<number, number> = { [GT.Q2_K]: GT.IQ4_NL, [GT.Q3_K]: GT.IQ4_NL, [GT.Q4_K]: GT.Q5_0, [GT.Q5_K]: GT.Q5_1, [GT.Q6_K]: GT.Q8_0 };

export const GGUF_EXPORT_TYPES = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q3_k_s', 'q3_k_m', 'q4_k_s', 'q4_k_m', 'q5_k_m'] as const;
export type GgufExportType = (typeof GGUF_EXPORT_TYPES)[number];

/** The ggml type of most matrices (for the mixes, the type of those that get no more bits). */
const TYPE_IDS: Record<GgufExportType, number> = {
  f32: GT.F32, f16: GT.F16, q8_0: GT.Q8_0, q4_0: GT.Q4_0, q4_1: GT.Q4_1, q5_0: GT.Q5_0, q5_1: GT.Q5_1, iq4_nl: GT.IQ4_NL,
  q2_k: GT.Q2_K, q3_k: GT.Q3_K, q4_k: GT.Q4_K, q5_k: GT.Q5_K, q6_k: GT.Q6_K,
  q3_k_s: GT.Q3_K, q3_k_m: GT.Q3_K, q4_k_s: GT.Q4_K, q4_k_m: GT.Q4_K, q5_k_m: GT.Q5_K,
};

/** llama.cpp's mixes (its Q3_K_S .. Q5_K_M file types): the plain types store every matrix alike. */
const MIXES: ReadonlySet<GgufExportType> = new Set(['q3_k_s', 'q3_k_m', 'q4_k_s', 'q4_k_m', 'q5_k_m']);

/**
 * llama.cpp's use_more_bits (llama_tensor_get_type): the first and last eighth of the layers and
 * every third one between them.
 */
const useMoreBits = (i: number, n: number): boolean => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

/**
 * The type llama.cpp's mixes give a matrix (llama_tensor_get_type, for the tensors a dense Llama
 * has; the MoE, Falcon and 70B rules do not apply): Q6_K for the output head (the embedding when
 * they are tied, since it is the head too); for attn_v (counted by layer), ffn_down and attn_output
 *   q3_k_m  attn_v Q5_K in layers 0-1, else Q4_K; ffn_down Q5_K in the first n/16 layers, else Q4_K; attn_output Q4_K
 *   q4_k_s  attn_v Q5_K in layers 0-3; ffn_down Q5_K in the first n/8 layers
 *   q4_k_m, q5_k_m  attn_v and ffn_down Q6_K in the layers useMoreBits picks
 * and the base type for the rest (q3_k_s: Q3_K everywhere but the head; token_embd of an untied
 * model included).
 */
export function mixType(type: GgufExportType, canonical: string, nLayers: number, tied: boolean): number {
  const base = TYPE_IDS[type];
  if (canonical === 'head' || (tied && canonical === 'embed')) return GT.Q6_K;
  const m = /^layers\.(\d+)\.(attn\.v|attn\.o|mlp\.down)$/.exec(canonical);
  if (!m) return base;
  const i = Number(m[1]);
  const part = m[2];
  switch (type) {
    case 'q3_k_m':
      if (part === 'attn.v') return i < 2 ? GT.Q5_K : GT.Q4_K;
      if (part === 'mlp.down') return i < Math.trunc(nLayers / 16) ? GT.Q5_K : GT.Q4_K;
      return GT.Q4_K;
    case 'q4_k_s':
      if (part === 'attn.v') return i < 4 ? GT.Q5_K : base;
      if (part === 'mlp.down') return i < Math.trunc(nLayers / 8) ? GT.Q5_K : base;
      return base;
    case 'q4_k_m':
    case 'q5_k_m':
      return part !== 'attn.o' && useMoreBits(i, nLayers) ? GT.Q6_K : base;
    default:
      return base;
  }
}

export function parseGgufType(s: string | undefined): GgufExportType {
  if (s === undefined) return 'f16';
  const t = s.toLowerCase();
  if ((GGUF_EXPORT_TYPES as readonly string[]).includes(t)) return t as GgufExportType;
  throw new UsageError(`--type must be one of ${GGUF_EXPORT_TYPES.join(', ')}, got '${s}'`);
}

export interface GgufExportOptions {
  /** Storage of the matrices (default f16). */
  type?: GgufExportType;
  /** general.name (default: the source file name without its extension). */
  name?: string;
  /** Tokenizer file for a llama2.c checkpoint. */
  tokenizer?: string;
  /** Called after each tensor with (done, total). */
  onTensor?: (done: number, total: number) => void;
  /** Write a Llama-block model as phi3 (fused attn_qkv and gate/up ffn_up) rather than llama. */
  phi3?: boolean;
}

export interface GgufExportResult {
  /** Bytes written. */
  bytes: number;
  /** Each tensor: GGUF name and the ggml type it was stored as. */
  tensors: Array<{ name: string; canonical: string; type: string }>;
  /** What the user should know: fallbacks, permutations. */
  notes: string[];
}

/** Writes `source` (anything openCheckpoint opens) as GGUF at `out` (temp file renamed into place). */
export async function exportGguf(source: string, out: string, opts: GgufExportOptions = {}): Promise<GgufExportResult> {
  checkOutputFile(out);
  const ckpt = await openCheckpoint(source, { tokenizer: opts.tokenizer });
  try {
    const name = opts.name ?? basename(source.replace(/[/\\]+$/, ''), extname(source));
    return await exportCheckpointGguf(ckpt, out, { ...opts, name });
  } finally {
    await ckpt.close();
  }
}

/**
 * The tensor plan: GGUF name, ggml dims and type of each canonical tensor, with notes on fallbacks.
 * A matrix whose rows do not fill whole blocks of its type gets K_FALLBACK's type when that was a
 * K-quant, else (or when rows do not fill that type's blocks either) F16, as llama.cpp does.
 */
export function planTensors(ckpt: Checkpoint, type: GgufExportType): { plans: Array<TensorPlan & { canonical: string }>; notes: string[] } {
  const mix = MIXES.has(type);
  const { nLayers, tiedEmbeddings } = ckpt.config;
  // "planned>stored" -> the matrices that fell back that way
  const fallbacks = new Map<string, string[]>();
  const plans = ckpt.names().map((canonical) => {
    const shape = ckpt.shape(canonical);
    const cols = shape[shape.length - 1];
    const planned = shape.length < 2 ? GT.F32 : mix ? mixType(type, canonical, nLayers, tiedEmbeddings) : TYPE_IDS[type];
    let t = planned;
    if (cols % GGML_TYPES[t].blockSize) {
      const next = K_FALLBACK[t];
      t = next !== undefined && cols % GGML_TYPES[next].blockSize === 0 ? next : GT.F16;
      const key = `${planned}>${t}`;
      fallbacks.set(key, [...(fallbacks.get(key) ?? []), `${ggufTensorName(canonical)} (${cols} columns)`]);
    }
    return { canonical, name: ggufTensorName(canonical), ne: shape.slice().reverse(), type: t };
  });
  const lower = (t: number) => GGML_TYPES[t].name.toLowerCase();
  const notes = [...fallbacks].map(([key, list]) => {
    const [planned, t] = key.split('>').map(Number);
    const next = K_FALLBACK[planned];
    const also = t === GT.F16 && next !== undefined ? ` and ${lower(next)} of ${GGML_TYPES[next].blockSize}` : '';
    const why = t === next ? " (llama.cpp's fallback)" : '';
    return `${lower(planned)} needs rows that are a multiple of ${GGML_TYPES[planned].blockSize} weights${also}; stored as ${lower(t)} instead${why}: ${list.join(', ')}`;
  });
  return { plans, notes };
}

/** A tensor to write: one canonical tensor, several stacked by rows (phi3's fused parts), or RoPE divisors. */
type Planned = TensorPlan & { canonical: string; parts?: readonly string[]; values?: Float32Array };

/** phi3's plans: each layer's q, k, v as one attn_qkv, gate and up as one ffn_up (FUSED), typed as their first part. */
function fusePlans(plans: Planned[], shape: (name: string) => number[]): Planned[] {
  const out: Planned[] = [];
  for (const p of plans) {
    const m = /^(layers\.\d+\.)(.+)$/.exec(p.canonical);
    const fused = m && Object.keys(FUSED).find((f) => FUSED[f].includes(m[2]));
    if (!fused) out.push(p);
    else if (FUSED[fused][0] === m![2]) {
      const parts = FUSED[fused].map((n) => m![1] + n);
      const canonical = m![1] + fused;
      out.push({ ...p, canonical, name: ggufTensorName(canonical), parts, ne: [p.ne[0], parts.reduce((r, n) => r + shape(n)[0], 0)] });
    }
  }
  return out;
}

/** rope_freqs.weight for a scaled config: each pair's divisor theta^(-2i/headSize) / frequency, as llama.cpp reads it. */
function ropeFreqsPlan(c: ModelConfig): Planned[] {
  const freqs = ropeFrequencies(c);
  if (!freqs) return [];
  const hs = headSize(c);
  const values = Float32Array.from(freqs, (f, i) => Math.pow(c.ropeTheta, (-2 * i) / hs) / f);
  return [{ canonical: 'rope_freqs', name: 'rope_freqs.weight', ne: [hs / 2], type: GT.F32, values }];
}

export async function exportCheckpointGguf(ckpt: Checkpoint, out: string, opts: GgufExportOptions = {}): Promise<GgufExportResult> {
  const type = opts.type ?? 'f16';
  const c = ckpt.config;
  const planned = planTensors(ckpt, type);
  const notes = planned.notes;
  const quantized = type !== 'f32' && type !== 'f16';
  const arch = ggufArchitectureOf(c, ckpt.source, opts.phi3);
  const plans: Planned[] = [...ropeFreqsPlan(c), ...(arch === 'phi3' ? fusePlans(planned.plans, (n) => ckpt.shape(n)) : planned.plans)];
  const metadata: Array<[string, KvValue]> = [
    ...configMetadata(c, opts.name ?? ckpt.source, FILE_TYPE[type], quantized, arch),
    ...tokenizerMetadata(ckpt.tokenizer, c.vocabSize, ckpt.source),
  ];
  // llama.cpp's llama pairs RoPE (2i, 2i+1); its qwen2, gemma, gemma2 and phi3 pair (i, i + headSize/2) as Hugging Face does
  const wantHalf = arch !== 'llama';
  const permute = (c.rope === 'half') !== wantHalf;
  if (permute && c.rope === 'half') notes.push('q and k rows permuted from rotate-half (Hugging Face) RoPE to the interleaved layout GGUF uses');
  if (permute && c.rope !== 'half') notes.push(`q and k rows permuted from the interleaved RoPE layout to the rotate-half one llama.cpp's ${arch} uses`);
  const hs = headSize(c);
  const readPart = async (canonical: string) => {
    let x = await ckpt.read(canonical);
    if (permute && /\.attn\.[qk](_bias)?$/.test(canonical)) {
      const shape = ckpt.shape(canonical);
      x = c.rope === 'half' ? permuteHalfToInterleaved(x, shape[0], shape[1] ?? 1, hs) : permuteInterleavedToHalf(x, shape[0], shape[1] ?? 1, hs);
    }
    // GGUF keeps norm weights as they scale (llama.cpp's gemma converter adds Hugging Face's + 1)
    return normValues(canonical, x, c);
  };
  const bytes = await writeGguf(out, metadata, plans, async (i) => {
    const p = plans[i];
    let x: Float32Array;
    if (p.values) x = p.values;
    else if (!p.parts) x = await readPart(p.canonical);
    else {
      const parts = await Promise.all(p.parts.map(readPart));
      x = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
      parts.reduce((at, a) => (x.set(a, at), at + a.length), 0);
    }
    const b = encodeGgml(p.type, x);
    opts.onTensor?.(i + 1, plans.length);
    return b;
  });
  return { bytes, tensors: plans.map((p) => ({ name: p.name, canonical: p.canonical, type: GGML_TYPES[p.type].name })), notes };
}
