// The fork-join protocol between the main thread and the kernel workers (docs/THREADS.md), shared
// by both sides: the layout of the control block (a small SharedArrayBuffer of i32 slots) and the
// one function that runs a thread's share of a job. The main thread runs its own share with the
// same function, so a job computes the same thing whichever thread takes which part.
//
// No allocation in the WASM heap happens here: every address (outputs, scratch) is placed by the
// main thread before the job is published.
import type { KernelExports } from './exports.ts';

/** Most threads (main + workers) one pool runs. */
export const MAX_PARTS = 64;

// Control block, in i32 slots. GEN and PENDING sit on their own 64-byte cache lines: workers spin
// on GEN while the main thread and workers hammer PENDING.
/** Generation counter: the main thread bumps it to publish a job; workers wait for it to change. */
export const GEN = 0;
/** Workers still running the current job; each decrements it when done, the last one notifies. */
export const PENDING = 16;
/** 0, or 1 + the part index of the first worker that threw (its message is in the text area). */
export const ERROR = 32;
/** Workers asleep in Atomics.wait on GEN (the main thread notifies only when some are). */
export const SLEEPERS = 33;
/** The main thread is asleep in Atomics.wait on PENDING (the last worker notifies only then). */
export const MAIN_SLEEPING = 34;
/** The job's operation (OP_*). */
export const OP = 48;
/** The job's arguments (u32: addresses may pass 2^31), ARG_COUNT of them. */
export const ARGS = 49;
export const ARG_COUNT = 15;
/** Per-part ranges [begin, end) of rows (or of vectors for OP_MATMUL_VECS): 2 * MAX_PARTS slots. */
export const RANGES = 64;
/** Length in UTF-16 units of the error message, then the message itself from ERROR_TEXT. */
export const ERROR_LEN = RANGES + 2 * MAX_PARTS;
export const ERROR_TEXT = ERROR_LEN + 1;
/** Room for the message, in UTF-16 units (two per i32 slot). */
export const ERROR_TEXT_UNITS = 1024;
export const CONTROL_BYTES = (ERROR_TEXT + ERROR_TEXT_UNITS / 2) * 4;

// Operations. Arguments are listed in ARGS order.
/** out[i*rows + r] = W[r, :] . x[i*cols : (i+1)*cols] over the part's rows, for each of n vectors:
 *  out, w, x, cols, rows, n. */
export const OP_MATVEC_F32 = 1;
/** LUT product (3/4-bit) plus the CSR sparse add over the part's rows, for all n vectors (quantizedJob):
 *  out, planes (layout.ts lutPlanes), indices, x, cols, rows, n, bits, rowPtr (0 = no sparse part), colIdx, values, scratch, scratchPer. */
export const OP_LUT = 2;
/** matmulF32 over the part's rows into scratch [n, r1 - r0], then copied to out [n, rows]:
 *  out, w, x, rows, cols, n, scratch ([n, rows] f32; the part uses its own slice at r0 * n). */
export const OP_MATMUL_ROWS = 3;
/** matmulF32 over the part's range of activation vectors (all rows): out, w, x, rows, cols. */
export const OP_MATMUL_VECS = 4;
/** Uniform product (RTN/GPTQ/AWQ, 3/4/8-bit) over the part's rows, for all n vectors (quantizedJob):
 *  out, scales, zeros, values, x, cols, rows, n, groupSize, bits, scratch, scratchPer. */
export const OP_UNIFORM = 5;
/** The int8 fast path of a LUT product (the int8 matvec for one vector, matmulLut4/3Int8 with the same bits for more) plus the
 *  exact CSR sparse add, over the part's rows (quantizedJob): out, table, params, indices, xq (the n vectors quantized by the
 *  main thread, activationStride bytes apart), cols, bits, rowPtr (0 = none), colIdx, values, x, rows, n. */
export const OP_LUT_INT8 = 6;
/** f16 product over the part's rows, for all n vectors (quantizedJob): out, w (binary16 [rows, cols]), x, cols, rows, n,
 *  scratch, scratchPer, shift (layout.ts liftHalves). */
