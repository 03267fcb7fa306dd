// GPTQ-style error feedback on SqueezeLLM's non-uniform grid (`sqz quantize --gptq`): the tables
// are fitted first (Fisher-weighted k-means, per row or shared), then the columns are quantized in
// order, each weight to the nearest entry of its row's table, and each column's error is pushed
// onto the columns not yet quantized through the inverse Hessian of the calibration inputs (the
// GPTQ baseline's sweep, tools/baselines/gptq.ts). Sparse positions are kept exactly: their error
// is 0, and their stored residual is taken from the weight as the sweep left it.
import { gptqSweep, type SweepOptions } from '../baselines/gptq.ts';
import { nearestEntry } from './shared.ts';

export interface LutSweepResult {
  /** [rows * cols] the chosen entry of each weight's row table (sparse positions: whatever, overwritten later). */
  indices: Uint8Array;
  /** [rows * cols] the weights as the sweep left them, read at the sparse positions. */
  updated: Float32Array;
  loss: number;
}

/** The sweep with `perRow` [rows, 2^bits] tables; `sparse[i]` marks weights kept exactly. */
export function lutSweep(name: string, w: Float32Array, rows: number, cols: number, h: Float64Array, perRow: Float32Array, k: number, sparse: Uint8Array, opts: SweepOptions = {}): LutSweepResult {
  const indices = new Uint8Array(rows * cols);
  const updated = new Float32Array(rows * cols);
  const { loss } = gptqSweep(name, w, rows, cols, h, opts, {
    quantize(r, col, v) {
      const i = r * cols + col;
      if (sparse[i]) {
        updated[i] = v;
        return v;
      }
      const best = nearestEntry(perRow, r * k, k, v);
      indices[i] = best;
      return perRow[r * k + best];
    },
  });
  return { indices, updated, loss };
}
