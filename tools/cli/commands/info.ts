// `sqz info`: what a .sqz holds, from its header alone (no tensor is decoded): the model, how it
// was quantized (the header's quant map, layer-bits spec included) and, with --tensors, every
// tensor's kind, shape and stored bits per weight.
import { numel } from '../../../src/format/kinds.ts';
import { SqzReader } from '../../../src/format/reader.ts';
import { type Command, onePositional } from '../command.ts';

export const info: Command = {
  name: 'info',
  summary: 'show a .sqz file: model shape, quantization settings, tensors',
  usage: `sqz info <model.sqz> [--tensors] [--json]
      --tensors            one line per tensor: kind, shape, KiB, stored bits per weight
      --json               the header as JSON (config, tokenizer kind, quant, tensor index)`,
  options: {
    tensors: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(p) {
    const file = onePositional(p, this, 'model .sqz');
    const r = await SqzReader.open(file);
    try {
      const { config: c, tokenizer, quant, tensors } = r.header;
      if (p.values.json) {
        console.log(JSON.stringify({ file, bytes: r.fileBytes, config: c, tokenizer: tokenizer?.kind ?? null, quant, tensors }, null, 1));
        return;
      }
      const kinds = new Map<string, number>();
      for (const t of tensors) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
      console.log(`${file}: ${(r.fileBytes / 1024).toFixed(1)} KiB, ${tensors.length} tensors (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})`);
      console.log(
        `model: dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), vocab ${c.vocabSize}, context ${c.maxSeqLen}` +
          `${c.tiedEmbeddings ? ', tied embeddings' : ''}; tokenizer: ${tokenizer?.kind ?? 'none'}`,
      );
      for (const [k, v] of Object.entries(quant)) console.log(`quant.${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      if (!p.values.tensors) return;
      const width = Math.max(...tensors.map((t) => t.name.length));
      for (const t of tensors) {
        // the record's bytes include its few bytes of msgpack framing
        const bits = (8 * t.bytes) / numel(t.shape);
        console.log(`  ${t.name.padEnd(width)}  ${t.kind.padEnd(7)} ${t.shape.join('x').padEnd(11)} ${(t.bytes / 1024).toFixed(1).padStart(9)} KiB  ${bits.toFixed(2).padStart(6)} bits/weight`);
      }
    } finally {
      await r.close();
    }
  },
};
