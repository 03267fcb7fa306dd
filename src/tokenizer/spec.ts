// A tokenizer as stored in the .sqz header: enough to rebuild it at run time with no other file.
export type TokenizerSpec =
  /** llama2.c tokenizer.bin: SentencePiece-style BPE driven by piece scores, with <0xNN> byte fallback. */
  | { kind: 'llama2c'; pieces: string[]; scores: number[]; bos: number; eos: number }
  /** A Hugging Face tokenizer.json, kept verbatim. */
  | { kind: 'hf'; json: string; bos: number | null; eos: number | null };
