// GGUF export: any model the toolchain opens (a .sqz, dense or SqueezeLLM, or a checkpoint) as a
// GGUF v3 `llama` file that llama.cpp loads. Matrices are stored in the chosen type (f32, f16, q8_0,
// q4_0 or iq4_nl); norms and other 1-D tensors stay F32; a matrix whose row length is not a multiple
// of 32 falls back to F16 for the block types. A model with Hugging Face (rotate-half) RoPE has its
// q and k rows permuted into GGUF's interleaved layout. docs/GGUF.md.
import { basename, extname } from 'node:path';
import { headSize } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../checkpoint/index.ts';
import type { Checkpoint } from '../checkpoint/types.ts';
import { encodeGgml } from './blocks.ts';
import { configMetadata, ggufTensorName, permuteHalfToInterleaved, tokenizerMetadata } from './llama.ts';
import { FILE_TYPE, GGML_TYPES, GT } from './spec.ts';
import { type KvValue, type TensorPlan, writeGguf } from './write.ts';

export const GGUF_EXPORT_TYPES = ['f32', 'f16', 'q8_0', 'q4_0', 'iq4_nl'] as const;
export type GgufExportType = (typeof GGUF_EXPORT_TYPES)[number];

const TYPE_IDS: Record<GgufExportType, number> = { f32: GT.F32, f16: GT.F16, q8_0: GT.Q8_0, q4_0: GT.Q4_0, iq4_nl: GT.IQ4_NL };

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
  onTensor?: (done: number, total: number) => void;
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
  const ckpt = await openCheckpoint(source, { tokenizer: opts.tokenizer });
  try {
    const name = opts.name ?? basename(source.replace(/[/\\]+$/, ''), extname(source));
    return await exportCheckpointGguf(ckpt, out, { ...opts, name });
  } finally {
    await ckpt.close();
  }
}

/** The tensor plan: GGUF name, ggml dims and type of each canonical tensor, with notes on fallbacks. */
export function planTensors(ckpt: Checkpoint, type: GgufExportType): { plans: Array<TensorPlan & { canonical: string }>; notes: string[] } {
  const want = TYPE_IDS[type];
  const block = GGML_TYPES[want].blockSize;
  const notes: string[] = [];
  const fallbacks: string[] = [];
  const plans = ckpt.names().map((canonical) => {
    const shape = ckpt.shape(canonical);
    let t = shape.length < 2 ? GT.F32 : want;
    if (shape.length >= 2 && shape[shape.length - 1] % block) {
      t = GT.F16;
      fallbacks.push(`${ggufTensorName(canonical)} (${shape[shape.length - 1]} columns)`);
    }
    return { canonical, name: ggufTensorName(canonical), ne: shape.slice().reverse(), type: t };
  });
  if (fallbacks.length) notes.push(`${type} needs rows that are a multiple of ${block} weights; stored as f16 instead: ${fallbacks.join(', ')}`);
  return { plans, notes };
}

export async function exportCheckpointGguf(ckpt: Checkpoint, out: string, opts: GgufExportOptions = {}): Promise<GgufExportResult> {
  const type = opts.type ?? 'f16';
  const c = ckpt.config;
  const { plans, notes } = planTensors(ckpt, type);
  const quantized = type !== 'f32' && type !== 'f16';
  const metadata: Array<[string, KvValue]> = [
    ...configMetadata(c, opts.name ?? ckpt.source, FILE_TYPE[type], quantized),
    ...tokenizerMetadata(ckpt.tokenizer, ckpt.source),
  ];
  const half = c.rope === 'half';
  if (half) notes.push('q and k rows permuted from rotate-half (Hugging Face) RoPE to the interleaved layout GGUF uses');
  const hs = headSize(c);
  const bytes = await writeGguf(out, metadata, plans, async (i) => {
    const p = plans[i];
    let x = await ckpt.read(p.canonical);
    if (half && /\.attn\.[qk]$/.test(p.canonical)) x = permuteHalfToInterleaved(x, p.ne[1], p.ne[0], hs);
    const b = encodeGgml(p.type, x);
    opts.onTensor?.(i + 1, plans.length);
    return b;
  });
  return { bytes, tensors: plans.map((p) => ({ name: p.name, canonical: p.canonical, type: GGML_TYPES[p.type].name })), notes };
}
