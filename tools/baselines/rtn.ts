// Uniform quantization shared by the baselines (docs/BASELINES.md), and RTN itself.
//
// The quantizer is GPTQ's (github.com/IST-DASLab/gptq, quant.py), used by RTN, GPTQ and AWQ alike
// so the three differ only in what they do around it. For the values v of one group (one row's
// groupSize consecutive columns), with maxq = 2^bits - 1:
//
//   asymmetric: lo = min(min v, 0), hi = max(max v, 0)         (the range always holds 0)
//               scale = (hi - lo) / maxq, zero = round(-lo / scale)   (an integer in 0..maxq)
//   symmetric:  m = max |v|, lo = -m, hi = m
//               scale = 2m / maxq,        zero = (maxq + 1) / 2 = 2^(bits-1)  (4, 8 or 128)
//   lo = hi = 0 (an all-zero group): lo = -1, hi = 1.
//   q = clamp(round(v / scale) + zero, 0, maxq),  v_hat = scale * (q - zero)
//
// round() is round-half-to-even, as torch.round. The scale is rounded to f32 first (the file
// stores f32), so q and v_hat are exactly what the runtime will see. Every v of the group then has
// |v - v_hat| <= scale / 2 (the clamp only ever moves a value by at most half a step).
// One deliberate difference from GPTQ's code: with `sym` it leaves lo = 0 for a group without
// negative values, which clips that group's upper half; here the range is always mirrored.
import type { TensorRecord, UniformRecord } from '../../src/format/kinds.ts';
import { packIndices } from '../../src/format/packing.ts';
import { UsageError } from '../../src/util/errors.ts';
import { denseRecord } from '../convert.ts';
import type { Precision } from '../precision.ts';

export type UniformBits = 3 | 4 | 8;

export interface UniformOptions {
  /** Bits per weight value: 3, 4 or 8 (the linear layers' default under layerBits). */
  bits: UniformBits;
  /** Columns per group along a row: 32, 64, 128, ...; 0, absent or >= cols: one group per row (per output channel). */
  groupSize?: number;
  /** Symmetric (zero fixed at 2^(bits-1)) instead of asymmetric (default). */
  sym?: boolean;
}

export function checkUniformOptions(o: UniformOptions): void {
  if (o.bits !== 3 && o.bits !== 4 && o.bits !== 8) throw new UsageError(`bits must be 3, 4 or 8 for uniform quantization, got ${o.bits}`);
  const g = o.groupSize ?? 0;
  if (!Number.isInteger(g) || g < 0) throw new UsageError(`group size must be a non-negative integer (0 = one group per row), got ${g}`);
}

/** The group width actually used for a row of `cols`: groupSize, or cols when 0, absent or larger. */
export function groupWidth(groupSize: number | undefined, cols: number): number {
  return !groupSize || groupSize >= cols ? cols : groupSize;
}

/** Round half to even (torch.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantParams {
  /** f32-representable. */
  scale: number;
  zero: number;
}

/** The parameters of a group whose values lie in [min, max] (see the header). */
export function quantParams(min: number, max: number, bits: UniformBits, sym: boolean): QuantParams {
  const maxq = (1 << bits) - 1;
  let lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  if (sym) {
    hi = Math.max(-lo, hi);
    lo = -hi;
  }
  if (lo === 0 && hi === 0) {
    lo = -1;
    hi = 1;
  }
  const scale = Math.fround((hi - lo) / maxq);
  const zero = sym ? (maxq + 1) / 2 : roundHalfEven(-lo / scale);
  return { scale, zero };
}

