// Fine-tuning of SqueezeLLM's tables against the f32 model (issue 13, 3b): with every weight's
// table index fixed, the table entries, the row scales and the sparse values are moved by Adam
// to lower the KL divergence of the quantized model's next-token distributions from the f32
// model's on the calibration sequences. The gradients come from the toolchain's own backward pass
// (tools/fisher/backward.ts, with the f32 model as teacher); a weight w[r, c] = s[r] T[t(r), idx]
// (+ the sparse value at a sparse position) passes its gradient g on as
//   dL/dT[t(r), j] += s[r] g (over the row's weights with idx = j),  dL/ds[r] += T[t(r), idx] g,
//   dL/dsparse += g,
// so one backward of the dense weights gives every parameter's gradient. The tables and scales
// are rounded to what the file stores (f16) at the end, as nuq stores them. Each weight keeps its
// table entry; only where entries cross are a table's entries renumbered in ascending order.
import { dequantize, type NuqRecord, type NuqSharedRecord, type TensorRecord } from '../../src/format/kinds.ts';
import { packIndices, unpackIndices } from '../../src/format/packing.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { LlamaGrad, type TeacherLogits, type WeightMap } from '../fisher/backward.ts';
import { linearForward } from '../fisher/kernels.ts';

export type LutRecord = NuqRecord | NuqSharedRecord;

export interface TuneOptions {
  /** Passes over the calibration sequences, `batch` of them (in order) per optimizer step. */
  epochs: number;
  /** Sequences per step (default 4). */
  batch?: number;
  /** Adam's step size as a fraction of each parameter group's RMS (default TUNE_LR). */
  lr?: number;
  /** Called after each optimizer step with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface TuneResult {
  /** The records with tuned tables, scales and sparse values (indices unchanged); the given ones if tuning did not lower the KL. */
  records: Map<string, LutRecord>;
  /** Mean KL (nats per token) of the quantized model to the f32 one over the calibration sequences, before and after. */
  klBefore: number;
  klAfter: number;
}

/** Adam's default step, relative to the RMS of what it moves; measured on stories260K (docs/TOOLCHAIN.md). */
export const TUNE_LR = 0.003;
/** `sqz quantize`'s default passes over the calibration set (docs/TOOLCHAIN.md). */
export const TUNE_EPOCHS = 2;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-12;

/** One parameter vector under Adam: f64 master values, their gradient and moments. */
class AdamGroup {
  readonly grad: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly step: number;

  constructor(readonly value: Float64Array, lr: number, unit: number) {
    this.grad = new Float64Array(value.length);
    this.m = new Float64Array(value.length);
    this.v = new Float64Array(value.length);
    this.step = lr * unit;
  }

  /** Adam's update number t (from 1) with the accumulated gradient, which is then cleared. */
  update(t: number): void {
    const c1 = 1 - BETA1 ** t;
    const c2 = 1 - BETA2 ** t;
    const { value, grad, m, v } = this;
    for (let i = 0; i < value.length; i++) {
      const g = grad[i];
      m[i] = BETA1 * m[i] + (1 - BETA1) * g;
      v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
      value[i] -= (this.step * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + EPS);
    }
    grad.fill(0);
  }
}

function rms(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return v.length ? Math.sqrt(s / v.length) : 0;
}

/** One LUT matrix being tuned: its parameters and the dense weights the model reads. */
class TunedMatrix {
  readonly weights: Float32Array;
  private readonly rows: number;
  private readonly cols: number;
  private readonly k: number;
  private readonly tableRows: number;
  private readonly idx: Uint8Array;
  private readonly table: AdamGroup;
  private readonly scales: AdamGroup | null;
  private sparse: AdamGroup | null;
  /** [rows, k] s[r] T[t(r), j], what the indices point into. */
  private readonly perRow: Float32Array;

