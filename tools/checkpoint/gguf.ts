// GGUF import: the dispatch slot is in index.ts; the reader itself comes with a later issue.
import { UnsupportedError } from '../../src/util/errors.ts';
import type { Checkpoint } from './types.ts';

export async function openGguf(_path: string, _opts: { tokenizer?: string } = {}): Promise<Checkpoint> {
  throw new UnsupportedError('GGUF import is not implemented yet');
}