/** The parameters of values w[start + k * step] for start + k * step < end. */
export function paramsOf(w: ArrayLike<number>, start: number, end: number, step: number, bits: UniformBits, sym: boolean): QuantParams {
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i += step) {
    const v = w[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return quantParams(min, max, bits, sym);
}

/** q = clamp(round(v / scale) + zero, 0, maxq). */
export function quantLevel(v: number, scale: number, zero: number, maxq: number): number {
  const q = roundHalfEven(v / scale) + zero;
  return q < 0 ? 0 : q > maxq ? maxq : q;
}

/**
 * A uniform matrix being built: levels q [rows, cols] and per-(row, group) scale and zero; becomes
 * a `uniform` tensor record (docs/FORMAT.md) with toRecord.
 */
export class UniformMatrix {
  readonly gs: number;
  readonly nGroups: number;
  readonly maxq: number;
  readonly q: Uint8Array;
  readonly scales: Float32Array;
  readonly zeros: Float32Array;

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly bits: UniformBits,
    groupSize: number | undefined,
  ) {
    this.gs = groupWidth(groupSize, cols);
    this.nGroups = Math.ceil(cols / this.gs);
    this.maxq = (1 << bits) - 1;
    this.q = new Uint8Array(rows * cols);
    this.scales = new Float32Array(rows * this.nGroups);
    this.zeros = new Float32Array(rows * this.nGroups);
  }

  setParams(r: number, g: number, p: QuantParams): void {
    this.scales[r * this.nGroups + g] = p.scale;
    this.zeros[r * this.nGroups + g] = p.zero;
  }

  /** Quantizes v at (r, c) with its group's parameters; returns the dequantized value v_hat. */
  quantize(r: number, c: number, v: number): number {
    const k = r * this.nGroups + Math.floor(c / this.gs);
    const s = this.scales[k];
    const z = this.zeros[k];
    const q = quantLevel(v, s, z, this.maxq);
    this.q[r * this.cols + c] = q;
    return s * (q - z);
  }

  /** Dense f32 of the quantized matrix (what the runtime computes with). */
  dequantized(): Float32Array {
    const out = new Float32Array(this.rows * this.cols);
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        const k = r * this.nGroups + Math.floor(c / this.gs);
        out[r * this.cols + c] = this.scales[k] * (this.q[r * this.cols + c] - this.zeros[k]);
      }
    }
    return out;
  }

  toRecord(name: string): UniformRecord {
    return {
      name,
      kind: 'uniform',
      shape: [this.rows, this.cols],
      bits: this.bits,
      groupSize: this.gs,
      scales: this.scales,
      zeros: this.zeros,
      values: packIndices(this.q, this.rows, this.cols, this.bits),
    };
  }
}

/** Round-to-nearest: each group's parameters from its own values, every weight rounded alone. */
export function rtnMatrix(w: Float32Array, rows: number, cols: number, opts: UniformOptions): UniformMatrix {
  checkUniformOptions(opts);
  if (w.length !== rows * cols) throw new RangeError(`rtn: ${w.length} weights for a ${rows}x${cols} matrix`);
  const m = new UniformMatrix(rows, cols, opts.bits, opts.groupSize);
  const sym = opts.sym ?? false;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let g = 0; g < m.nGroups; g++) {
      const c0 = g * m.gs;
      const c1 = Math.min(cols, c0 + m.gs);
      m.setParams(r, g, paramsOf(w, base + c0, base + c1, 1, opts.bits, sym));
      for (let c = c0; c < c1; c++) m.quantize(r, c, w[base + c]);
    }
  }
  return m;
}

/** RTN of one [rows, cols] matrix as a `uniform` record. */
export function rtnQuantize(name: string, w: Float32Array, rows: number, cols: number, opts: UniformOptions): UniformRecord {
  return rtnMatrix(w, rows, cols, opts).toRecord(name);
}

/**
 * One matrix at a mixed-precision plan's precision (tools/precision.ts): float kinds as dense
 * records, bit widths by RTN with the other options as given.
 */
export function rtnAtPrecision(name: string, w: Float32Array, rows: number, cols: number, p: Precision, opts: UniformOptions): TensorRecord {
  if (typeof p !== 'number') return denseRecord(name, [rows, cols], w, p);
  return rtnQuantize(name, w, rows, cols, { ...opts, bits: p as UniformBits });
}
