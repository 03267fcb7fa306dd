// AWQ (Lin et al. 2023; github.com/mit-han-lab/llm-awq, auto_scale.py) for the linear layers of a
// block, in f64. docs/BASELINES.md has the details.
//
// Layers that read the same input x [N, cols] share one per-input-channel scale
//   s_c = mean_t |x_tc| ^ alpha, clamped below at 1e-4, then divided by sqrt(max s * min s),
// with alpha from a grid 0, 1/grid, ..., 1 chosen to minimise the layers' summed output error
//   sum_layers || X W^T - (X diag(1/s)) Q(W diag(s))^T ||^2
// after group quantization Q (rtn.ts). alpha = 0 gives s = 1, plain RTN, so the search never does
// worse than RTN on its own objective. The error is computed from the Gram matrix G = X^T X as
// sum_rows d^T G d, d = w - Q(w s) / s, so the calibration inputs need not be kept.
//
// The 1/s goes into the operation before the layers, where it costs nothing at run time:
//   q, k, v    <- attn_norm / s   (RMSNorm weight; one s for the three)
//   o          <- rows of v / s   (only when nHeads == nKvHeads: with GQA a v row feeds several
//                                  heads' o columns and no single row scale fits them all; skipped)
//   gate, up   <- mlp_norm / s    (one s for the two)
//   down       <- rows of up / s  (silu(gate) * up is linear in up)
// and W diag(s) is what is quantized. Before quantization the folded block computes the same
// function as the original (up to f32 rounding).
import type { TensorRecord } from '../../src/format/kinds.ts';
import { kvDim, type ModelConfig } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { InputStats } from './gptq.ts';
import { checkUniformOptions, rtnAtPrecision, rtnMatrix, type UniformBits, type UniformOptions } from './rtn.ts';
import type { Precision } from '../precision.ts';
import type { LayerParams } from '../fisher/backward.ts';

export interface AwqOptions extends UniformOptions {
  /** alpha runs over 0, 1/grid, ..., 1 (default grid 20: 21 values). */
  grid?: number;
}

export interface AwqSearch {
  /** The chosen per-input-channel scales s (W is multiplied by them, its input divided). */
  scales: Float32Array;
  alpha: number;
  /** Output error at the chosen alpha. */
  error: number;
  /** Output error at alpha = 0 (plain RTN). */
  rtnError: number;
  /** Output error at each alpha of the grid. */
  errors: number[];
}

/** One matrix [rows, cols] reading the shared input. */
export interface AwqLayer {
  w: Float32Array;
  rows: number;
  /** Its bit width when it differs from opts.bits (mixed precision); a float precision: kept float, so no error at any alpha. */
  precision?: Precision;
}

/** s_c = max(meanAbs_c^alpha, 1e-4) / sqrt(max s * min s), as llm-awq. */
export function awqScales(meanAbs: ArrayLike<number>, alpha: number): Float32Array {
  const n = meanAbs.length;
  const s = new Float64Array(n);
  let max = -Infinity;
  let min = Infinity;
  for (let c = 0; c < n; c++) {
    s[c] = Math.max(Math.pow(meanAbs[c], alpha), 1e-4);
    max = Math.max(max, s[c]);
    min = Math.min(min, s[c]);
  }
  const norm = Math.sqrt(max * min);
  return Float32Array.from(s, (v) => v / norm);
}

/** sum over rows of d^T G d, d = w - w_hat, G [cols, cols]. */
export function outputError(w: Float32Array, wHat: Float32Array, rows: number, cols: number, gram: Float64Array): number {
  const d = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) d[c] = w[r * cols + c] - wHat[r * cols + c];
    for (let i = 0; i < cols; i++) {
      const di = d[i];
      if (di === 0) continue;
      const gb = i * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += gram[gb + j] * d[j];
      total += di * s;
    }
  }
  return total;
}

