// The `wasm` backend (default): the forward pass on the AssemblyScript SIMD kernels. Weights are
// placed in the shared memory once at load; activations and the KV cache are placed once by the
// run state; nothing is allocated per token. With `threads` > 1, the big matrix products are split
// by rows between the main thread and worker threads over the same memory (pool.ts,
// docs/THREADS.md); everything else stays on the main thread.
import { dequantize, nuqOfShared, type TensorRecord } from '../../format/kinds.ts';
import { KV_KINDS, KV_MODE, KV_RESIDUAL, type KvShape } from '../../kernels/attention.ts';
import * as fam from '../../kernels/family.ts';
import { UsageError } from '../../util/errors.ts';
import type { AttentionShape, Backend, KvCache, Vec, Weight } from '../types.ts';
import { createKernelInstance, type KernelBuild, type KernelInstance } from './instance.ts';
import type { KernelPool, PoolOptions } from './pool.ts';
import { int8Indices, liftHalves, lutInt8Table, lutPlanes } from './layout.ts';
import { OP_F16, OP_LUT, OP_LUT_INT8, OP_MATMUL_ROWS, OP_MATMUL_VECS, OP_MATVEC_F32, OP_UNIFORM, activationStride, quantizedJob } from './protocol.ts';

// A weight holds addresses in WASM memory and a few numbers, never the record it came from: the
// record's arrays are dropped after upload, and embedding rows are read from WASM memory too.
interface WasmWeight extends Weight {
  /** Address of the dense f32 values (f32 matrices, and every vector). */
  readonly f32?: number;
  /** An f16 matrix's binary16 values, times 2^shift (layout.ts liftHalves; matvecF16 / matmulF16 widen them as they read). */
  readonly f16?: { halves: number; shift: number };
  readonly lut?: {
    bits: 3 | 4;
    /** The table as byte planes (layout.ts lutPlanes), for the exact kernels. */
    planes: number;
    /** Packed indices; with `fast`, in the int8 kernels' layout (layout.ts int8Indices: 3 bits repacked). */
    indices: number;
    sparse?: { rowPtr: number; colIdx: number; values: number };
    /** With `fast`: the 7-bit table and per-row (step, lo) (layout.ts lutInt8Table), used for every product. */
    int8?: { table: number; params: number };
    /** The record's row split for threads, if it has one. */
    rowSplit?: Int32Array;
  };
  /** A uniform (RTN/GPTQ/AWQ) matrix: its scales, zeros and packed values, run by matmulUniform. */
  readonly uni?: { scales: number; zeros: number; values: number; groupSize: number; bits: number };
}

/** A KV cache in the shared memory: one block in assembly/attention.ts's layout. */
interface WasmKvCache extends KvCache {
  readonly shape: Required<KvShape>;
  readonly ptr: number;
}

export interface WasmBackendOptions extends PoolOptions {
  /** Threads for the matrix products, the main thread included (default 1: no workers). */
  threads?: number;
  /**
   * Multiply-adds (rows x cols x vectors) from which a product is split between threads (default
   * DEFAULT_MIN_SPLIT_WORK; smaller ones run on the main thread alone). 0 splits everything.
   */
  minSplitWork?: number;
  /** How a batched f32 product (matmul, n > 1) is split: by weight rows (default) or by activation vectors. */
  matmulSplit?: 'rows' | 'vectors';
  /**
   * Runs LUT (nuq) products on the int8 fast path: 7-bit tables, int8 activations per 32 columns,
   * not exact (docs/KERNELS.md "LUT products" has its error). A batch runs the batched int8 kernel, which gives the int8
   * matvec's bits for every vector, so a perplexity run sees the same arithmetic as generation.
   * Default false.
   */
  fast?: boolean;
  /** Which build of the kernels (instance.ts): default relaxed SIMD where the engine runs it, else plain SIMD. */
  kernels?: KernelBuild;
}

/**
 * Below this many multiply-adds a product runs on the main thread alone: the fork-join costs a few
 * microseconds, about what a 64K multiply-add matvec takes (bench/threads.ts, docs/THREADS.md).
 */
