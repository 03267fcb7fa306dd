// `sqz info`: what a .sqz holds, from its header alone (no tensor is decoded): the model, how it
// was quantized (the header's quant map, layer-bits spec included) and, with --tensors, every
// tensor's kind, shape and stored bits per weight, and the memory a load takes. With --verify it also reads every record and
// checks it as a load would (checksum, framing, fields, finite values) and the index against the
// config, and exits 1 naming the first bad record.
import { numel } from '../../../src/format/kinds.ts';
import { SqzReader } from '../../../src/format/reader.ts';
import { contextLength, planMemory, size, WASM_LIMIT } from '../../../src/model/budget.ts';
import { checkTensorSet } from '../../../src/model/config.ts';
import { FormatError, SqzError } from '../../../src/util/errors.ts';
import { type Command, onePositional } from '../command.ts';

export const info: Command = {
  name: 'info',
  summary: 'show a .sqz file: model shape, quantization settings, tensors',
  usage: `sqz info <model.sqz> [--tensors] [--json] [--verify]
      --tensors            one line per tensor: kind, shape, KiB, stored bits per weight
      --json               the header as JSON (config, tokenizer kind, quant, tensor index)
      --verify             read every tensor and check it (checksum, fields, finite values) and the
                           index against the config; exit 1 naming the first bad record`,
  options: {
    tensors: { type: 'boolean' },
    json: { type: 'boolean' },
    verify: { type: 'boolean' },
  },
  async run(p) {
    const file = onePositional(p, this, 'model .sqz');
    const r = await SqzReader.open(file);
    try {
      const { config: c, tokenizer, quant, tensors } = r.header;
      if (p.values.json) {
        if (p.values.verify) await verify(r, file, true);
        console.log(JSON.stringify({ file, bytes: r.fileBytes, config: c, tokenizer: tokenizer?.kind ?? null, quant, tensors, ...(p.values.verify && { verified: true }) }, null, 1));
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
      console.log(memoryLine(r));
      if (p.values.verify) await verify(r, file);
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

/** What loading the file on the wasm backend at its default context takes (src/model/budget.ts), from the index. */
function memoryLine(r: SqzReader): string {
  const c = r.header.config;
  const ctx = contextLength(c, undefined);
  const plan = planMemory(c, r.entries, { name: 'wasm' }, ctx, Math.min(64, ctx));
  const over = plan.total > WASM_LIMIT ? `; more than wasm32's 4 GiB: it loads on the wasm backend only with a shorter --ctx, if at all` : '';
  return `memory: a load on the wasm backend at context ${ctx} takes ${size(plan.total)} (weights ${size(plan.weights)}, KV cache ${size(plan.kvCache)}, activations ${size(plan.activations)})${over}`;
}

/**
 * Reads and checks every record (all of them, so the count of bad ones is known), then the index
 * against the config for a runnable model (one with a tokenizer; a per-layer folder's file holds a
 * block's matrices only). Throws a FormatError naming the first bad record.
 */
async function verify(r: SqzReader, file: string, quiet = false): Promise<void> {
  const bad: { name: string; error: SqzError }[] = [];
  for (const name of r.names) {
    try {
      await r.get(name);
    } catch (e) {
      if (!(e instanceof SqzError)) throw e;
      bad.push({ name, error: e });
    }
  }
  if (bad.length) {
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad record${bad.length > 2 ? 's' : ''}: ${bad.slice(1, 6).map((b) => `'${b.name}'`).join(', ')}${bad.length > 6 ? ', ...' : ''})` : '';
    throw new FormatError(`${bad[0].error.message}${more}`);
  }
  const model = r.header.tokenizer !== null;
  if (model) checkTensorSet(r.header.config, r.entries, file);
  if (!quiet) console.log(`verified: ${r.entries.length} tensors, every checksum matches and every record decodes${model ? '; the tensors are the ones the config needs' : ' (no tokenizer: not checked as a runnable model)'}`);
}
