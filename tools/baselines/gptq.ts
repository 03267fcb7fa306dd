// GPTQ (Frantar et al. 2022; github.com/IST-DASLab/gptq, gptq.py fasterquant) for one linear layer,
// in f64. docs/BASELINES.md has the details and where this differs from the reference code.
//
//   H = 2/N X^T X over the layer's calibration inputs X [N, cols] (InputStats accumulates it)
//   dead columns (H_ii = 0): H_ii = 1 and W[:, i] = 0 (the column never meets a non-zero input)
//   actOrder: columns in order of descending H_ii (stable), permuted back at the end
//   H += damp * mean(diag H) * I;  U = the upper Cholesky factor of H^-1 (H^-1 = U^T U)
//   for blocks of `blockSize` columns, for each column i of the block:
//     q_i = quant(w_i);  err = (w_i - q_i) / U_ii;  w_j -= err * U_ij for the block's later columns j
//   then the columns after the block get the block's errors at once (lazy batch update).
//
// Groups are the format's groups: groupSize consecutive columns of the original order. Their
// scale and zero come from the weights as they are when the group's first column is quantized
// (the columns of the current block with every update so far, later columns without the current
// block's pending updates: exact when groups fall inside blocks, as with 32/64/128 and block 128),
// or with `staticGroups` from the original weights, all up front. One group per row takes the row's
// parameters from the original weights, as the reference does.
import type { UniformRecord } from '../../src/format/kinds.ts';
import { UsageError } from '../../src/util/errors.ts';
import { checkUniformOptions, paramsOf, quantParams, UniformMatrix, type UniformOptions } from './rtn.ts';

/**
 * Running sums over a layer's calibration inputs, one row x [cols] at a time: X^T X (both
 * triangles on read), sum |x_c|, and the row count. GPTQ's Hessian is 2/N X^T X; AWQ uses the
 * same Gram matrix for its output error and mean |x_c| for its scales.
 */
export class InputStats {
  /** Upper triangle of X^T X, [cols, cols] row-major. */
  private readonly upper: Float64Array;
  readonly absSum: Float64Array;
  n = 0;

  constructor(readonly cols: number) {
    this.upper = new Float64Array(cols * cols);
    this.absSum = new Float64Array(cols);
  }

  /** Adds the rows of x [rows, cols]. */
  add(x: Float32Array, rows: number): void {
    const n = this.cols;
    if (x.length < rows * n) throw new RangeError(`InputStats.add: ${x.length} values for ${rows} rows of ${n}`);
    const g = this.upper;
    for (let t = 0; t < rows; t++) {
      const xb = t * n;
      for (let i = 0; i < n; i++) {
        const xi = x[xb + i];
        this.absSum[i] += Math.abs(xi);
        if (xi === 0) continue;
        const gb = i * n;
        for (let j = i; j < n; j++) g[gb + j] += xi * x[xb + j];
      }
    }
    this.n += rows;
  }

  /** X^T X, full and symmetric, scaled by `factor`. */
  gram(factor = 1): Float64Array {
    const n = this.cols;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = this.upper[i * n + j] * factor;
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
    return out;
  }

  /** GPTQ's Hessian 2/N X^T X. */
  hessian(): Float64Array {
    if (this.n === 0) throw new UsageError('GPTQ needs calibration inputs (no rows were added)');
    return this.gram(2 / this.n);
  }

  /** mean |x_c| per input channel. */
  meanAbs(): Float64Array {
    return this.absSum.map((s) => (this.n ? s / this.n : 0));
  }
}

export interface GptqOptions extends UniformOptions, SweepOptions {
  /** Every group's scale and zero from the original weights, up front (default false). */
  staticGroups?: boolean;
}

export interface GptqResult {
  record: UniformRecord;
  matrix: UniformMatrix;
  /** GPTQ's loss: sum over weights of (w - q)^2 / U_ii^2 / 2, with w the updated weight. */
  loss: number;
  /** Columns with H_ii = 0 (zeroed). */
  dead: number;
}

