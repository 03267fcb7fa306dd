// Checks every reader's checkpoint gets, whatever the format: the tokenizer's ids fit the model's
// vocabulary, and no tensor holds NaN, Inf or a weight no trained model has. The second costs one
// pass over each tensor as it is read, which the conversion makes anyway; catching it here names
// the tensor, where a NaN copied on would surface as `<unk><unk>…`, `perplexity NaN` or a
// quantizer failure naming nothing. Also: the stored layers must match the config's count.
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

/**
 * The largest weight magnitude a checkpoint may hold. Trained weights stay below about 1e4 (f16,
 * which many are trained in, stops at 65504); a weight of 2^32 or more is a corrupt file (one
 * flipped exponent bit makes 0.3 into 1e38), and squaring it in RMSNorm or summing its products
 * overflows f32 to Inf and then NaN logits. Gradient checkpoints (sums of squares) are exempt.
 */
export const MAX_WEIGHT = 2 ** 32;

/** Index of the first element of `x` that is NaN, ±Inf or of magnitude `limit` or more, or -1. */
export function firstImplausible(x: Float32Array, limit: number): number {
  for (let i = 0; i < x.length; i++) if (!(Math.abs(x[i]) < limit)) return i;
  return -1;
}

/** Throws a FormatError naming the tensor and the element when `data` holds a NaN, an Inf or (with `limit`) a magnitude of `limit` or more. */
export function assertPlausible(data: Float32Array, shape: readonly number[], what: string, limit = Infinity): Float32Array {
  const i = firstImplausible(data, limit);
  if (i >= 0) {
    const cols = shape.length > 1 ? shape[shape.length - 1] : 0;
    const at = cols ? `[${Math.floor(i / cols)}, ${i % cols}]` : `[${i}]`;
    const why = Number.isFinite(data[i]) ? `no trained weight is 2^${Math.log2(limit)} or more; a corrupt file?` : 'a checkpoint with non-finite weights cannot be converted';
    throw new FormatError(`${what} holds ${data[i]} at ${at}; ${why}`);
  }
  return data;
}

/**
 * `ckpt` with its tokenizer checked against its vocabulary and every read() checked for NaN, Inf
 * and (unless `gradients`) weights of MAX_WEIGHT or more. `tokenizerFile`: the file the tokenizer
 * came from when the user gave one (for the message).
 */
export function checkedCheckpoint(ckpt: Checkpoint, opts: { tokenizerFile?: string; gradients?: boolean } = {}): Checkpoint {
  const { tokenizerFile } = opts;
  const limit = opts.gradients ? Infinity : MAX_WEIGHT;
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
    read: async (name) => assertPlausible(await ckpt.read(name), ckpt.shape(name), `${ckpt.source}: tensor ${name}`, limit),
    close: () => ckpt.close(),
    ...(ckpt.notes ? { notes: ckpt.notes } : {}),
  };
}