/** W diag(s): column c of every row times s_c. */
export function scaleColumns(w: Float32Array, rows: number, cols: number, s: Float32Array): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = w[r * cols + c] * s[c];
  return out;
}

/** diag(1/s) W: row r divided by s_r. */
export function divideRows(w: Float32Array, rows: number, cols: number, s: Float32Array): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = w[r * cols + c] / s[r];
  return out;
}

/** The grid search for layers sharing an input with Gram matrix `gram` and mean |x_c| `meanAbs`. */
export function awqSearch(gram: Float64Array, meanAbs: ArrayLike<number>, cols: number, layers: AwqLayer[], opts: AwqOptions): AwqSearch {
  checkUniformOptions(opts);
  const grid = opts.grid ?? 20;
  if (!Number.isInteger(grid) || grid < 1) throw new UsageError(`the AWQ grid must be a positive integer, got ${grid}`);
  const errors: number[] = [];
  let best: { alpha: number; error: number; scales: Float32Array } = { alpha: 0, error: Infinity, scales: new Float32Array(cols).fill(1) };
  for (let k = 0; k <= grid; k++) {
    const alpha = k / grid;
    const s = awqScales(meanAbs, alpha);
    let error = 0;
    for (const { w, rows, precision } of layers) {
      const bits = precision ?? opts.bits;
      if (typeof bits !== 'number') continue;
      const q = rtnMatrix(scaleColumns(w, rows, cols, s), rows, cols, { ...opts, bits: bits as UniformBits }).dequantized();
      // Q(W s) / s: the effective weight the unscaled input meets
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) q[r * cols + c] /= s[c];
      error += outputError(w, q, rows, cols, gram);
    }
    errors.push(error);
    if (error < best.error) best = { alpha, error, scales: s };
  }
  return { ...best, rtnError: errors[0], errors };
}

/** awqSearch from the inputs themselves, x [n, cols]. */
export function awqSearchX(x: Float32Array, n: number, cols: number, layers: AwqLayer[], opts: AwqOptions): AwqSearch {
  const st = new InputStats(cols);
  st.add(x, n);
  return awqSearch(st.gram(), st.meanAbs(), cols, layers, opts);
}

/** One block's float tensors, by their short names. */
export type BlockWeights = LayerParams;

/** Statistics of one block's four distinct linear inputs (InputStats of dim, dim, dim and hiddenDim columns). */
export interface BlockInputStats {
  attn: InputStats;
  attnOut: InputStats;
  mlp: InputStats;
  mlpHidden: InputStats;
}

export interface AwqBlockScales {
  qkv: AwqSearch;
  /** null when v -> o cannot be folded (GQA): o is then quantized unscaled. */
  o: AwqSearch | null;
  gateUp: AwqSearch;
  down: AwqSearch;
  notes: string[];
}

/** Whether o's input scale can be folded into v's rows (every o input channel is one v output channel). */
export function canFoldVO(c: ModelConfig): boolean {
  return c.nHeads === c.nKvHeads;
}

/** A matrix's precision by its short name (attn.q ... mlp.down); absent: opts.bits throughout. */
export type BlockPrecision = (layer: string) => Precision;

/** The four searches of one block, each on its own calibration inputs. */
export function awqBlockScales(c: ModelConfig, W: BlockWeights, X: BlockInputStats, opts: AwqOptions, precision?: BlockPrecision): AwqBlockScales {
  const { dim: D, hiddenDim: H } = c;
  const KV = kvDim(c);
  const notes: string[] = [];
  const at = (layer: string, w: Float32Array, rows: number): AwqLayer => ({ w, rows, precision: precision?.(layer) });
  const qkv = awqSearch(X.attn.gram(), X.attn.meanAbs(), D, [at('attn.q', W.q, D), at('attn.k', W.k, KV), at('attn.v', W.v, KV)], opts);
  let o: AwqSearch | null = null;
  if (canFoldVO(c)) o = awqSearch(X.attnOut.gram(), X.attnOut.meanAbs(), D, [at('attn.o', W.o, D)], opts);
  else notes.push(`attn.o not scaled: grouped-query attention (${c.nHeads} heads, ${c.nKvHeads} KV heads) leaves no v row per o column`);
  const gateUp = awqSearch(X.mlp.gram(), X.mlp.meanAbs(), D, [at('mlp.gate', W.gate, H), at('mlp.up', W.up, H)], opts);
  const down = awqSearch(X.mlpHidden.gram(), X.mlpHidden.meanAbs(), H, [at('mlp.down', W.down, D)], opts);
  return { qkv, o, gateUp, down, notes };
}

