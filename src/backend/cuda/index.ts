// The `cuda` backend: the forward pass of src/model/forward.ts on the kernels of cuda/, through the
// optional native binding. Every buffer of the run state (activations, KV cache) and every weight
// lives in device memory; each Backend call enqueues one or two kernels on one stream and returns,
// so a whole decode step runs on the GPU back to back and only read() — the logits — waits and
// copies anything back. Weights are uploaded once, in their stored form (layout.ts).
import { dequantize, nuqOfShared, type TensorRecord } from '../../format/kinds.ts';
import type { KvShape } from '../../kernels/attention.ts';
import { CudaUnavailableError, UnsupportedError } from '../../util/errors.ts';
import type { AttentionShape, Backend, KvCache, Vec, Weight } from '../types.ts';
import { type CudaAddon, type CudaDevice, cudaStatus } from './addon.ts';
import { DeviceArena } from './memory.ts';
import { lutTable, sparseSegments } from './layout.ts';

/** A weight on the device: addresses and the numbers its kernels take. */
interface CudaWeight extends Weight {
  /** Vectors (norm weights) as f32; dense matrices as f32 or binary16. */
  readonly dense?: { addr: number; half: boolean };
  readonly lut?: {
    bits: 3 | 4;
    table: number;
    half: boolean;
    indices: number;
    sparse?: { rowPtr: number; colIdx: number; values: number; segments: number; nSegments: number };
  };
  readonly uni?: { scales: number; zeros: number; values: number; groupSize: number; bits: number };
}

const flag = (b: boolean): 0 | 1 => (b ? 1 : 0);

/** The f32 cache the attention kernel reads: per layer keys and values [ctx, kvDim]. */
interface CudaKvCache extends KvCache {
  readonly keys: Vec[];
  readonly values: Vec[];
}

