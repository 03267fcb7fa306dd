// Checks every reader's checkpoint gets, whatever the format: the tokenizer's ids fit the model's
// vocabulary, and no tensor holds NaN or Inf. The second costs one pass over each tensor as it is
// read, which the conversion makes anyway; catching it here names the tensor, where a NaN copied
// on would surface as `<unk><unk>…`, `perplexity NaN` or a quantizer failure naming nothing.
import { assertTokenizerFits, tokenizerIdCount } from '../../src/tokenizer/index.ts';
import { FormatError } from '../../src/util/errors.ts';
import type { Checkpoint } from './types.ts';

/**
 * The layers a file stores (`pattern`'s first group is the layer index) must be exactly the
 * config's 0..nLayers-1: more means the config would run a truncated model, fewer (or an absurd
 * count such as 2^53) is refused here, before anything is sized by the count. `what` starts the
 * message, e.g. "GGUF m.gguf: block_count".
 */
export function checkLayerCount(names: Iterable<string>, nLayers: number, pattern: RegExp, what: string): void {
  const extra: string[] = [];
  let stored = 0;
  for (const n of names) {
    const m = pattern.exec(n);
    if (!m) continue;
    const i = Number(m[1]);
    if (i >= nLayers) extra.push(n);
    stored = Math.max(stored, i + 1);
  }
  if (extra.length) throw new FormatError(`${what} is ${nLayers}, but the file holds more layers: ${nameList(extra)}`);
  if (nLayers > stored) throw new FormatError(`${what} is ${nLayers}, but the file holds tensors of ${stored} layer${stored === 1 ? '' : 's'}`);
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
