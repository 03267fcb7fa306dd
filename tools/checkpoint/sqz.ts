// A .sqz file as a checkpoint, so the toolchain can start from a converted (or synthetic) model.
// Tensors of any kind are read back as f32 (quantized ones dequantized).
import { dequantize } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { tensorShapes, validateConfig } from '../../src/model/config.ts';
import { FormatError, SqzError, UsageError } from '../../src/util/errors.ts';
import { checkLayerCount } from './checks.ts';
import type { Checkpoint } from './types.ts';

export async function openSqzCheckpoint(path: string, opts: { tokenizer?: string } = {}): Promise<Checkpoint> {
  if (opts.tokenizer) throw new UsageError('--tokenizer applies to llama2.c checkpoints; a .sqz file carries its own tokenizer');
  const reader = await SqzReader.open(path);
  const { config, tokenizer } = reader.header;
  const source = `.sqz ${path}`;
  try {
    validateConfig(config, source);
    checkLayerCount(reader.names, config.nLayers, /^layers\.(\d+)\./, `${source}: nLayers`);
    const shapes = tensorShapes(config);
    for (const [name, shape] of shapes) {
      if (!reader.has(name)) throw new FormatError(`${source}: tensor ${name} is missing`);
      const got = reader.entry(name).shape;
      if (got.join('x') !== shape.join('x')) throw new FormatError(`${source}: tensor ${name} has shape [${got}], expected [${shape}]`);
    }
  } catch (e) {
    await reader.close();
    throw e;
  }
  let closed = false;
  return {
    source,
    config,
    tokenizer: tokenizer ?? undefined,
    names: () => [...tensorShapes(config).keys()],
    shape: (name) => reader.entry(name).shape.slice(),
    async read(name) {
      if (closed) throw new SqzError(`${source}: read('${name}') after close()`);
      const rec = await reader.get(name);
      return rec.kind === 'f32' ? rec.data : dequantize(rec);
    },
    async close() {
      closed = true;
      await reader.close();
    },
  };
}
