// The exact method on the WASM kernels (assembly/kmeans.ts). Same results as the TypeScript exact
// path (exact.ts, prepare.ts, index.ts), bit for bit: the kernels do the same f64 operations in
// the same order. docs/KMEANS.md has the timings.
//
// - row(): the whole row in WASM (checks, radix sort, merge, prefix sums, DP, centroids, nearest
//   indices, objective); the host copies the row in and the centroids and indices out. This is
//   what quantizeRowInto runs for method 'exact' when given `solver: wasmExact()`.
// - partition(): only the DP, on a Workspace prepared by the TypeScript (prefix sums copied in).
//
// Each thread has its own instance over its own memory: `wasmExact()`.
import { MAX_BYTES, PAGE, WasmHeap } from '../../src/backend/wasm/heap.ts';
import { kernelModule } from '../../src/backend/wasm/instance.ts';
import type { KernelExports } from '../../src/backend/wasm/exports.ts';
import type { ExactSolver } from './exact.ts';
import type { RowWeights, Workspace } from './prepare.ts';

/** Longest row prepareRow accepts (its packed sort key); longer rows go to the TypeScript path, which rejects them. */
const MAX_N = (1 << 21) - 1;

export class WasmExact implements ExactSolver {
  readonly memory: WebAssembly.Memory;
  readonly heap: WasmHeap;
  private readonly k: KernelExports;
  private readonly base: number;
  // current layout: room for rows of `cap` values and `kCap` clusters
  private cap = -1;
  private kCap = -1;
  private ptr = { w: 0, f: 0, cent: 0, idx: 0, scratch: 0, p0: 0, p1: 0, p2: 0, prev: 0, cur: 0, split: 0, bounds: 0 };
  private view = {
    w: new Float32Array(0),
    f32: new Float32Array(0),
    f64: new Float64Array(0),
    cent: new Float32Array(0),
    idx: new Uint8Array(0),
    hdr: new Int32Array(0),
    p0: new Float64Array(0),
    p1: new Float64Array(0),
    p2: new Float64Array(0),
    bounds: new Int32Array(0),
  };

  constructor() {
    // synchronous instantiation (the module is small and compiled once per thread)
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_BYTES / PAGE, shared: true });
    const inst = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
    this.k = inst.exports as unknown as KernelExports;
    this.heap = new WasmHeap(this.memory, this.k.heapBase());
    this.base = this.heap.mark();
  }

  /** Places the buffers for n values and k clusters (grown by doubling, never shrunk). */
  private layout(n: number, k: number): void {
    if (n <= this.cap && k <= this.kCap) return;
    const cap = n <= this.cap ? this.cap : Math.max(n, 2 * this.cap, 64);
    const kCap = Math.max(k, this.kCap, 2);
    const h = this.heap;
    h.release(this.base);
    const f64 = (cap + 1) * 8;
    const p = {
      w: h.alloc(cap * 4),
      f: h.alloc(cap * 8),
      cent: h.alloc(kCap * 4),
      idx: h.alloc(cap),
      scratch: h.alloc(this.k.kmeansRowScratchBytes(cap, kCap)),
      p0: h.alloc(f64),
      p1: h.alloc(f64),
      p2: h.alloc(f64),
      prev: h.alloc(f64),
      cur: h.alloc(f64),
      split: h.alloc(Math.min(kCap, cap) * (cap + 1) * 4),
      bounds: h.alloc((kCap + 1) * 4),
    };
    // shared memory is never detached by growth, so views made now stay valid
    const buf = this.memory.buffer;
    this.view = {
      w: new Float32Array(buf, p.w, cap),
      f32: new Float32Array(buf, p.f, cap),
      f64: new Float64Array(buf, p.f, cap),
      cent: new Float32Array(buf, p.cent, kCap),
      idx: new Uint8Array(buf, p.idx, cap),
      hdr: new Int32Array(buf, p.scratch, 2),
      p0: new Float64Array(buf, p.p0, cap + 1),
      p1: new Float64Array(buf, p.p1, cap + 1),
      p2: new Float64Array(buf, p.p2, cap + 1),
      bounds: new Int32Array(buf, p.bounds, kCap + 1),
    };
    this.ptr = p;
    this.cap = cap;
    this.kCap = kCap;
  }

  row(w: Float32Array, f: RowWeights, k: number, centroids: Float32Array, indices: Uint8Array): { objective: number; uniform: boolean } | null {
    const n = w.length;
    if (n > MAX_N || (f !== null && f.length !== n)) return null;
    this.layout(n, k);
    const v = this.view;
    v.w.set(w);
    let fKind = 0;
    if (f instanceof Float32Array) {
      v.f32.set(f);
      fKind = 4;
    } else if (f instanceof Float64Array) {
      v.f64.set(f);
      fKind = 8;
    }
    const p = this.ptr;
    const objective = this.k.kmeansExactRow(p.w, p.f, fKind, n, k, p.scratch, p.cent, p.idx);
    if (Number.isNaN(objective)) return null;
    centroids.set(v.cent.subarray(0, k));
    indices.set(v.idx.subarray(0, n));
    return { objective, uniform: v.hdr[1] === 1 };
  }

  partition(ws: Workspace, k: number, bounds: Int32Array): { K: number; cost: number } {
    const m = ws.m;
    const K = Math.min(k, m);
    bounds[0] = 0;
    if (K === 0) return { K: 0, cost: 0 };
    if (K === m) {
      for (let c = 0; c <= K; c++) bounds[c] = c;
      return { K, cost: 0 };
    }
    this.layout(m, K);
    const v = this.view;
    v.p0.set(ws.p0.subarray(0, m + 1));
    v.p1.set(ws.p1.subarray(0, m + 1));
    v.p2.set(ws.p2.subarray(0, m + 1));
    const p = this.ptr;
    const cost = this.k.kmeansExactPartition(p.p0, p.p1, p.p2, m, K, p.prev, p.cur, p.split, p.bounds);
    bounds.set(v.bounds.subarray(0, K + 1));
    return { K, cost };
  }
}

let shared: WasmExact | undefined;

/** This thread's WASM exact solver (created on first use). */
export function wasmExact(): WasmExact {
  shared ??= new WasmExact();
  return shared;
}
