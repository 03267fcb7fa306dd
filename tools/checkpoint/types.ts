// What every checkpoint reader (llama2.c .bin, Hugging Face folder, GGUF) gives the toolchain:
// the config, the tokenizer, and tensors by canonical name (src/model/config.ts), read one at a
// time as f32 so no step needs the whole model in memory.
import type { ModelConfig } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';

export interface Checkpoint {
  /** What was opened, for messages and the .sqz header (e.g. "llama2.c stories260K.bin"). */
  readonly source: string;
  readonly config: ModelConfig;
  /** Absent only when a llama2.c checkpoint was opened without --tokenizer. */
  readonly tokenizer: TokenizerSpec | undefined;
  /** Canonical names present, in tensorShapes() order. */
  names(): string[];
  shape(name: string): number[];
  /** The tensor as f32, row-major [out, in]; converted from f16/bf16/quantized storage as needed. */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
  /** Things the reader ignored or assumed that a user may want to know (e.g. Mistral's sliding_window). */
  readonly notes?: readonly string[];
}
