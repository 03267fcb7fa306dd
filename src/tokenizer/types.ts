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

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
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
