// Reading text files (perplexity, calibration) and writing small files safely.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** Writes a file through a temporary name renamed into place: a crash never leaves half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
