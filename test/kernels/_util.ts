// Helpers for the kernel tests (not a test file itself: the runner picks up *.test.ts only).
import * as assert from 'uvu/assert';
import type { WasmHeap } from '../../src/backend/wasm/heap.ts';
import type { Rng } from '../../src/util/random.ts';

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

/**
 * Runs a matvec kernel over the row ranges of its rows and compares the rows in range with the
 * reference (assertCloseDot against the dense weights' typical dot size, 1e-5); the other rows must
 * keep their sentinels.
 */
export function checkMatvec(
  heap: WasmHeap,
  c: { rows: number; cols: number; dense: Float32Array; x: Float32Array; run(out: number, r0: number, r1: number): void; reference(out: Float32Array, r0: number, r1: number): void },
  what: string,
): void {
  const { rows, cols } = c;
  for (const [r0, r1] of rowRanges(rows)) {
    const mark = heap.mark();
    const po = placeSentinel(heap, rows);
    c.run(po, r0, r1);
    const got = heap.f32(po, rows).slice();
    heap.release(mark);
    const want = new Float32Array(rows);
    c.reference(want, r0, r1);
    const where = `${what} ${rows}x${cols} [${r0},${r1})`;
    assertCloseDot(got.subarray(r0, r1), want.subarray(r0, r1), dotScale(c.dense, c.x, rows, cols, r0, r1), 1e-5, where);
    assertUntouched(got, r0, r1, where);
  }
}

/** n in 1..9 for the size pair (rows, cols), so every n meets many shapes across the SIZES grid. */
export function batchOf(rows: number, cols: number): number {
  return 1 + ((rows * 7 + cols) % 9);
}

/** One batched kernel case: out [n, rows] = W x for x [n, cols], over a row range. */
export interface BatchedCase {
  rows: number;
  cols: number;
  n: number;
  /** The weights as dense f32 [rows, cols] (for the typical dot size, dotScale). */
  dense: Float32Array;
  /** The activations [n, cols]. */
  x: Float32Array;
  /** Output [n, rows] before the call, for kernels that add into it; default SENTINEL everywhere. */
  base?: Float32Array;
  /** Bytes of scratch the kernel takes (placed between sentinels that must stay untouched); default none. */
  scratchBytes?: number;
  /** Runs the kernel with its output at byte address `out`, rows r0 <= r < r1 of every vector, and its scratch. */
  run(out: number, r0: number, r1: number, scratch: number): void;
  /** The reference into `out` (holding the initial output), rows r0 <= r < r1 of every vector. */
  reference(out: Float32Array, r0: number, r1: number): void;
}

/**
 * Runs a batched kernel over the row ranges of its rows and compares every vector's rows in range
 * with the reference (assertCloseDot, tolerance 1e-5); every other entry of out, 4 sentinels past
 * its end and 16 on each side of the scratch must keep their initial values.
 */
export function checkBatched(heap: WasmHeap, c: BatchedCase, what: string): void {
  const { rows, cols, n } = c;
  for (const [r0, r1] of rowRanges(rows)) {
    const init = new Float32Array(n * rows + 4).fill(SENTINEL);
    if (c.base) init.set(c.base);
    const mark = heap.mark();
    const po = heap.place(init);
    const guard = 16;
    const scratchFloats = Math.ceil((c.scratchBytes ?? 0) / 4);
    const ps = placeSentinel(heap, scratchFloats + 2 * guard);
    c.run(po, r0, r1, ps + guard * 4);
    const got = heap.f32(po, init.length).slice();
    const guards = heap.f32(ps, scratchFloats + 2 * guard);
    assertUntouched(guards, guard, guard + scratchFloats, `${what} ${rows}x${cols} n=${n} scratch`);
    heap.release(mark);
    const want = init.slice(0, n * rows);
    c.reference(want, r0, r1);
    const where = `${what} ${rows}x${cols} n=${n} [${r0},${r1})`;
    for (let i = 0; i < n; i++) {
      const a = i * rows + r0, b = i * rows + r1;
      let scale = dotScale(c.dense, c.x.subarray(i * cols, (i + 1) * cols), rows, cols, r0, r1);
      for (let j = a; j < b && c.base; j++) scale = Math.max(scale, Math.abs(c.base[j]));
      assertCloseDot(got.subarray(a, b), want.subarray(a, b), scale, 1e-5, `${where} vector ${i}`);
    }
    for (let j = 0; j < got.length; j++) {
      const inRange = j < n * rows && j % rows >= r0 && j % rows < r1;
      if (!inRange && got[j] !== init[j]) assert.unreachable(`${where}: out[${j}] = ${got[j]} outside the range was written`);
    }
  }
}

/**
 * Runs a row-dequantizing kernel (rows r0 <= r < r1 of a [rows, cols] matrix as f32 into dst) over
 * the row ranges and compares with the dense reference (norm-wise, 1e-5); 4 sentinels past the
 * written rows must stay.
 */
export function checkDequant(heap: WasmHeap, rows: number, cols: number, dense: Float32Array, run: (dst: number, r0: number, r1: number) => void, what: string): void {
  for (const [r0, r1] of rowRanges(rows)) {
    const mark = heap.mark();
    const n = (r1 - r0) * cols;
    const po = placeSentinel(heap, n + 4);
    run(po, r0, r1);
    const got = heap.f32(po, n + 4).slice();
    heap.release(mark);
    const where = `${what} ${rows}x${cols} [${r0},${r1})`;
    assertCloseDot(got.subarray(0, n), dense.subarray(r0 * cols, r1 * cols), 0, 1e-5, where);
    assertUntouched(got, 0, n, where);
  }
}

/** A random CSR matrix (sorted columns, some empty rows) and its dense twin. */
export function randomCsr(rng: Rng, rows: number, cols: number, density: number) {
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  const dense = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const empty = rng.next() < 0.2;
    for (let c = 0; c < cols; c++) {
      if (!empty && rng.next() < density) {
        const v = Math.fround(rng.normal());
        colIdx.push(c);
        values.push(v);
        dense[r * cols + c] = v;
      }
    }
    rowPtr[r + 1] = colIdx.length;
  }
  return { rowPtr, colIdx: Int32Array.from(colIdx), values: Float32Array.from(values), dense };
}
