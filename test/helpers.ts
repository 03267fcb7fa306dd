// Shared test helpers: closeness checks, skips that are counted, and access to ../shared (tests
// that need it skip, saying why).
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxRelErr } from '../src/util/compare.ts';
import { Rng } from '../src/util/random.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = join(repoRoot, '..', 'shared');

/**
 * For a test that cannot run here (no ../shared, no Chromium, no llama.cpp peer): call it as
 * `return skip(reason)`, once per test. It prints the reason and records the skip, so the closing
 * line of `npm test` (scripts/test.mjs, which sets SQZ_SKIP_LOG) counts the test as skipped, not
 * passed. uvu's own test.skip is decided when tests are declared; this one inside the test.
 */
export function skip(reason: string): void {
  console.log(`  (skipped: ${reason})`);
  const log = process.env.SQZ_SKIP_LOG;
  if (log) appendFileSync(log, reason.replace(/\n/g, ' ') + '\n');
}

/** Path of a file under ../shared, or null when it is absent (for optional extras; a test that needs the file uses sharedFiles). */
export function sharedFile(rel: string): string | null {
  const p = join(sharedDir, rel);
  return existsSync(p) ? p : null;
}

/** Paths of files under ../shared, or null after skip() naming the first one absent. */
export function sharedFiles(...rels: string[]): string[] | null {
  const missing = rels.find((r) => !existsSync(join(sharedDir, r)));
  if (missing === undefined) return rels.map((r) => join(sharedDir, r));
  skip(absent(missing));
  return null;
}

/** The skip reason for a file under ../shared that is absent. */
export function absent(rel: string): string {
  return `${join(sharedDir, rel)} is absent; tests that need ../shared data skip`;
}

export { maxRelErr };

/**
 * Awaits `p`, which must reject with an instance of `cls` whose message matches `re`; returns the
 * message. Should it resolve instead, to something closable (a checkpoint, a model), that is closed.
 */
export async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<string> {
  try {
    const opened = (await p) as { close?: () => Promise<void> } | undefined;
    await opened?.close?.();
  } catch (e) {
    assert.instance(e, cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return (e as Error).message;
  }
  assert.unreachable(`expected ${cls.name} matching ${re}`);
  return '';
}

/** Throws a message with the error when a and b differ by more than tol (norm-wise relative). */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  const e = maxRelErr(a, b);
  if (!(e <= tol)) throw new Error(`${what}: relative error ${e} > ${tol}`);
}

const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'see', 'it'];

/** A calibration text of `docs` documents of 60 random words each, separated by <|endoftext|> lines. */
export function writeCalibrationText(path: string, docs: number, seed = 1, words: readonly string[] = WORDS): void {
  const rng = new Rng(seed);
  const text = Array.from({ length: docs }, () => Array.from({ length: 60 }, () => words[rng.int(words.length)]).join(' ') + '.');
  writeFileSync(path, text.join('\n<|endoftext|>\n'));
}
