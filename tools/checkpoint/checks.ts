// Checks every reader's checkpoint gets, whatever the format: the tokenizer's ids fit the model's
// vocabulary, and no tensor holds NaN or Inf. The second costs one pass over each tensor as it is
// read, which the conversion makes anyway; catching it here names the tensor, where a NaN copied
// on would surface as `<unk><unk>…`, `perplexity NaN` or a quantizer failure naming nothing.
import { assertTokenizerFits, tokenizerIdCount } from '../../src/tokenizer/index.ts';
import { FormatError } from '../../src/util/errors.ts';
import type { Checkpoint } from './types.ts';

/** Tensor names whose layer index (`pattern`'s first group) is `nLayers` or more: the file holds layers its config does not. */
export function namesPastLayers(names: Iterable<string>, nLayers: number, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const n of names) {
    const m = pattern.exec(n);
    if (m && Number(m[1]) >= nLayers) out.push(n);
  }
  return out;
}

/** The first few names, and how many there are when that is not all. */
export function nameList(names: readonly string[], shown = 3): string {
  return names.slice(0, shown).join(', ') + (names.length > shown ? `, … (${names.length} tensors)` : '');
}

/** Index of the first NaN or ±Inf in `x`, or -1. */
export function firstNonFinite(x: Float32Array): number {
  // x - x is 0 for every finite x and NaN for NaN and ±Inf
  for (let i = 0; i < x.length; i++) if (x[i] - x[i] !== 0) return i;
  return -1;
}

/** Throws a FormatError naming the tensor and the element when `data` holds a NaN or Inf. */
export function assertFinite(data: Float32Array, shape: readonly number[], what: string): Float32Array {
  const i = firstNonFinite(data);
  if (i >= 0) {
    const cols = shape.length > 1 ? shape[shape.length - 1] : 0;
    const at = cols ? `[${Math.floor(i / cols)}, ${i % cols}]` : `[${i}]`;
    throw new FormatError(`${what} holds ${data[i]} at ${at}; a checkpoint with non-finite weights cannot be converted`);
  }
  return data;
}

/**
 * `ckpt` with its tokenizer checked against its vocabulary and every read() checked for non-finite
 * values. `tokenizerFile`: the file the tokenizer came from when the user gave one (for the message).
 */
export function checkedCheckpoint(ckpt: Checkpoint, tokenizerFile?: string): Checkpoint {
  if (ckpt.tokenizer) {
    const source = tokenizerFile ? `${ckpt.source} with tokenizer ${tokenizerFile}` : ckpt.source;
    assertTokenizerFits(tokenizerIdCount(ckpt.tokenizer, source), ckpt.config.vocabSize, source);
  }
  return {
    source: ckpt.source,
    config: ckpt.config,
    tokenizer: ckpt.tokenizer,
    names: () => ckpt.names(),
    shape: (name) => ckpt.shape(name),
    read: async (name) => assertFinite(await ckpt.read(name), ckpt.shape(name), `${ckpt.source}: tensor ${name}`),
    close: () => ckpt.close(),
    ...(ckpt.notes ? { notes: ckpt.notes } : {}),
  };
}