export const DEFAULT_MIN_SPLIT_WORK = 1 << 16;

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly kvKinds = KV_KINDS;
  readonly attendExtras = true;
  private readonly minSplitWork: number;
  private readonly matmulSplit: 'rows' | 'vectors';
  /** Whether LUT products take the int8 fast path. */
  readonly fast: boolean;

  private constructor(
    private readonly inst: KernelInstance,
    private readonly pool: KernelPool | undefined,
    opts: WasmBackendOptions,
  ) {
    this.minSplitWork = opts.minSplitWork ?? DEFAULT_MIN_SPLIT_WORK;
    this.matmulSplit = opts.matmulSplit ?? 'rows';
    this.fast = opts.fast ?? false;
  }

  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UsageError(`threads must be an integer from 1 to 64, got ${threads}`);
    const inst = await createKernelInstance(undefined, opts.kernels);
    if (threads === 1) return new WasmBackend(inst, undefined, opts);
    // Loaded only when asked for: the single-thread backend needs no node:worker_threads.
    const { KernelPool } = await import('./pool.ts');
    return new WasmBackend(inst, await KernelPool.start(inst, inst.module, threads, opts), opts);
  }

  /** Threads the matrix products run on (1: the main thread alone). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Stops the worker threads (if any); the backend cannot run split products afterwards. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  get heap() {
    return this.inst.heap;
  }

  private get k() {
    return this.inst.exports;
  }

  alloc(n: number): Vec {
    const ptr = this.heap.alloc(n * 4);
    this.heap.u8(ptr, n * 4).fill(0);
    return { off: ptr >> 2, len: n };
  }

  write(v: Vec, data: Float32Array): void {
    this.heap.f32(v.off << 2, v.len).set(data.subarray(0, v.len));
  }

  read(v: Vec): Float32Array {
    return this.heap.f32(v.off << 2, v.len).slice();
  }

  upload(rec: TensorRecord): Weight {
    // a table-sharing LUT matrix is the nuq matrix with its tables expanded per row (exact and int8 paths alike)
    if (rec.kind === 'nuq-shared') return this.upload(nuqOfShared(rec));
    const base = { name: rec.name, kind: rec.kind, shape: rec.shape };
    switch (rec.kind) {
      case 'f32':
        return { ...base, f32: this.heap.place(rec.data) } as WasmWeight;
      case 'f16':
        // Matrices stay f16 (half the memory of f32); a vector (a norm weight) is widened, as the
        // kernels that take vectors read f32.
        if (rec.shape.length === 2) {
          const halves = this.heap.place(rec.data);
          return { ...base, f16: { halves, shift: liftHalves(this.heap.u16(halves, rec.data.length)) } } as WasmWeight;
        }
        return { ...base, f32: this.heap.place(dequantize(rec)) } as WasmWeight;
      case 'nuq': {
        const sparse = rec.sparse && {
          rowPtr: this.heap.place(rec.sparse.rowPtr),
          colIdx: this.heap.place(rec.sparse.colIdx),
          values: this.heap.place(rec.sparse.values),
        };
        const q = this.fast ? lutInt8Table(rec.lut, rec.bits) : undefined;
        const int8 = q && { table: this.heap.place(q.table), params: this.heap.place(q.params) };
        // with fast, only the int8 kernels' copy of the indices (3 bits: repacked; the embedding reads it too)
        const indices = this.heap.place(q ? int8Indices(rec.indices, rec.shape[0], rec.shape[1], rec.bits) : rec.indices);
        const lut = { bits: rec.bits, planes: this.heap.place(lutPlanes(rec.lut, rec.bits)), indices, sparse, int8, rowSplit: rec.rowSplit };
        return { ...base, lut } as WasmWeight;
      }
      case 'uniform': {
        const uni = { scales: this.heap.place(rec.scales), zeros: this.heap.place(rec.zeros), values: this.heap.place(rec.values), groupSize: rec.groupSize, bits: rec.bits };
        return { ...base, uni } as WasmWeight;
      }
      default:
        return { ...base, f32: this.heap.place(dequantize(rec)) } as WasmWeight;
    }
  }

  /** One row of the matrix as f32 into out, decoded by the kernels from the weight's own memory. */
  embed(out: Vec, w: Weight, row: number): void {
    const ww = w as WasmWeight;
    const cols = w.shape[1];
    const dst = out.off << 2;
    if (ww.f32 !== undefined) return this.heap.f32(dst, cols).set(this.heap.f32(ww.f32 + row * cols * 4, cols));
    const h = ww.f16;
    if (h) return this.k.f16ToF32(dst, h.halves + row * cols * 2, cols, h.shift);
    const u = ww.uni;
    if (u) return this.k.dequantUniform(dst, u.scales, u.zeros, u.values, cols, u.groupSize, u.bits, row, row + 1);
    const q = ww.lut!;
    (q.bits === 4 ? this.k.dequantLut4 : q.int8 ? this.k.dequantLut3Blocks : this.k.dequantLut3)(dst, q.planes, q.indices, cols, row, row + 1);
    // the row's sparse entries (a handful) added on the host
    const s = q.sparse;
    if (!s) return;
    const [k0, k1] = this.heap.i32(s.rowPtr + row * 4, 2);
    const at = this.heap.i32(s.colIdx + k0 * 4, k1 - k0);
    const values = this.heap.f32(s.values + k0 * 4, k1 - k0);
    const o = this.heap.f32(dst, cols);
    for (let k = 0; k < at.length; k++) o[at[k]] += values[k];
  }

  matvec(out: Vec, w: Weight, x: Vec): void {
    this.product(out.off << 2, w as WasmWeight, x.off << 2, 1);
  }

  matmul(out: Vec, w: Weight, x: Vec, n: number): void {
    this.product(out.off << 2, w as WasmWeight, x.off << 2, n);
  }

  /** out [n, rows] = W x for n vectors x [n, cols] (n = 1: a matvec). */
  private product(out: number, w: WasmWeight, x: number, n: number): void {
    const [rows, cols] = w.shape;
    const split = this.pool !== undefined && rows * cols * n >= this.minSplitWork;
    if (w.f32 === undefined) return this.quantized(out, w, x, n, split);
    if (split) return this.splitF32(out, w.f32, rows, cols, x, n);
    if (n === 1) return this.k.matvecF32(out, w.f32, x, cols, 0, rows);
    this.k.matmulF32(out, w.f32, x, rows, cols, n);
  }

  /**
   * An f16, LUT or uniform product: one job (protocol.ts's quantizedJob) over all rows, or split by
   * rows between the pool's threads (a nuq record's rowSplit when it has one part per thread). On the
   * int8 fast path the vectors are quantized here once, before the job, for all threads.
   */
  private quantized(out: number, w: WasmWeight, x: number, n: number, split: boolean): void {
    const [rows, cols] = w.shape;
    const parts = split ? this.pool!.threads : 1;
    const u = w.uni;
    const q = w.lut;
    const { base, per } = n === 1 || q?.int8 ? { base: 0, per: 0 } : this.decodeScratch(cols, parts);
    const sparse = [q?.sparse?.rowPtr ?? 0, q?.sparse?.colIdx ?? 0, q?.sparse?.values ?? 0];
    const [op, args] = w.f16
      ? [OP_F16, [out, w.f16.halves, x, cols, rows, n, base, per, w.f16.shift]]
      : u
        ? [OP_UNIFORM, [out, u.scales, u.zeros, u.values, x, cols, rows, n, u.groupSize, u.bits, base, per]]
        : q!.int8
          ? [OP_LUT_INT8, [out, q!.int8.table, q!.int8.params, q!.indices, this.quantizeActivations(x, cols, n), cols, q!.bits, ...sparse, x, rows, n]]
          : [OP_LUT, [out, q!.planes, q!.indices, x, cols, rows, n, q!.bits, ...sparse, base, per]];
    if (!split) return quantizedJob(this.k, op, (i) => args[i], 0, 0, rows);
    const pool = this.pool!;
    const s = q?.rowSplit;
    pool.run(op, args, s && s.length === pool.threads + 1 && isRowSplit(s, rows) ? s : pool.evenRanges(rows));
  }

  /** The n vectors x [n, cols] quantized for the int8 fast path into a scratch (activationStride bytes apart), once for all threads; returns its address. */
  private quantizeActivations(x: number, cols: number, n: number): number {
    const stride = activationStride(this.k, cols);
    // Sized in powers of two, so the blocks left behind as it grows add up to less than the last.
    const xq = this.heap.scratch('activations-int8', 2 ** Math.ceil(Math.log2(Math.max(stride * n, 64))));
    for (let i = 0; i < n; i++) this.k.quantizeActivations(xq + i * stride, x + i * cols * 4, cols);
    return xq;
  }

  /** Scratch for the quantized matmuls: one region of `per` bytes (whole cache lines) per thread, part p's at base + p * per. */
  private decodeScratch(cols: number, parts: number): { base: number; per: number } {
    const per = Math.ceil(this.k.matmulScratchBytes(cols) / 64) * 64;
    // Sized in powers of two, so the blocks left behind as it grows add up to less than the last.
    return { base: this.heap.scratch('matmul-decode', 2 ** Math.ceil(Math.log2(Math.max(per * parts, 64)))), per };
  }

  /** out [n, rows] = W x for a dense weight, split between the pool's threads. */
  private splitF32(out: number, w: number, rows: number, cols: number, x: number, n: number): void {
    const pool = this.pool!;
    if (n === 1) return pool.run(OP_MATVEC_F32, [out, w, x, cols, rows, 1], pool.evenRanges(rows));
    if (this.matmulSplit === 'vectors') return pool.run(OP_MATMUL_VECS, [out, w, x, rows, cols], pool.evenRanges(n, 4));
    // matmulF32 has no row range and writes out with a stride of `rows`: each part computes its
    // rows into its own slice of a scratch buffer, then copies them into place.
    // Sized in powers of two, so the blocks a growing batch leaves behind add up to less than the last.
    const scratch = this.heap.scratch('split-matmul', 2 ** Math.ceil(Math.log2(rows * n * 4)));
    pool.run(OP_MATMUL_ROWS, [out, w, x, rows, cols, n, scratch], pool.evenRanges(rows));
  }

  rmsnorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    this.k.rmsnorm(out.off << 2, x.off << 2, (w as WasmWeight).f32!, x.len, eps);
  }

  kvCache(shape: KvShape): KvCache {
    const full = { ...shape, residual: shape.residual ?? KV_RESIDUAL };
    const bytes = this.k.kvCacheBytes(full.layers, full.nKvHeads, full.headSize, full.ctx, KV_MODE[full.kind], full.residual);
    return { shape: full, bytes, ptr: this.heap.alloc(bytes) } as WasmKvCache;
  }

  /** One call into the kernels for the whole attention sublayer of a layer (assembly/attention.ts attendBlock). */
  attend(out: Vec, q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, n: number, a: AttentionShape): void {
    const c = cache as WasmKvCache;
    const { ctx, layers, kind, residual } = c.shape;
    if (!(layer >= 0 && layer < layers && pos >= 0 && n >= 0 && pos + n <= ctx)) throw new RangeError(`attend: layer ${layer} of ${layers}, positions ${pos}..${pos + n} of ${ctx}`);
    const scratch = this.heap.scratch('attention', this.k.attendScratchBytes(a.headSize, ctx));
    const freqs = a.ropeFreqs ? this.heap.scratch('rope-freqs', a.ropeFreqs.byteLength, 8) : 0;
    if (a.ropeFreqs) this.heap.write(freqs, a.ropeFreqs);
    this.k.attendBlock(out.off << 2, q.off << 2, k.off << 2, v.off << 2, c.ptr, layer, pos, n, a.nHeads, a.nKvHeads, a.headSize, ctx, KV_MODE[kind], residual, a.ropeTheta, a.rope === 'half' ? 1 : 0, scratch, freqs, a.window ?? 0, a.scoreSoftcap ?? 0);
  }

  swiglu(out: Vec, gate: Vec, up: Vec): void {
    this.k.swiglu(out.off << 2, gate.off << 2, up.off << 2, out.len);
  }

  add(out: Vec, a: Vec, b: Vec): void {
    this.k.add(out.off << 2, a.off << 2, b.off << 2, out.len);
  }

  // The family ops (src/kernels/family.ts) on views of the shared memory: elementwise, so plain
  // TypeScript costs little beside the matrix products.
  private view(v: Vec): Float32Array {
    return this.heap.f32(v.off << 2, v.len);
  }

  private vector(w: Weight): Float32Array {
    return this.heap.f32((w as WasmWeight).f32!, w.shape[0]);
  }

  addBias(v: Vec, bias: Weight): void {
    fam.addBias(this.view(v), this.vector(bias));
  }

  scale(v: Vec, s: number): void {
    fam.scale(this.view(v), s);
  }

  softcap(v: Vec, cap: number): void {
    fam.softcap(this.view(v), cap);
  }

  gatedActivation(out: Vec, gate: Vec, up: Vec, act: 'gelu-tanh' | 'relu'): void {
    fam.gatedActivation(this.view(out), this.view(gate), this.view(up), act);
  }

  activation(v: Vec, act: 'silu' | 'gelu-tanh' | 'relu'): void {
    fam.activation(this.view(v), act);
  }

  layernorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    fam.layernorm(this.view(out), this.view(x), this.vector(w), eps);
  }
}

/** A recorded split is used only when it covers [0, rows) in order (the reader checks files; this guards records built in memory). */
function isRowSplit(s: Int32Array, rows: number): boolean {
  if (s[0] !== 0 || s[s.length - 1] !== rows) return false;
  for (let i = 1; i < s.length; i++) if (s[i] < s[i - 1]) return false;
  return true;
}