export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly kvKinds = ['f32'] as const;
  private readonly arena: DeviceArena;
  private readonly weightBuffers: number[] = [];
  private closed = false;

  private constructor(
    private readonly addon: CudaAddon,
    readonly device: CudaDevice,
  ) {
    this.arena = new DeviceArena(
      (bytes) => addon.alloc(bytes),
      (addr) => addon.free(addr),
    );
  }

  /** The backend on device 0; throws CudaUnavailableError (saying why) when CUDA cannot run here. */
  static create(): CudaBackend {
    const s = cudaStatus();
    if (!s.ok) throw new CudaUnavailableError(s.reason, `backend cuda: ${s.message}`);
    return CudaBackend.fromAddon(s.addon, s.device);
  }

  /** The backend over a given binding (cudaStatus()'s, or a stand-in with the same functions in tests). */
  static fromAddon(addon: CudaAddon, device: CudaDevice): CudaBackend {
    try {
      addon.init(0);
    } catch (e) {
      throw new CudaUnavailableError('driver', `backend cuda: the CUDA driver failed (${e instanceof Error ? e.message : String(e)})`);
    }
    return new CudaBackend(addon, device);
  }

  alloc(n: number): Vec {
    return this.arena.alloc(n);
  }

  private a(v: Vec): number {
    return this.arena.addr(v);
  }

  write(v: Vec, data: Float32Array): void {
    this.addon.write(this.a(v), data.subarray(0, v.len));
  }

  read(v: Vec): Float32Array {
    return this.addon.read(this.a(v), v.len);
  }

  /** A device copy of a host array. */
  private put(data: ArrayBufferView): number {
    const addr = this.addon.alloc(data.byteLength);
    this.weightBuffers.push(addr);
    this.addon.write(addr, data);
    return addr;
  }

  upload(rec: TensorRecord): Weight {
    // a table-sharing LUT matrix is the nuq matrix with its tables expanded per row (exact and int8 paths alike)
    if (rec.kind === 'nuq-shared') return this.upload(nuqOfShared(rec));
    const base = { name: rec.name, kind: rec.kind, shape: rec.shape };
    if (rec.shape.length !== 2 || rec.kind === 'f32') return { ...base, dense: { addr: this.put(rec.kind === 'f32' ? rec.data : dequantize(rec)), half: false } } as CudaWeight;
    if (rec.kind === 'f16') return { ...base, dense: { addr: this.put(rec.data), half: true } } as CudaWeight;
    if (rec.kind === 'uniform') {
      return { ...base, uni: { scales: this.put(rec.scales), zeros: this.put(rec.zeros), values: this.put(rec.values), groupSize: rec.groupSize, bits: rec.bits } } as CudaWeight;
    }
    const t = lutTable(rec);
    const s = rec.sparse;
    const segments = s && s.values.length > 0 ? sparseSegments(s, rec.rowSplit) : undefined;
    const sparse = s && segments && { rowPtr: this.put(s.rowPtr), colIdx: this.put(s.colIdx), values: this.put(s.values), segments: this.put(segments), nSegments: segments.length - 1 };
    return { ...base, lut: { bits: rec.bits, table: this.put(t.data), half: t.half, indices: this.put(rec.indices), sparse } } as CudaWeight;
  }

  embed(out: Vec, w: Weight, row: number): void {
    const cw = w as CudaWeight;
    const cols = w.shape[1];
    const o = this.a(out);
    if (cw.dense) return cw.dense.half ? this.addon.embedF16(o, cw.dense.addr, row, cols) : this.addon.embedF32(o, cw.dense.addr, row, cols);
    const u = cw.uni;
    if (u) return this.addon.embedUniform(o, u.scales, u.zeros, u.values, row, cols, u.groupSize, u.bits);
    const q = cw.lut!;
    this.addon.embedLut(o, q.table, flag(q.half), q.indices, q.sparse?.rowPtr ?? 0, q.sparse?.colIdx ?? 0, q.sparse?.values ?? 0, row, cols, q.bits);
  }

  matvec(out: Vec, w: Weight, x: Vec): void {
    this.matmul(out, w, x, 1);
  }

  matmul(out: Vec, w: Weight, x: Vec, n: number): void {
    const cw = w as CudaWeight;
    const [rows, cols] = w.shape;
    const o = this.a(out);
    const xa = this.a(x);
    if (cw.dense) return this.addon.matmulDense(o, cw.dense.addr, flag(cw.dense.half), xa, rows, cols, n);
    const u = cw.uni;
    if (u) return this.addon.matmulUniform(o, u.scales, u.zeros, u.values, xa, rows, cols, n, u.groupSize, u.bits);
    const q = cw.lut!;
    this.addon.matmulLut(o, q.table, flag(q.half), q.indices, xa, rows, cols, n, q.bits);
    const s = q.sparse;
    if (s) this.addon.spmmCsrAdd(o, s.rowPtr, s.colIdx, s.values, s.segments, s.nSegments, xa, rows, cols, n);
  }

  rmsnorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    this.addon.rmsnorm(this.a(out), this.a(x), (w as CudaWeight).dense!.addr, x.len, 1, eps);
  }

  kvCache(shape: KvShape): KvCache {
    if (shape.kind !== 'f32') throw new UnsupportedError(`backend cuda keeps an f32 KV cache, not ${shape.kind}`);
    const n = shape.ctx * shape.nKvHeads * shape.headSize;
    const layer = () => Array.from({ length: shape.layers }, () => this.alloc(n));
    return { shape, bytes: 8 * n * shape.layers, keys: layer(), values: layer() } as CudaKvCache;
  }

  attend(out: Vec, q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, n: number, a: AttentionShape): void {
    const c = cache as CudaKvCache;
    const qDim = a.nHeads * a.headSize;
    const kvDim = a.nKvHeads * a.headSize;
    const half = flag(a.rope === 'half');
    for (let i = 0; i < n; i++) {
      this.addon.rope(this.a(q) + 4 * i * qDim, qDim, a.headSize, pos + i, a.ropeTheta, half);
      this.addon.rope(this.a(k) + 4 * i * kvDim, kvDim, a.headSize, pos + i, a.ropeTheta, half);
    }
    // the rows into the cache: a copy as an add of zeros (the binding has no device copy)
    const zeros = this.zeros(n * kvDim);
    this.addon.add(this.a(c.keys[layer]) + 4 * pos * kvDim, this.a(k), zeros, n * kvDim);
    this.addon.add(this.a(c.values[layer]) + 4 * pos * kvDim, this.a(v), zeros, n * kvDim);
    for (let i = 0; i < n; i++) {
      this.addon.attention(this.a(out) + 4 * i * qDim, this.a(q) + 4 * i * qDim, this.a(c.keys[layer]), this.a(c.values[layer]), a.nHeads, a.nKvHeads, a.headSize, pos + i + 1);
    }
  }

  private zeroBuffer: Vec | undefined;

  /** A zeroed device buffer of at least n floats. */
  private zeros(n: number): number {
    if (!this.zeroBuffer || this.zeroBuffer.len < n) this.zeroBuffer = this.alloc(n);
    return this.a(this.zeroBuffer);
  }

  swiglu(out: Vec, gate: Vec, up: Vec): void {
    this.addon.swiglu(this.a(out), this.a(gate), this.a(up), out.len);
  }

  add(out: Vec, a: Vec, b: Vec): void {
    this.addon.add(this.a(out), this.a(a), this.a(b), out.len);
  }

  /** Frees the device memory; the backend cannot run afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.addon.synchronize();
    this.arena.releaseAll();
    for (const addr of this.weightBuffers.splice(0)) this.addon.free(addr);
  }
}