/**
 * The upper-triangular U with A^-1 = U^T U, for A symmetric positive definite [n, n] (f64,
 * row-major): A = R R^T with R upper triangular (a Cholesky factorization run from the last row
 * up), then U = R^-1. Equals torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(A)),
 * upper=True), without forming A^-1. Returns null when A is not positive definite.
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number): Float64Array | null {
  const R = new Float64Array(n * n);
  for (let j = n - 1; j >= 0; j--) {
    const jb = j * n;
    let d = a[jb + j];
    for (let k = j + 1; k < n; k++) d -= R[jb + k] * R[jb + k];
    if (!(d > 0)) return null;
    const rjj = Math.sqrt(d);
    R[jb + j] = rjj;
    for (let i = 0; i < j; i++) {
      const ib = i * n;
      let s = a[ib + j];
      for (let k = j + 1; k < n; k++) s -= R[ib + k] * R[jb + k];
      R[ib + j] = s / rjj;
    }
  }
  // U = R^-1, upper triangular, row by row from the bottom: U[i, j] = -(sum_{k=i+1..j} R[i, k] U[k, j]) / R[i, i]
  const U = new Float64Array(n * n);
  const acc = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const ib = i * n;
    acc.fill(0, i, n);
    for (let k = i + 1; k < n; k++) {
      const rik = R[ib + k];
      if (rik === 0) continue;
      const kb = k * n;
      for (let j = k; j < n; j++) acc[j] += rik * U[kb + j];
    }
    const inv = 1 / R[ib + i];
    U[ib + i] = inv;
    for (let j = i + 1; j < n; j++) U[ib + j] = -acc[j] * inv;
  }
  return U;
}

/** How a column sweep quantizes: the grid is the caller's (uniform groups here, SqueezeLLM's lookup tables in tools/squeezellm/gptq.ts). */
export interface ColumnQuantizer {
  /** Once, before the sweep, with the weights after dead columns are zeroed (f64, [rows, cols], original column order). */
  prepare?(w: Float64Array): void;
  /** Before column `col` (original index) is quantized; `current(r, c)` reads any column not yet quantized as it is now. */
  begin?(col: number, current: (r: number, c: number) => number): void;
  /** The grid value for v at (r, col), recording whatever the caller keeps. */
  quantize(r: number, col: number, v: number): number;
}

export interface SweepOptions {
  /** Added to the diagonal: damp * mean(diag H) (default 0.01). */
  damp?: number;
  /** Columns per lazy-update block (default 128). */
  blockSize?: number;
  /** Quantize columns in order of descending H_ii (default false). */
  actOrder?: boolean;
}

/**
 * GPTQ's error feedback over the columns of w [rows, cols] with Hessian h [cols, cols] (neither is
 * modified), any grid: each column is quantized by `q` and its error is pushed onto the columns not
 * yet quantized through the inverse Hessian's Cholesky factor. Returns the loss and the dead columns.
 */
