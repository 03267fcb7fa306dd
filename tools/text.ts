// Reading text files (perplexity, calibration) and writing small files safely.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { checkOutputFile, tempPath, trackTemp, untrackTemp } from '../src/format/outpath.ts';
import { writeError } from '../src/format/writer.ts';
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

/** Writes a file through a temporary name (synced, then renamed into place): a crash never leaves half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  checkOutputFile(path);
  const tmp = tempPath(path);
  trackTemp(tmp);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw writeError(path, e);
  } finally {
    untrackTemp(tmp);
  }
}
