// The runtime tokenizer interface (both kinds implement it). Re-exported from index.ts.

export interface EncodeOptions {
  /** Prepend BOS. Default: true when the tokenizer has a BOS token. */
  bos?: boolean;
}

/** Turns ids into text pieces as they come (see Tokenizer.streamDecoder). */
export interface StreamDecoder {
  /** The text that `id` completes; '' while it only adds to an incomplete UTF-8 sequence. */
  push(id: number): string;
  /** The text still held back (incomplete bytes come out as U+FFFD); the decoder can go on afterwards. */
  flush(): string;
}

export interface ControlToken {
  id: number;
  /** The token's text, trimmed (llama2.c's `\n</s>\n` is `</s>`). */
  text: string;
}

/** The control tokens among ids (each once), with their trimmed text; texts that trim to nothing are left out. */
export function controlTokens(entries: Iterable<[number | null, string | undefined]>): ControlToken[] {
  const out = new Map<number, ControlToken>();
  for (const [id, text] of entries) if (id !== null && !out.has(id)) out.set(id, { id, text: (text ?? '').trim() });
  return [...out.values()];
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  /**
   * Control tokens: BOS, EOS and (tokenizer.json) every added special token but <unk>, with their
   * text. Generation ends at any of them, and at their text spelled out by ordinary pieces (a model
   * trained on text holding `<|end_story|>` writes it that way), so none reaches the answer.
   */
  readonly controls: readonly ControlToken[];
  /** Token ids of `text`, with BOS first unless `opts.bos` is false (or there is no BOS). */
  encode(text: string, opts?: EncodeOptions): number[];
  /**
   * The text of `ids`. BOS/EOS (and other special tokens of a tokenizer.json) are left out, as are
   * ids outside the vocabulary; byte tokens are assembled and decoded as UTF-8 (bad bytes: U+FFFD).
   */
  decode(ids: number[]): string;
  /**
   * Streaming: a decoder that turns ids into text pieces as they come, holding back incomplete UTF-8
   * byte sequences (byte-fallback tokens) until complete. The pieces of push() for ids, then flush(),
   * concatenate to decode(ids).
   */
  streamDecoder(): StreamDecoder;
}