  constructor(readonly rec: LutRecord, lr: number) {
    const [rows, cols] = rec.shape;
    this.rows = rows;
    this.cols = cols;
    this.k = 1 << rec.bits;
    this.tableRows = rec.kind === 'nuq-shared' ? rec.tableRows : 1;
    this.idx = unpackIndices(rec.indices, rows, cols, rec.bits);
    const scales = rec.kind === 'nuq-shared' ? rec.rowScales : undefined;
    this.table = new AdamGroup(Float64Array.from(rec.lut), lr, rms(rec.lut));
    this.scales = scales ? new AdamGroup(Float64Array.from(scales), lr, rms(scales)) : null;
    this.perRow = new Float32Array(rows * this.k);
    this.weights = new Float32Array(rows * cols);
    // the sparse values move in weight units: the step is relative to the RMS of the row tables
    this.sparse = null;
    this.expand();
    this.sparse = rec.sparse ? new AdamGroup(Float64Array.from(rec.sparse.values), lr, rms(this.perRow)) : null;
    this.expand();
  }

  /** Writes the dense weights from the current parameters. */
  expand(): void {
    const { rows, cols, k, idx, perRow, weights } = this;
    const T = this.table.value;
    const s = this.scales?.value;
    for (let r = 0; r < rows; r++) {
      const t = Math.floor(r / this.tableRows) * k;
      for (let j = 0; j < k; j++) perRow[r * k + j] = s ? s[r] * T[t + j] : T[t + j];
      const b = r * cols;
      const pb = r * k;
      for (let c = 0; c < cols; c++) weights[b + c] = perRow[pb + idx[b + c]];
    }
    const sp = this.rec.sparse;
    if (sp && this.sparse) {
      const v = this.sparse.value;
      for (let r = 0; r < rows; r++) for (let e = sp.rowPtr[r]; e < sp.rowPtr[r + 1]; e++) weights[r * cols + sp.colIdx[e]] += v[e];
    }
  }

  /** Adds the parameters' gradients for g = dL/dW [rows, cols]. */
  accumulate(g: Float32Array): void {
    const { rows, cols, k, idx } = this;
    const T = this.table.value;
    const s = this.scales?.value;
    const gT = this.table.grad;
    const gS = this.scales?.grad;
    for (let r = 0; r < rows; r++) {
      const t = Math.floor(r / this.tableRows) * k;
      const sr = s ? s[r] : 1;
      const b = r * cols;
      let gs = 0;
      for (let c = 0; c < cols; c++) {
        const j = idx[b + c];
        const gi = g[b + c];
        gT[t + j] += sr * gi;
        gs += T[t + j] * gi;
      }
      if (gS) gS[r] += gs;
    }
    const sp = this.rec.sparse;
    if (sp && this.sparse) {
      const gV = this.sparse.grad;
      for (let r = 0; r < rows; r++) for (let e = sp.rowPtr[r]; e < sp.rowPtr[r + 1]; e++) gV[e] += g[r * cols + sp.colIdx[e]];
    }
  }

  update(t: number): void {
    this.table.update(t);
    this.scales?.update(t);
    this.sparse?.update(t);
  }

  /**
   * The record with the tuned values, rounded as the file stores them; a table whose entries
   * crossed is sorted again (ascending, as nuq writes them) and its rows' indices follow.
   */
  record(): LutRecord {
    const toHalf = (v: number): number => halfToFloat(floatToHalf(v));
    const lut = Float32Array.from(this.table.value, this.rec.lutType === 'f16' ? toHalf : (v) => v);
    const { rows, cols, k, idx } = this;
    let reordered = false;
    const rank = new Uint8Array(k);
    for (let t = 0; t < lut.length; t += k) {
      const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => lut[t + a] - lut[t + b] || a - b);
      if (order.every((j, n) => j === n)) continue;
      reordered = true;
      const sorted = order.map((j) => lut[t + j]);
      lut.set(sorted, t);
      order.forEach((j, n) => (rank[j] = n));
      const r0 = (t / k) * this.tableRows;
      for (let r = r0; r < Math.min(rows, r0 + this.tableRows); r++) for (let c = 0; c < cols; c++) idx[r * cols + c] = rank[idx[r * cols + c]];
    }
    const indices = reordered ? packIndices(idx, rows, cols, this.rec.bits) : this.rec.indices;
    const sparse = this.rec.sparse && this.sparse ? { ...this.rec.sparse, values: Float32Array.from(this.sparse.value) } : undefined;
    if (this.rec.kind === 'nuq-shared') {
      const rowScales = this.scales ? Float32Array.from(this.scales.value, toHalf) : undefined;
      return { ...this.rec, lut, indices, ...(rowScales ? { rowScales } : {}), ...(sparse ? { sparse } : {}) };
    }
    return { ...this.rec, lut, indices, ...(sparse ? { sparse } : {}) };
  }
}

