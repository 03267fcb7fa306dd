// Checkpoint -> dense .sqz (f32 or f16 matrices; norms always f32), and the one place that turns
// "a model the user named" (a .sqz file or any checkpoint) into a runnable Model.
import { checkOutputFile } from '../src/format/outpath.ts';
import { SqzWriter } from '../src/format/writer.ts';
import type { TensorRecord } from '../src/format/kinds.ts';
import { floatToHalf } from '../src/kernels/reference.ts';
import { createBackend, loadModel, type LoadOptions } from '../src/index.ts';
import { Model } from '../src/model/model.ts';
import { UsageError } from '../src/util/errors.ts';
import { openCheckpoint } from './checkpoint/index.ts';
import type { Checkpoint } from './checkpoint/types.ts';

export type DenseDtype = 'f32' | 'f16';

export function parseDtype(s: string | undefined): DenseDtype {
  if (s === undefined || s === 'f32' || s === 'f16') return s ?? 'f32';
  throw new UsageError(`--dtype must be f32 or f16, got '${s}'`);
}

/** A dense record of one tensor: matrices in `dtype`, vectors always f32. */
export function denseRecord(name: string, shape: number[], data: Float32Array, dtype: DenseDtype): TensorRecord {
  if (dtype === 'f32' || shape.length < 2) return { name, kind: 'f32', shape, data };
  const h = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) h[i] = floatToHalf(data[i]);
  return { name, kind: 'f16', shape, data: h };
}

/** Every tensor of the checkpoint as a dense record, read one at a time. */
export async function* checkpointRecords(ckpt: Checkpoint, dtype: DenseDtype = 'f32', onTensor?: (i: number, n: number) => void): AsyncGenerator<TensorRecord> {
  const names = ckpt.names();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    yield denseRecord(name, ckpt.shape(name), await ckpt.read(name), dtype);
    onTensor?.(i + 1, names.length);
  }
}

export interface ConvertOptions {
  /** tokenizer.bin (llama2.c) or tokenizer.json for a checkpoint without its own. */
  tokenizer?: string;
  /** Storage of the matrices: 'f32' (default) or 'f16'; norms stay f32. */
  dtype?: DenseDtype;
  /** Called after each tensor with (done, total). */
  onTensor?: (i: number, n: number) => void;
}

/** Writes a checkpoint as a dense .sqz (temp file renamed into place). */
export async function convertCheckpoint(source: string, out: string, opts: ConvertOptions = {}): Promise<void> {
  checkOutputFile(out);
  const ckpt = await openCheckpoint(source, { tokenizer: opts.tokenizer });
  try {
    const dtype = opts.dtype ?? 'f32';
    const w = await SqzWriter.create(out, { config: ckpt.config, tokenizer: ckpt.tokenizer ?? null, quant: { method: dtype, source: ckpt.source } });
    try {
      for await (const rec of checkpointRecords(ckpt, dtype, opts.onTensor)) await w.add(rec);
      await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
  } finally {
    await ckpt.close();
  }
}

export interface OpenModelOptions extends LoadOptions {
  /** tokenizer.bin (llama2.c) or tokenizer.json to use with a checkpoint. */
  tokenizer?: string;
}

/** A runnable model from a .sqz file or straight from a checkpoint (converted in memory to f32). */
export async function openModel(source: string, opts: OpenModelOptions = {}): Promise<Model> {
  if (source.endsWith('.sqz')) {
    if (opts.tokenizer) throw new UsageError('--tokenizer applies to checkpoints; a .sqz file carries its own tokenizer');
    return loadModel(source, opts);
  }
  const ckpt = await openCheckpoint(source, { tokenizer: opts.tokenizer });
  try {
    return await Model.fromRecords(ckpt.config, ckpt.tokenizer, checkpointRecords(ckpt), await createBackend(opts.backend, opts), opts);
  } finally {
    await ckpt.close();
  }
}
