// A tokenizer as stored in the .sqz header: enough to rebuild it at run time with no other file.
// Build one with llama2cTokenizerSpec / hfTokenizerSpec (src/tokenizer/index.ts); createTokenizer
// turns it back into a Tokenizer. See docs/TOKENIZERS.md.
export type TokenizerSpec =
  /**
   * llama2.c tokenizer.bin: SentencePiece-style BPE driven by piece scores, with <0xNN> byte fallback.
   * `pieces[i]` is token i's text (spaces as ' ', not '▁'; BOS/EOS pieces as llama2.c exports them),
   * `scores[i]` its merge score (the f32 from the file); a pair merges when the concatenation is a piece,
   * highest score first. `bos`/`eos` are the ids llama2.c fixes (1 and 2).
   */
  | { kind: 'llama2c'; pieces: string[]; scores: number[]; bos: number; eos: number }
  /**
   * A Hugging Face tokenizer.json, kept verbatim (BPE only: SentencePiece style or byte-level).
   * `bos` is the id encode() prepends by default (null: none); `eos` the id that ends generation.
   * `chatTemplate` (optional; files before it lack it) is tokenizer_config.json's Jinja
   * `chat_template`, for `sqz serve`'s chat endpoint.
   */
  | { kind: 'hf'; json: string; bos: number | null; eos: number | null; chatTemplate?: string };