export const OP_F16 = 7;
/** Workers leave their loop and exit. */
export const OP_EXIT = 255;

/**
 * Spinning. Both sides spin on the control block before sleeping in Atomics.wait: in a forward pass
 * the next job (or the end of the current one) is usually microseconds away, and a futex wake costs
 * 5-60 µs. But two threads that share one CPU (more threads than cores, a busy or oversubscribed
 * machine) only delay each other by spinning, so each side adapts its budget: a spin that ends in
 * success doubles it (up to the configured maximum), one that ends in sleep halves it, and every
 * PROBE sleeps the full budget is tried again.
 */
export const PROBE = 128;
/** Default maximum spin, in iterations of an atomic load (a few ns each: about 50-150 µs). */
export const DEFAULT_SPIN = 20_000;

/** A thread's view of memory as f32, refreshed when the shared memory has grown. */
export class F32View {
  private view: Float32Array;
  constructor(private readonly memory: WebAssembly.Memory) {
    this.view = new Float32Array(memory.buffer);
  }
  /** A view covering at least `bytes` bytes. */
  at(bytes: number): Float32Array {
    if (this.view.length * 4 < bytes) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }
}

/**
 * Runs part `part` of the job in the control block with this thread's kernel instance. Throws on a
 * bad operation or a trap; the caller reports it.
 */
export function runPart(k: KernelExports, u32: Uint32Array, part: number, mem: F32View): void {
  const op = u32[OP];
  const a = (i: number) => u32[ARGS + i];
  const r0 = u32[RANGES + 2 * part];
  const r1 = u32[RANGES + 2 * part + 1];
  if (r1 <= r0 && op !== OP_EXIT) return;
  switch (op) {
    case OP_MATVEC_F32: {
      const out = a(0), w = a(1), x = a(2), cols = a(3), rows = a(4), n = a(5);
      for (let i = 0; i < n; i++) k.matvecF32(out + i * rows * 4, w, x + i * cols * 4, cols, r0, r1);
      return;
    }
    case OP_LUT:
    case OP_UNIFORM:
    case OP_LUT_INT8:
    case OP_F16:
      return quantizedJob(k, op, a, part, r0, r1);
    case OP_MATMUL_ROWS: {
      const out = a(0), w = a(1), x = a(2), rows = a(3), cols = a(4), n = a(5), scratch = a(6);
      const m = r1 - r0;
      const s = scratch + r0 * n * 4;
      k.matmulF32(s, w + r0 * cols * 4, x, m, cols, n);
      const f = mem.at(Math.max(s + n * m * 4, out + n * rows * 4));
      const s4 = s >>> 2;
      const o4 = out >>> 2;
      for (let i = 0; i < n; i++) f.copyWithin(o4 + i * rows + r0, s4 + i * m, s4 + (i + 1) * m);
      return;
    }
    case OP_MATMUL_VECS: {
      const out = a(0), w = a(1), x = a(2), rows = a(3), cols = a(4);
      k.matmulF32(out + r0 * rows * 4, w, x + r0 * cols * 4, rows, cols, r1 - r0);
      return;
    }
    default:
      throw new Error(`unknown kernel job ${op}`);
  }
}

/**
 * Part `part` (rows r0 <= r < r1) of a quantized (or f16) product, OP_LUT, OP_UNIFORM, OP_LUT_INT8 or
 * OP_F16 with arguments a(i): one vector takes the matvec kernels, more take the matmul kernels, which
 * decode into the part's own scratch (scratch + part * scratchPer). The single-thread backend runs the
 * same function over all rows, so a row's result never depends on the thread count.
 */
