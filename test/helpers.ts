// Shared test helpers: closeness checks and access to ../shared (tests that need it skip, saying why).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = join(repoRoot, '..', 'shared');

/** Path of a file under ../shared, or null (with the reason printed once) when it is absent. */
export function sharedFile(rel: string): string | null {
  const p = join(sharedDir, rel);
  if (existsSync(p)) return p;
  console.log(`  (skipped: ${p} is absent; tests that need ../shared data skip)`);
  return null;
}

/**
 * Norm-wise relative error max_i |a_i - b_i| / max_i |b_i|: the usual measure for kernels whose
 * f32 sums are checked against f64 references (an elementwise ratio blows up on outputs that
 * cancel to near zero). NaN anywhere counts as infinite error.
 */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Throws a message with the error when a and b differ by more than tol (norm-wise relative). */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  const e = maxRelErr(a, b);
  if (!(e <= tol)) throw new Error(`${what}: relative error ${e} > ${tol}`);
}
