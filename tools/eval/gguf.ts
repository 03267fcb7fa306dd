// llama.cpp's formats as `sqz eval` methods: a checkpoint's linear matrices stored by our GGUF
// encoders (tools/gguf/blocks.ts; llama.cpp decodes what they write, test/gguf), read back to f32
// and written as a dense .sqz, so the runtime scores exactly the weights llama.cpp would hold.
// Each matrix gets the type `sqz export --type T` gives it (llama.cpp's mixes and its fallbacks for
// rows that are not whole blocks, tools/gguf/export.ts). Bits per weight count every byte of those
// blocks (scales and minimums included) over the same matrices as the other methods count: the
// seven linear layers of each block. Embedding, norms and head stay f32, as for every method.
import type { TensorRecord } from '../../src/format/kinds.ts';
import { SqzWriter } from '../../src/format/writer.ts';
import { openCheckpoint } from '../checkpoint/index.ts';
import { decodeGgml, encodeGgml } from '../gguf/blocks.ts';
import { type GgufExportType, planTensors } from '../gguf/export.ts';
import { GGML_TYPES } from '../gguf/spec.ts';
import { linearNamesOf } from '../squeezellm/layers.ts';

/** The llama.cpp formats `sqz eval` compares, with the bits of their main type (the table's bits column). */
export const GGUF_EVAL_TYPES = { q4_0: 4, iq4_nl: 4, q3_k_s: 3, q3_k_m: 3, q4_k_s: 4, q4_k_m: 4, q5_k: 5, q6_k: 6 } as const satisfies Partial<Record<GgufExportType, number>>;
export type GgufEvalType = keyof typeof GGUF_EVAL_TYPES;

export interface GgufEvalResult {
  /** 8 × the GGUF bytes of the linear matrices / their weights. */
  avgBits: number;
  /** How many linear matrices each ggml type stores (e.g. { Q5_0: 28, F16: 5 }). */
  types: Record<string, number>;
  /** Fallbacks taken (as `sqz export` prints them). */
  notes: string[];
}

/** Writes `out`: the checkpoint with its linear matrices as llama.cpp's `type` stores them, dequantized. */
export async function quantizeGguf(source: string, out: string, type: GgufEvalType, opts: { tokenizer?: string; onProgress?: (done: number, total: number) => void } = {}): Promise<GgufEvalResult> {
  const ckpt = await openCheckpoint(source, { tokenizer: opts.tokenizer });
  try {
    const { plans, notes } = planTensors(ckpt, type);
    const typeOf = new Map(plans.map((p) => [p.canonical, p.type]));
    const linear = new Set(Array.from({ length: ckpt.config.nLayers }, (_, i) => linearNamesOf(i)).flat());
    const types: Record<string, number> = {};
    const quant = { method: type, bits: GGUF_EVAL_TYPES[type], source: ckpt.source, gguf: { types, notes } };
    const w = await SqzWriter.create(out, { config: ckpt.config, tokenizer: ckpt.tokenizer ?? null, quant });
    try {
      let bytes = 0;
      let weights = 0;
      const names = ckpt.names();
      for (const [i, name] of names.entries()) {
        let data = await ckpt.read(name);
        if (linear.has(name)) {
          const t = typeOf.get(name)!;
          const stored = encodeGgml(t, data);
          bytes += stored.byteLength;
          weights += data.length;
          data = decodeGgml(t, stored, data.length);
          types[GGML_TYPES[t].name] = (types[GGML_TYPES[t].name] ?? 0) + 1;
        }
        const rec: TensorRecord = { name, kind: 'f32', shape: ckpt.shape(name), data };
        await w.add(rec);
        opts.onProgress?.(i + 1, names.length);
      }
      const avgBits = (8 * bytes) / weights;
      w.setQuant({ ...quant, avgBitsPerWeight: avgBits });
      await w.finish();
      return { avgBits, types, notes };
    } catch (e) {
      await w.abort();
      throw e;
    }
  } finally {
    await ckpt.close();
  }
}