export function gptqSweep(name: string, w: Float32Array, rows: number, cols: number, h: Float64Array, opts: SweepOptions, q: ColumnQuantizer): { loss: number; dead: number } {
  if (w.length !== rows * cols) throw new RangeError(`gptq ${name}: ${w.length} weights for a ${rows}x${cols} matrix`);
  if (h.length !== cols * cols) throw new RangeError(`gptq ${name}: a Hessian of ${h.length} values for ${cols} columns`);
  const damp = opts.damp ?? 0.01;
  if (!(damp >= 0)) throw new UsageError(`damp must be >= 0, got ${damp}`);
  const B = opts.blockSize ?? 128;
  if (!Number.isInteger(B) || B < 1) throw new UsageError(`block size must be a positive integer, got ${B}`);

  // dead columns
  const W = Float64Array.from(w);
  const H = Float64Array.from(h);
  let dead = 0;
  for (let i = 0; i < cols; i++) {
    if (H[i * cols + i] !== 0) continue;
    dead++;
    H[i * cols + i] = 1;
    for (let r = 0; r < rows; r++) W[r * cols + i] = 0;
  }
  q.prepare?.(W);

  // column order
  const perm = Array.from({ length: cols }, (_, i) => i);
  if (opts.actOrder) perm.sort((a, b) => H[b * cols + b] - H[a * cols + a] || a - b);
  const inv = new Int32Array(cols);
  for (let j = 0; j < cols; j++) inv[perm[j]] = j;
  const Wp = new Float64Array(rows * cols);
  const Hp = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) Wp[r * cols + j] = W[r * cols + perm[j]];
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];

  let mean = 0;
  for (let i = 0; i < cols; i++) mean += Hp[i * cols + i];
  mean /= cols;
  for (let i = 0; i < cols; i++) Hp[i * cols + i] += damp * mean;
  const U = upperCholeskyOfInverse(Hp, cols);
  if (!U) throw new UsageError(`gptq ${name}: the damped Hessian is not positive definite (damp ${damp}); try a larger damp`);

  const current = (r: number, c: number) => Wp[r * cols + inv[c]];
  let loss = 0;
  const err = new Float64Array(rows * B);
  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const nb = i2 - i1;
    for (let i = i1; i < i2; i++) {
      const col = perm[i];
      q.begin?.(col, current);
      const ib = i * cols;
      const d = U[ib + i];
      for (let r = 0; r < rows; r++) {
        const rb = r * cols;
        const v = Wp[rb + i];
        const e = (v - q.quantize(r, col, v)) / d;
        loss += (e * e) / 2;
        err[r * B + (i - i1)] = e;
        if (e !== 0) for (let j = i + 1; j < i2; j++) Wp[rb + j] -= e * U[ib + j];
      }
    }
    // lazy batch update of the columns after the block
    if (i2 < cols) {
      for (let r = 0; r < rows; r++) {
        const rb = r * cols;
        for (let k = 0; k < nb; k++) {
          const e = err[r * B + k];
          if (e === 0) continue;
          const ub = (i1 + k) * cols;
          for (let j = i2; j < cols; j++) Wp[rb + j] -= e * U[ub + j];
        }
      }
    }
  }
  return { loss, dead };
}

/** GPTQ of one [rows, cols] matrix w with Hessian h [cols, cols] (h is not modified). */
export function gptqQuantize(name: string, w: Float32Array, rows: number, cols: number, h: Float64Array, opts: GptqOptions): GptqResult {
  checkUniformOptions(opts);
  const sym = opts.sym ?? false;
  const { bits } = opts;
  const m = new UniformMatrix(rows, cols, bits, opts.groupSize);
  const { gs, nGroups } = m;
  const grouped = nGroups > 1;
  const ready = new Uint8Array(nGroups);
  const { loss, dead } = gptqSweep(name, w, rows, cols, h, opts, {
    prepare(W) {
      // parameters known up front: one group per row, or static groups
      if (grouped && !opts.staticGroups) return;
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < nGroups; g++) m.setParams(r, g, paramsOf(W, r * cols + g * gs, r * cols + Math.min(cols, (g + 1) * gs), 1, bits, sym));
      }
      ready.fill(1);
    },
    begin(col, current) {
      const g = Math.floor(col / gs);
      if (ready[g]) return;
      // the group's columns as they are now (all still unquantized: none comes before this one)
      const c0 = g * gs;
      const c1 = Math.min(cols, c0 + gs);
      for (let r = 0; r < rows; r++) {
        let min = Infinity;
        let max = -Infinity;
        for (let c = c0; c < c1; c++) {
          const v = current(r, c);
          if (v < min) min = v;
          if (v > max) max = v;
        }
        m.setParams(r, g, quantParams(min, max, bits, sym));
      }
      ready[g] = 1;
    },
    quantize: (r, col, v) => m.quantize(r, col, v),
  });
  return { record: m.toRecord(name), matrix: m, loss, dead };
}
