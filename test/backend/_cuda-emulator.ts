// A stand-in for the CUDA binding that runs on the host (not a test file): the same functions as
// cuda/addon/binding.cc, over a host "device memory" of numbered allocations, each launcher
// computed by the plain TypeScript reference the real kernel must match. It lets the tests drive
// src/backend/cuda/ — uploads, layouts, addresses, argument order, the CSR warp split — through
// the whole forward pass without a GPU. What it cannot check is the CUDA code itself; that is
// `npm run test:cuda` on a GPU machine (docs/CUDA.md).
import type { CudaAddon, CudaDevice } from '../../src/backend/cuda/addon.ts';
import * as ref from '../../src/kernels/reference.ts';
import { rowBytes } from '../../src/format/packing.ts';

export const EMULATED_DEVICE: CudaDevice = { name: 'host emulation', devices: 1, computeCapability: '0.0', memoryBytes: 0, l2Bytes: 0, multiprocessors: 0, bandwidthGBs: 0 };

interface Allocation {
  addr: number;
  bytes: Uint8Array;
}

export class EmulatedCuda implements CudaAddon {
  private readonly allocations: Allocation[] = [];
  private next = 1 << 20;
  /** Launches so far, by binding function name. */
  readonly launches = new Map<string, number>();

  private count(name: string): void {
    this.launches.set(name, (this.launches.get(name) ?? 0) + 1);
  }

  private find(addr: number, bytes: number): Allocation {
    const a = this.allocations.find((x) => addr >= x.addr && addr + bytes <= x.addr + x.bytes.length);
    if (!a) throw new RangeError(`emulated device: [${addr}, +${bytes}) is outside every allocation`);
    return a;
  }

