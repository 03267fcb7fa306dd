// The `wasm` backend (default): the forward pass on the AssemblyScript SIMD kernels. Weights are
// placed in the shared memory once at load; activations and the KV cache are placed once by the
// run state; nothing is allocated per token.
import { dequantize, nuqRowInto, type TensorRecord } from '../../format/kinds.ts';
import type { RopeStyle } from '../../kernels/reference.ts';
import type { Backend, Vec, Weight } from '../types.ts';
import { createKernelInstance, type KernelInstance } from './instance.ts';

type NuqRecord = Extract<TensorRecord, { kind: 'nuq' }>;

interface WasmWeight extends Weight {
  /** Address of the dense f32 values (f32, f16 and uniform are expanded to f32 at load for now). */
  readonly f32?: number;
  readonly lut?: { bits: 3 | 4; lut: number; indices: number; sparse?: { rowPtr: number; colIdx: number; values: number }; rec: NuqRecord };
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  private constructor(private readonly inst: KernelInstance) {}

  static async create(): Promise<WasmBackend> {
    return new WasmBackend(await createKernelInstance());
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
    const base = { name: rec.name, kind: rec.kind, shape: rec.shape };
    switch (rec.kind) {
      case 'f32':
        return { ...base, f32: this.heap.place(rec.data) } as WasmWeight;
      case 'f16': {
        const n = rec.data.length;
        const src = this.heap.scratch('f16-upload', n * 2);
        this.heap.write(src, rec.data);
        const dst = this.heap.alloc(n * 4);
        this.k.f16ToF32(dst, src, n);
        return { ...base, f32: dst } as WasmWeight;
      }
      case 'nuq': {
        const sparse = rec.sparse && {
          rowPtr: this.heap.place(rec.sparse.rowPtr),
          colIdx: this.heap.place(rec.sparse.colIdx),
          values: this.heap.place(rec.sparse.values),
        };
        const lut = { bits: rec.bits, lut: this.heap.place(rec.lut), indices: this.heap.place(rec.indices), sparse, rec };
        return { ...base, lut } as WasmWeight;
      }
      default:
        return { ...base, f32: this.heap.place(dequantize(rec)) } as WasmWeight;
    }
  }

  embed(out: Vec, w: Weight, row: number): void {
    const ww = w as WasmWeight;
    const cols = w.shape[1];
    const o = this.heap.f32(out.off << 2, cols);
    if (ww.f32 !== undefined) return o.set(this.heap.f32(ww.f32 + row * cols * 4, cols));
    // A LUT row is looked up on the host: one row per token is cheap.
    nuqRowInto(ww.lut!.rec, row, o);
  }

  matvec(out: Vec, w: Weight, x: Vec): void {
    const ww = w as WasmWeight;
    const [rows, cols] = w.shape;
    const o = out.off << 2;
    const xp = x.off << 2;
    if (ww.f32 !== undefined) return this.k.matvecF32(o, ww.f32, xp, cols, 0, rows);
    const q = ww.lut!;
    if (q.bits === 4) this.k.matvecLut4(o, q.lut, q.indices, xp, cols, 0, rows);
    else this.k.matvecLut3(o, q.lut, q.indices, xp, cols, 0, rows);
    if (q.sparse) this.k.spmvCsrAdd(o, q.sparse.rowPtr, q.sparse.colIdx, q.sparse.values, xp, 0, rows);
  }

  matmul(out: Vec, w: Weight, x: Vec, n: number): void {
    const ww = w as WasmWeight;
    const [rows, cols] = w.shape;
    if (n === 1) return this.matvec(out, w, x);
    if (ww.f32 !== undefined) return this.k.matmulF32(out.off << 2, ww.f32, x.off << 2, rows, cols, n);
    for (let i = 0; i < n; i++) this.matvec({ off: out.off + i * rows, len: rows }, w, { off: x.off + i * cols, len: cols });
  }

  rmsnorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    this.k.rmsnorm(out.off << 2, x.off << 2, (w as WasmWeight).f32!, x.len, eps);
  }

  rope(v: Vec, headSize: number, pos: number, theta: number, style: RopeStyle): void {
    if (style === 'interleaved') this.k.ropeInterleaved(v.off << 2, v.len, headSize, pos, theta);
    else this.k.ropeHalf(v.off << 2, v.len, headSize, pos, theta);
  }

  attention(out: Vec, q: Vec, kCache: Vec, vCache: Vec, nHeads: number, nKvHeads: number, headSize: number, nPos: number): void {
    const att = this.heap.scratch('attention-scores', Math.max(nPos, 1024) * 4);
    this.k.attention(out.off << 2, q.off << 2, kCache.off << 2, vCache.off << 2, att, nHeads, nKvHeads, headSize, nPos);
  }

  swiglu(out: Vec, gate: Vec, up: Vec): void {
    this.k.swiglu(out.off << 2, gate.off << 2, up.off << 2, out.len);
  }

  add(out: Vec, a: Vec, b: Vec): void {
    this.k.add(out.off << 2, a.off << 2, b.off << 2, out.len);
  }
}
