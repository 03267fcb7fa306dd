// openCheckpoint: one entry point for every source format, chosen by what the path is.
//   directory with config.json -> Hugging Face (hf.ts)
//   *.bin                      -> llama2.c (llama2c.ts)
//   *.gguf                     -> GGUF v2/v3 llama (gguf.ts, docs/GGUF.md)
//   *.sqz                      -> a .sqz file (sqz.ts), any tensor kind read back as f32
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FormatError, SqzError, UnsupportedError } from '../../src/util/errors.ts';
import { checkedCheckpoint } from './checks.ts';
import { openGguf } from './gguf.ts';
import { openHf } from './hf.ts';
import { openLlama2c } from './llama2c.ts';
import { openSqzCheckpoint } from './sqz.ts';
import type { Checkpoint } from './types.ts';

export type { Checkpoint } from './types.ts';
export { hfTensorName, SUPPORTED_MODEL_TYPES } from './hf.ts';

export interface OpenOptions {
  /** Tokenizer file: a llama2.c tokenizer.bin, or a tokenizer.json (replaces a Hugging Face folder's own). */
  tokenizer?: string;
  /**
   * An external gradient checkpoint (a Hugging Face folder whose tensors hold grad^2 under the
   * weights' names): no tokenizer is read and only the seven linear layers of each block are required.
   */
  gradients?: boolean;
}

type Opener = (path: string, opts: OpenOptions) => Promise<Checkpoint>;

/** Single-file formats by extension. */
const FILE_READERS: Record<string, Opener> = {
  '.bin': openLlama2c,
  '.gguf': openGguf,
  '.sqz': openSqzCheckpoint,
};

/**
 * Opens any supported checkpoint. Whatever the format, the tokenizer's ids must fit the model's
 * vocabulary and read() refuses a tensor holding NaN, Inf or an implausibly large weight (checks.ts).
 */
export async function openCheckpoint(path: string, opts: OpenOptions = {}): Promise<Checkpoint> {
  const ckpt = await openUnchecked(path, opts);
  try {
    return checkedCheckpoint(ckpt, { tokenizerFile: opts.tokenizer, gradients: opts.gradients });
  } catch (e) {
    await ckpt.close();
    throw e;
  }
}

async function openUnchecked(path: string, opts: OpenOptions): Promise<Checkpoint> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new SqzError(`no such file: ${path}`);
    }
    throw e;
  }
  if (st.isDirectory()) {
    if (!existsSync(join(path, 'config.json'))) {
      throw new FormatError(`${path} has no config.json (a Hugging Face model folder needs one)`);
    }
    return openHf(path, opts);
  }
  if (opts.gradients) throw new UnsupportedError(`${path}: a gradient checkpoint must be a Hugging Face folder (config.json + safetensors)`);
  const open = FILE_READERS[extname(path).toLowerCase()];
  if (!open) {
    throw new UnsupportedError(
      `cannot tell the format of ${path}: expected a Hugging Face folder (with config.json), a llama2.c .bin, a .gguf or a .sqz file`,
    );
  }
  return open(path, opts);
}