/** The f32 model's logits for each calibration sequence, from its final normed rows (kept, [T, dim] each) and its head. */
function teacherOf(config: ModelConfig, teacher: WeightMap, sequences: number[][]): (s: number) => TeacherLogits {
  const lg = new LlamaGrad(config, teacher);
  const hidden = sequences.map((ids) => Float32Array.from(lg.finalNormed(ids)));
  const head = teacher.get(config.tiedEmbeddings ? 'embed' : 'head')!;
  const D = config.dim;
  return (s) => (t0, rows, out) => linearForward(out, hidden[s].subarray(t0 * D, (t0 + rows) * D), head, rows, D, config.vocabSize);
}

/**
 * Tunes the LUT records of `records` (the model's linear matrices: LUT records, or f32/f16 ones
 * a --layer-bits spec kept float, which stay as they are) against the f32 weights `teacher` on
 * `sequences`. Deterministic: sequences in order, no sampling.
 */
export async function tuneTables(config: ModelConfig, teacher: WeightMap, records: Map<string, TensorRecord>, sequences: number[][], opts: TuneOptions): Promise<TuneResult> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new UsageError(`tuning needs a positive whole number of epochs, got ${opts.epochs}`);
  if (sequences.length === 0) throw new UsageError('tuning needs at least one calibration sequence');
  const batch = Math.min(opts.batch ?? 4, sequences.length);
  const steps = opts.epochs * Math.ceil(sequences.length / batch);
  const lr = opts.lr ?? TUNE_LR;
  if (!(lr > 0)) throw new UsageError(`the tuning step size must be positive, got ${lr}`);
  const logitsOf = teacherOf(config, teacher, sequences);
  const tuned = new Map<string, TunedMatrix>();
  const student: WeightMap = new Map(teacher);
  for (const [name, rec] of records) {
    if (rec.kind !== 'nuq' && rec.kind !== 'nuq-shared') {
      if (rec.kind !== 'f32' && rec.kind !== 'f16') throw new UsageError(`${name} is ${rec.kind}: only SqueezeLLM's LUT records are tuned`);
      // a matrix kept float: the model sees it as stored (f16-rounded for f16)
      if (rec.kind === 'f16') student.set(name, dequantize(rec));
      continue;
    }
    const m = new TunedMatrix(rec, lr);
    tuned.set(name, m);
    student.set(name, m.weights);
  }
  const lg = new LlamaGrad(config, student);
  const meanKl = (): number => {
    let total = 0;
    for (let s = 0; s < sequences.length; s++) total += lg.loss(sequences[s], { teacher: logitsOf(s) });
    return total / sequences.length;
  };
  const klBefore = meanKl();
  const grads = lg.newGrads();
  let next = 0;
  for (let step = 1; step <= steps; step++) {
    // the last batch of an epoch may be short: every sequence counts once per epoch
    const end = Math.min(next + batch, sequences.length);
    for (; next < end; next++) {
      const s = next;
      lg.lossAndGrad(sequences[s], grads, { teacher: logitsOf(s) });
      for (const [name, m] of tuned) m.accumulate(grads.get(name)!);
    }
    for (const m of tuned.values()) {
      m.update(step);
      m.expand();
    }
    if (next === sequences.length) next = 0;
    opts.onProgress?.(step, steps);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // what the file stores (tables and scales rounded), and its KL
  const out = new Map<string, LutRecord>();
  for (const [name, m] of tuned) {
    const rec = m.record();
    out.set(name, rec);
    m.weights.set(new TunedMatrix(rec, lr).weights);
  }
  const klAfter = meanKl();
  // a step size too large for a matrix that was already close can end higher: keep what was given
  if (!(klAfter < klBefore)) return { records: new Map([...tuned].map(([n, m]) => [n, m.rec])), klBefore, klAfter: klBefore };
  return { records: out, klBefore, klAfter };
}
