// Helpers for the kernel tests (not a test file itself: the runner picks up *.test.ts only).
import * as assert from 'uvu/assert';
import type { WasmHeap } from '../../src/backend/wasm/heap.ts';

/** Sizes every kernel is run over: ones below, at and above the SIMD widths and group sizes. */
export const SIZES = [1, 3, 5, 7, 15, 17, 31, 33, 63, 64, 65, 172, 257];

/** A value the kernels never produce by chance: marks output entries that must stay untouched. */
export const SENTINEL = 12345.5;

/** Places a Float32Array filled with SENTINEL and returns its address. */
export function placeSentinel(heap: WasmHeap, n: number): number {
  return heap.place(new Float32Array(n).fill(SENTINEL));
}

/** Asserts out[i] === SENTINEL outside [r0, r1). */
export function assertUntouched(out: Float32Array, r0: number, r1: number, what: string): void {
  for (let i = 0; i < out.length; i++) {
    if (i >= r0 && i < r1) continue;
    if (out[i] !== SENTINEL) assert.unreachable(`${what}: out[${i}] = ${out[i]} outside [${r0}, ${r1}) was written`);
  }
}

/** A few row ranges over `rows` rows: all of them, and an inner range where there is one. */
export function rowRanges(rows: number): [number, number][] {
  const r: [number, number][] = [[0, rows]];
  if (rows >= 3) r.push([1, rows - 1]);
  if (rows >= 5) r.push([Math.floor(rows / 3), Math.floor(rows / 3) + 1]);
  return r;
}

/**
 * The typical size of the dot products out[r] = sum_c w[r, c] * x[c], r0 <= r < r1: the largest
 * row's sqrt(sum_c (w[r, c] * x[c])^2) (a random dot product's expected magnitude).
 */
export function dotScale(w: Float32Array, x: Float32Array, rows: number, cols: number, r0 = 0, r1 = rows): number {
  let scale = 0;
  for (let r = r0; r < r1; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += (w[r * cols + c] * x[c]) ** 2;
    scale = Math.max(scale, Math.sqrt(s));
  }
  return scale;
}

/**
 * Norm-wise relative closeness for dot-product kernels: max|a - b| / max(max|b|, scale) <= tol.
 * With many outputs this is assertClose (max|b| dominates); with one or two outputs a sum that
 * cancels to near zero would make any f32 kernel fail an f64 reference (a 1x64 case with
 * sum|terms| / |sum| = 1000 misses 1e-5 even summed sequentially in f32), so the denominator is
 * never below the dot products' typical size (dotScale).
 */
export function assertCloseDot(a: ArrayLike<number>, b: ArrayLike<number>, scale: number, tol: number, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  let diff = 0;
  let big = scale;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) throw new Error(`${what}: NaN at ${i}`);
    diff = Math.max(diff, d);
    big = Math.max(big, Math.abs(b[i]));
  }
  const e = big === 0 ? diff : diff / big;
  if (!(e <= tol)) throw new Error(`${what}: relative error ${e} > ${tol}`);
}