export function quantizedJob(k: KernelExports, op: number, a: (i: number) => number, part: number, r0: number, r1: number): void {
  if (op === OP_F16) {
    const out = a(0), w = a(1), x = a(2), cols = a(3), rows = a(4), n = a(5);
    if (n === 1) return k.matvecF16(out, w, x, cols, r0, r1, a(8));
    return k.matmulF16(out, w, x, rows, cols, n, r0, r1, a(6) + part * a(7), a(8));
  }
  if (op === OP_LUT_INT8) {
    const out = a(0), table = a(1), params = a(2), idx = a(3), xq = a(4), cols = a(5), bits = a(6);
    const rowPtr = a(7), x = a(10), rows = a(11), n = a(12);
    const four = lutBits(bits) === 4;
    // one token: the sparse part in the LUT kernel's row pass (the same bits as spmmCsrAdd after it)
    if (n === 1 && rowPtr !== 0) return (four ? k.matvecLut4Int8Sparse : k.matvecLut3Int8Sparse)(out, table, params, idx, xq, cols, r0, r1, rowPtr, a(8), a(9), x);
    if (n === 1) (four ? k.matvecLut4Int8 : k.matvecLut3Int8)(out, table, params, idx, xq, cols, r0, r1);
    else (four ? k.matmulLut4Int8 : k.matmulLut3Int8)(out, table, params, idx, xq, activationStride(k, cols), rows, cols, n, r0, r1);
    if (rowPtr !== 0) k.spmmCsrAdd(out, rowPtr, a(8), a(9), x, rows, cols, n, r0, r1);
    return;
  }
  if (op === OP_UNIFORM) {
    const out = a(0), scales = a(1), zeros = a(2), values = a(3), x = a(4), cols = a(5), rows = a(6), n = a(7), groupSize = a(8), bits = a(9);
    if (n === 1) return k.matvecUniform(out, scales, zeros, values, x, cols, groupSize, bits, r0, r1);
    return k.matmulUniform(out, scales, zeros, values, x, rows, cols, n, groupSize, bits, r0, r1, a(10) + part * a(11));
  }
  const out = a(0), lut = a(1), idx = a(2), x = a(3), cols = a(4), rows = a(5), n = a(6), bits = a(7);
  const rowPtr = a(8), colIdx = a(9), values = a(10);
  if (n === 1) {
    (lutBits(bits) === 4 ? k.matvecLut4 : k.matvecLut3)(out, lut, idx, x, cols, r0, r1);
    if (rowPtr !== 0) k.spmvCsrAdd(out, rowPtr, colIdx, values, x, r0, r1);
    return;
  }
  (bits === 4 ? k.matmulLut4 : k.matmulLut3)(out, lut, idx, x, rows, cols, n, r0, r1, a(11) + part * a(12));
  if (rowPtr !== 0) k.spmmCsrAdd(out, rowPtr, colIdx, values, x, rows, cols, n, r0, r1);
}

/** Bytes between the quantized vectors of an OP_LUT_INT8 job (quantizeActivations' output, in whole 16-byte lines). */
export function activationStride(k: KernelExports, cols: number): number {
  return Math.ceil(k.activationBytes(cols) / 16) * 16;
}

/** The bits of a LUT job, checked: a worker must not run a kernel on a layout it was not given. */
function lutBits(bits: number): 3 | 4 {
  if (bits !== 3 && bits !== 4) throw new Error(`LUT job with ${bits}-bit indices`);
  return bits;
}

/** Stores the first error's message in the control block (the caller has won the ERROR slot). */
export function writeErrorText(ctrl: Int32Array, message: string): void {
  const units = new Uint16Array(ctrl.buffer, ERROR_TEXT * 4, ERROR_TEXT_UNITS);
  const n = Math.min(message.length, ERROR_TEXT_UNITS);
  for (let i = 0; i < n; i++) units[i] = message.charCodeAt(i);
  ctrl[ERROR_LEN] = n;
}

export function readErrorText(ctrl: Int32Array): string {
  const n = Math.min(Math.max(ctrl[ERROR_LEN], 0), ERROR_TEXT_UNITS);
  return String.fromCharCode(...new Uint16Array(ctrl.buffer, ERROR_TEXT * 4, n));
}

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's part index (1..T-1; the main thread is part 0). */
  part: number;
  /** Spin iterations on GEN before sleeping in Atomics.wait. */
  spin: number;
}
