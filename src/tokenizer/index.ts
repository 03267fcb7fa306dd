// Tokenizers for the runtime: rebuilt from the TokenizerSpec in the model header (docs/TOKENIZERS.md).
//   llama2c: llama2.c tokenizer.bin (score-driven BPE, byte fallback), exactly as run.c encodes/decodes.
//   hf:      Hugging Face tokenizer.json, BPE (SentencePiece style or byte-level), via Tokenizers.js.
import { FormatError } from '../util/errors.ts';
import { HfTokenizer, hfIdCount } from './hf.ts';
import { Llama2cTokenizer } from './llama2c.ts';
import type { TokenizerSpec } from './spec.ts';
import type { Tokenizer } from './types.ts';

export type { TokenizerSpec } from './spec.ts';
export type { EncodeOptions, StreamDecoder, Tokenizer } from './types.ts';
export { llama2cTokenizerSpec } from './llama2c.ts';
export { hfTokenizerSpec, type HfSpecialTokens, type SpecialTokenRef } from './hf.ts';

/** The tokenizer a spec describes. Throws FormatError for a malformed spec, UnsupportedError for an unsupported tokenizer.json. */
export function createTokenizer(spec: TokenizerSpec): Tokenizer {
  const kind = (spec as { kind?: unknown } | null | undefined)?.kind;
  switch (kind) {
    case 'llama2c':
      return new Llama2cTokenizer(spec as Extract<TokenizerSpec, { kind: 'llama2c' }>);
    case 'hf':
      return new HfTokenizer(spec as Extract<TokenizerSpec, { kind: 'hf' }>);
    default:
      throw new FormatError(`unknown tokenizer kind ${JSON.stringify(kind)} in the model header (expected "llama2c" or "hf")`);
  }
}

/**
 * One more than the largest id the tokenizer can produce: its pieces or vocab and added tokens,
 * BOS and EOS (a built Tokenizer's vocabSize is this number).
 */
export function tokenizerIdCount(spec: TokenizerSpec, source = 'tokenizer'): number {
  const specials = [spec.bos, spec.eos].filter((id): id is number => typeof id === 'number').map((id) => id + 1);
  const own = spec.kind === 'llama2c' ? spec.pieces.length : hfIdCount(spec.json, source);
  return Math.max(own, ...specials);
}

/**
 * Refuses a tokenizer whose ids (`idCount`: tokenizerIdCount) reach past the model's embedding:
 * each would read a row that is not there (garbage, or a RangeError deep in the forward pass). A
 * smaller tokenizer is fine (models pad their vocabulary).
 */
export function assertTokenizerFits(idCount: number, modelVocab: number, source: string): void {
  if (idCount > modelVocab) {
    throw new FormatError(`${source}: the tokenizer has ids up to ${idCount - 1} but the model's vocabulary has ${modelVocab} (a tokenizer of another model?)`);
  }
}