/**
 * The block with the scales folded in (new arrays; W is not modified): the linear layers times
 * diag(s) on their inputs, the 1/s moved into the norms and the rows of v and up. Computes the same
 * function as W up to f32 rounding.
 */
export function foldAwqScales(c: ModelConfig, W: BlockWeights, s: { qkv: Float32Array; o: Float32Array | null; gateUp: Float32Array; down: Float32Array }): BlockWeights {
  const { dim: D, hiddenDim: H } = c;
  const KV = kvDim(c);
  if (s.o && !canFoldVO(c)) throw new UsageError('an o scale cannot be folded into v with grouped-query attention');
  const div = (a: Float32Array, b: Float32Array) => Float32Array.from(a, (v, i) => v / b[i]);
  let v = scaleColumns(W.v, KV, D, s.qkv);
  if (s.o) v = divideRows(v, KV, D, s.o);
  return {
    attnNorm: div(W.attnNorm, s.qkv),
    q: scaleColumns(W.q, D, D, s.qkv),
    k: scaleColumns(W.k, KV, D, s.qkv),
    v,
    o: s.o ? scaleColumns(W.o, D, D, s.o) : W.o.slice(),
    mlpNorm: div(W.mlpNorm, s.gateUp),
    gate: scaleColumns(W.gate, H, D, s.gateUp),
    up: divideRows(scaleColumns(W.up, H, D, s.gateUp), H, D, s.down),
    down: scaleColumns(W.down, D, H, s.down),
  };
}

export interface AwqBlockResult {
  /** The folded float block (its norms are what the .sqz stores; its matrices were quantized). */
  folded: BlockWeights;
  /** layers.{l}.attn.q ... mlp.down, quantized (or, at a float precision, stored) from the folded matrices. */
  records: TensorRecord[];
  scales: AwqBlockScales;
}

/**
 * AWQ of block `layer`: search, fold, then group-quantize the folded matrices. `precision` takes
 * the full tensor name (layers.{l}.attn.q) and gives each matrix its own bits or a float kind.
 */
export function awqBlock(c: ModelConfig, layer: number, W: BlockWeights, X: BlockInputStats, opts: AwqOptions, precision?: (name: string) => Precision): AwqBlockResult {
  checkUniformOptions(opts);
  const p = `layers.${layer}.`;
  const of = (n: string): Precision => precision?.(p + n) ?? opts.bits;
  const scales = awqBlockScales(c, W, X, opts, of);
  const folded = foldAwqScales(c, W, { qkv: scales.qkv.scales, o: scales.o?.scales ?? null, gateUp: scales.gateUp.scales, down: scales.down.scales });
  const { dim: D, hiddenDim: H } = c;
  const KV = kvDim(c);
  const mats: [string, Float32Array, number, number][] = [
    ['attn.q', folded.q, D, D],
    ['attn.k', folded.k, KV, D],
    ['attn.v', folded.v, KV, D],
    ['attn.o', folded.o, D, D],
    ['mlp.gate', folded.gate, H, D],
    ['mlp.up', folded.up, H, D],
    ['mlp.down', folded.down, D, H],
  ];
  const records = mats.map(([n, w, rows, cols]) => rtnAtPrecision(p + n, w, rows, cols, of(n), opts));
  return { folded, records, scales };
}
