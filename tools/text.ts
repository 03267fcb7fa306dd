// Reading text files for perplexity and calibration.
import { readFile } from 'node:fs/promises';
import { SqzError } from '../src/util/errors.ts';

export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SqzError(`no such file: ${path}`);
    if (code === 'EISDIR') throw new SqzError(`${path} is a directory, not a text file`);
    throw new SqzError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Splits a corpus on `<|endoftext|>` separator lines into documents (the separators are not text). */
export function splitDocuments(text: string): string[] {
  return text
    .split(/^\s*<\|endoftext\|>\s*$/m)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}