  private view<T extends Float32Array | Int32Array | Uint16Array | Uint8Array>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, addr: number, n: number): T {
    const a = this.find(addr, n * Ctor.BYTES_PER_ELEMENT);
    const off = a.bytes.byteOffset + addr - a.addr;
    if (off % Ctor.BYTES_PER_ELEMENT) throw new RangeError(`emulated device: address ${addr} is not aligned for ${Ctor.name}`);
    return new Ctor(a.bytes.buffer as ArrayBuffer, off, n);
  }

  private f32 = (addr: number, n: number) => this.view(Float32Array, addr, n);
  private i32 = (addr: number, n: number) => this.view(Int32Array, addr, n);
  private u8 = (addr: number, n: number) => this.view(Uint8Array, addr, n);

  /** A table as f32, widened from binary16 when `half`. */
  private table(addr: number, n: number, half: 0 | 1): Float32Array {
    if (!half) return this.f32(addr, n);
    const t = new Float32Array(n);
    ref.f16ToF32(t, this.view(Uint16Array, addr, n));
    return t;
  }

  probe() {
    return { ok: true as const, ...EMULATED_DEVICE };
  }
  init(): number {
    return 48 << 10;
  }
  alloc(bytes: number): number {
    const addr = this.next;
    this.allocations.push({ addr, bytes: new Uint8Array(Math.max(bytes, 1)) });
    this.next += Math.ceil(Math.max(bytes, 1) / 256) * 256 + 256; // a gap: an overrun lands outside every allocation
    return addr;
  }
  free(addr: number): void {
    const i = this.allocations.findIndex((a) => a.addr === addr);
    if (i < 0) throw new RangeError(`emulated device: free of ${addr}, not an allocation`);
    this.allocations.splice(i, 1);
  }
  /** Allocations not freed yet. */
  get live(): number {
    return this.allocations.length;
  }
  write(addr: number, data: ArrayBufferView): void {
    this.u8(addr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  read(addr: number, n: number): Float32Array {
    return this.f32(addr, n).slice();
  }
  synchronize(): void {}

  matmulLut(out: number, lut: number, half: 0 | 1, idx: number, x: number, rows: number, cols: number, n: number, bits: number): void {
    this.count('matmulLut');
    const b = bits as 3 | 4;
    ref.matmulLut(this.f32(out, n * rows), this.table(lut, rows << b, half), this.u8(idx, rows * rowBytes(b, cols)), this.f32(x, n * cols), rows, cols, n, b);
  }
  matmulUniform(out: number, scales: number, zeros: number, values: number, x: number, rows: number, cols: number, n: number, groupSize: number, bits: number): void {
    this.count('matmulUniform');
    const g = rows * ref.uniformGroupCount(cols, groupSize);
    const b = bits as 3 | 4 | 8;
    ref.matmulUniform(this.f32(out, n * rows), this.f32(scales, g), this.f32(zeros, g), this.u8(values, rows * rowBytes(b, cols)), this.f32(x, n * cols), rows, cols, n, groupSize, b);
  }
  matmulDense(out: number, w: number, half: 0 | 1, x: number, rows: number, cols: number, n: number): void {
    this.count('matmulDense');
    if (half) ref.matmulF16(this.f32(out, n * rows), this.view(Uint16Array, w, rows * cols), this.f32(x, n * cols), rows, cols, n);
    else ref.matmulF32(this.f32(out, n * rows), this.f32(w, rows * cols), this.f32(x, n * cols), rows, cols, n);
  }
  /** Walks the warp split as the kernel does: every row once, in segments that must tile 0..rows. */
  spmmCsrAdd(out: number, rowPtr: number, colIdx: number, values: number, segments: number, nSegments: number, x: number, rows: number, cols: number, n: number): void {
    this.count('spmmCsrAdd');
    const rp = this.i32(rowPtr, rows + 1);
    const nnz = rp[rows];
    const seg = this.i32(segments, nSegments + 1);
    if (seg[0] !== 0 || seg[nSegments] !== rows) throw new RangeError(`emulated device: segments run ${seg[0]}..${seg[nSegments]}, not 0..${rows}`);
    const o = this.f32(out, n * rows);
    const xv = this.f32(x, n * cols);
    for (let s = 0; s < nSegments; s++) {
      if (seg[s + 1] < seg[s]) throw new RangeError('emulated device: segments decrease');
      ref.spmmCsrAdd(o, rp, this.i32(colIdx, nnz), this.f32(values, nnz), xv, cols, n, seg[s], seg[s + 1]);
    }
  }
  rmsnorm(out: number, x: number, w: number, dim: number, n: number, eps: number): void {
    for (let i = 0; i < n; i++) ref.rmsnorm(this.f32(out + 4 * i * dim, dim), this.f32(x + 4 * i * dim, dim), this.f32(w, dim), dim, eps);
  }
  rope(vec: number, len: number, headSize: number, pos: number, theta: number, halfPairs: 0 | 1): void {
    ref.rope(this.f32(vec, len), len, headSize, pos, theta, halfPairs ? 'half' : 'interleaved');
  }
  attention(out: number, q: number, k: number, v: number, nHeads: number, nKvHeads: number, headSize: number, nPos: number): void {
    const kv = nKvHeads * headSize;
    ref.attention(this.f32(out, nHeads * headSize), this.f32(q, nHeads * headSize), this.f32(k, nPos * kv), this.f32(v, nPos * kv), nHeads, nKvHeads, headSize, nPos);
  }
  swiglu(out: number, gate: number, up: number, n: number): void {
    ref.swiglu(this.f32(out, n), this.f32(gate, n), this.f32(up, n), n);
  }
  add(out: number, a: number, b: number, n: number): void {
    ref.add(this.f32(out, n), this.f32(a, n), this.f32(b, n), n);
  }
  embedF32(out: number, w: number, row: number, cols: number): void {
    this.f32(out, cols).set(this.f32(w + 4 * row * cols, cols));
  }
  embedF16(out: number, w: number, row: number, cols: number): void {
    ref.f16ToF32(this.f32(out, cols), this.view(Uint16Array, w + 2 * row * cols, cols));
  }
  embedLut(out: number, lut: number, half: 0 | 1, idx: number, rowPtr: number, colIdx: number, values: number, row: number, cols: number, bits: number): void {
    const b = bits as 3 | 4;
    const rb = rowBytes(b, cols);
    const o = this.f32(out, cols);
    o.set(ref.dequantLut(this.table(lut + (half ? 2 : 4) * (row << b), 1 << b, half), this.u8(idx + row * rb, rb), 1, cols, b));
    if (!rowPtr) return;
    const rp = this.i32(rowPtr + 4 * row, 2);
    const k0 = rp[0];
    const cs = this.i32(colIdx + 4 * k0, rp[1] - k0);
    const vs = this.f32(values + 4 * k0, rp[1] - k0);
    for (let k = 0; k < cs.length; k++) o[cs[k]] += vs[k];
  }
  embedUniform(out: number, scales: number, zeros: number, values: number, row: number, cols: number, groupSize: number, bits: number): void {
    const b = bits as 3 | 4 | 8;
    const g = (row + 1) * ref.uniformGroupCount(cols, groupSize);
    ref.dequantUniformRow(this.f32(out, cols), this.f32(scales, g), this.f32(zeros, g), this.u8(values, (row + 1) * rowBytes(b, cols)), row, cols, groupSize, b);
  }
  captureBegin(): void {
    throw new Error('emulated device: no graphs');
  }
  captureEnd(): number {
    throw new Error('emulated device: no graphs');
  }
  timeGraph(): number {
    throw new Error('emulated device: no graphs');
  }
}
