import { exportGguf, GGUF_EXPORT_TYPES, parseGgufType } from '../../gguf/export.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { type Command, onePositional, str } from '../command.ts';
import { progressBar } from '../progress.ts';

export const exportCmd: Command = {
  name: 'export',
  summary: 'export a model (.sqz, llama2.c .bin, Hugging Face folder, GGUF) as a GGUF file for llama.cpp',
  usage: `sqz export <model.sqz|checkpoint> --gguf out.gguf [options]
      --gguf FILE        the GGUF v3 file to write (a temp file, renamed into place)
      --type T           matrix storage: ${GGUF_EXPORT_TYPES.join(', ')} (default f16);
                         q3_k_s/q3_k_m/q4_k_s/q4_k_m/q5_k_m are llama.cpp's mixes (Q6_K for the head,
                         more bits for attn_v, ffn_down, attn_output of some layers). Norms stay f32. A matrix whose rows are not whole blocks falls
                         back as llama.cpp's quantizer does: q2_k and q3_k to iq4_nl, q4_k to q5_0,
                         q5_k to q5_1, q6_k to q8_0, and to f16 when rows are not a multiple of 32
                         either (the command says which)
      --name NAME        general.name (default: the source file name)
      --tokenizer FILE   tokenizer.bin for a llama2.c checkpoint
A SqueezeLLM .sqz is dequantized, then stored as --type. A Hugging Face tokenizer.json is written as
llama.cpp's 'llama' (SentencePiece BPE with byte fallback) or 'gpt2' (byte-level BPE). docs/GGUF.md.`,
  options: {
    gguf: { type: 'string' },
    type: { type: 'string' },
    name: { type: 'string' },
    tokenizer: { type: 'string' },
  },
  async run(p) {
    const source = onePositional(p, this, 'model');
    const out = str(p, 'gguf');
    if (!out) throw new UsageError('sqz export needs --gguf out.gguf');
    const type = parseGgufType(str(p, 'type'));
    const bar = progressBar('export');
    const t0 = performance.now();
    let result;
    try {
      result = await exportGguf(source, out, { type, name: str(p, 'name'), tokenizer: str(p, 'tokenizer'), onTensor: (i, n) => bar.update(i, n) });
    } finally {
      bar.stop();
    }
    for (const note of result.notes) console.log(`note: ${note}`);
    const counts = new Map<string, number>();
    for (const t of result.tensors) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
    const summary = [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
    console.log(`wrote ${out}: ${(result.bytes / 1e6).toFixed(2)} MB, ${result.tensors.length} tensors (${summary}), ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  },
};
