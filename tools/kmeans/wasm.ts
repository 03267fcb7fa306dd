// The exact DP on the WASM kernel (assembly/kmeans.ts): same partition as the TypeScript DP in
// exact.ts, bit for bit (same f64 operations in the same order), about 2-3x faster (docs/KMEANS.md).
// Row preparation (sort, merge, prefix sums), centroids and the index assignment stay in
// TypeScript; per row the prefix sums are copied in and the K + 1 boundaries read back.
//
// Each thread gets its own instance over its own (small, shared-flagged) memory: `wasmExact()`.
import { MAX_BYTES, PAGE, WasmHeap, alignUp } from '../../src/backend/wasm/heap.ts';
import { kernelModule } from '../../src/backend/wasm/instance.ts';
import type { KernelExports } from '../../src/backend/wasm/exports.ts';
import type { ExactSolver } from './exact.ts';
import type { Workspace } from './prepare.ts';

export class WasmExact implements ExactSolver {
  readonly memory: WebAssembly.Memory;
  readonly heap: WasmHeap;
  private readonly kernel: KernelExports['kmeansExactPartition'];
  private readonly base: number;
  // current layout: room for `cap` points and `kCap` clusters
  private cap = -1;
  private kCap = -1;
  private pP0 = 0;
  private pP1 = 0;
  private pP2 = 0;
  private pPrev = 0;
  private pCur = 0;
  private pSplit = 0;
  private pBounds = 0;
  private vP0 = new Float64Array(0);
  private vP1 = new Float64Array(0);
  private vP2 = new Float64Array(0);
  private vBounds = new Int32Array(0);

  constructor() {
    // synchronous instantiation (the module is small and compiled once per thread)
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_BYTES / PAGE, shared: true });
    const inst = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
    const exports = inst.exports as unknown as KernelExports;
    this.kernel = exports.kmeansExactPartition;
    this.heap = new WasmHeap(this.memory, exports.heapBase());
    this.base = this.heap.mark();
  }

  /** Places the buffers for m points and k clusters (grown by doubling; never shrunk). */
  private layout(m: number, k: number): void {
    if (m <= this.cap && k <= this.kCap) return;
    const cap = m <= this.cap ? this.cap : Math.max(m, 2 * this.cap, 64);
    const kCap = Math.max(k, this.kCap, 2);
    this.heap.release(this.base);
    const f64 = (cap + 1) * 8;
    this.pP0 = this.heap.alloc(f64);
    this.pP1 = this.heap.alloc(f64);
    this.pP2 = this.heap.alloc(f64);
    this.pPrev = this.heap.alloc(f64);
    this.pCur = this.heap.alloc(f64);
    this.pSplit = this.heap.alloc(alignUp(kCap * (cap + 1) * 4, 8));
    this.pBounds = this.heap.alloc((kCap + 1) * 4);
    // shared memory is never detached by growth, so views made now stay valid
    const buf = this.memory.buffer;
    this.vP0 = new Float64Array(buf, this.pP0, cap + 1);
    this.vP1 = new Float64Array(buf, this.pP1, cap + 1);
    this.vP2 = new Float64Array(buf, this.pP2, cap + 1);
    this.vBounds = new Int32Array(buf, this.pBounds, kCap + 1);
    this.cap = cap;
    this.kCap = kCap;
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
    this.vP0.set(ws.p0.subarray(0, m + 1));
    this.vP1.set(ws.p1.subarray(0, m + 1));
    this.vP2.set(ws.p2.subarray(0, m + 1));
    const cost = this.kernel(this.pP0, this.pP1, this.pP2, m, K, this.pPrev, this.pCur, this.pSplit, this.pBounds);
    bounds.set(this.vBounds.subarray(0, K + 1));
    return { K, cost };
  }
}

let shared: WasmExact | undefined;

/** This thread's WASM exact solver (created on first use). */
export function wasmExact(): WasmExact {
  shared ??= new WasmExact();
  return shared;
}
