// Clustering a whole matrix: rows are independent, so they are spread over worker threads
// (tools/parallel/pool.ts). Every row's result depends only on the row (and rowSeed(seed, r) for
// Lloyd), so any split gives the same output as one thread, bit for bit. docs/KMEANS.md.
import { getPool } from '../parallel/pool.ts';
import { quantizeRows, Workspace, type KMeansMethod, type RowsResult } from './index.ts';
import { wasmExact } from './wasm.ts';

export { getPool, closePools } from '../parallel/pool.ts';

export interface ClusterOptions {
  method?: KMeansMethod;
  seed?: number;
  /** Worker threads (default 1: this thread). */
  threads?: number;
}

/**
 * The 'kmeans-rows' task (run by tools/parallel/worker.ts): rows [rowStart, rowEnd) of W into the
 * shared output buffers `out`. W, F and out are views over SharedArrayBuffers.
 */
export type KMeansRowsTask = {
  type: 'kmeans-rows';
  W: Float32Array;
  F: Float32Array | null;
  rows: number;
  cols: number;
  bits: number;
  method: KMeansMethod;
  seed: number;
  rowStart: number;
  rowEnd: number;
  out: RowsResult;
};

let workspace: Workspace | undefined;

/** Runs rows [rowStart, rowEnd) on this thread: the WASM exact path, or Lloyd in TypeScript. */
function runRows(W: Float32Array, F: Float32Array | null, rows: number, cols: number, bits: number, method: KMeansMethod, seed: number, rowStart: number, rowEnd: number, out?: RowsResult): RowsResult {
  workspace ??= new Workspace();
  return quantizeRows(W, F, rows, cols, bits, {
    method,
    seed,
    rowStart,
    rowEnd,
    out,
    workspace,
    solver: method === 'exact' ? wasmExact() : undefined,
  });
}

/** Worker side of 'kmeans-rows'; returns the number of rows done. */
export function kmeansRowsTask(t: KMeansRowsTask): number {
  runRows(t.W, t.F, t.rows, t.cols, t.bits, t.method, t.seed, t.rowStart, t.rowEnd, t.out);
  return t.rowEnd - t.rowStart;
}

/** A view of the same values over a SharedArrayBuffer (the array itself if it already is one). */
function shared<T extends Float32Array | Float64Array | Uint8Array>(a: T, make: (sab: SharedArrayBuffer) => T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = make(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}

/**
 * Per-row weighted k-means of the row-major rows x cols matrix W (F null = unweighted).
 * threads <= 1: this thread (the WASM exact path for 'exact', TypeScript for 'lloyd');
 * threads > 1: contiguous row blocks on the process's worker pool (getPool; closePools() ends it),
 * W and F shared once (not copied per worker), the output written in place by the workers.
 * Same result for every thread count.
 */
export async function clusterRows(W: Float32Array, F: Float32Array | null, rows: number, cols: number, bits: number, opts: ClusterOptions = {}): Promise<RowsResult> {
  const method = opts.method ?? 'exact';
  const seed = opts.seed ?? 0;
  const threads = Math.min(opts.threads ?? 1, rows);
  if (!(threads > 1)) return runRows(W, F, rows, cols, bits, method, seed, 0, rows);
  if (!Number.isInteger(threads)) throw new RangeError(`threads must be an integer, not ${opts.threads}`);
  // argument checks here, so a bad call fails before anything is started
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`bits must be an integer in 1..8, got ${bits}`);
  if (W.length !== rows * cols) throw new Error(`W has ${W.length} values, expected ${rows} x ${cols}`);
  if (F !== null && F.length !== rows * cols) throw new Error(`F has ${F.length} values, expected ${rows} x ${cols}`);
  if (method !== 'exact' && method !== 'lloyd') throw new Error(`unknown k-means method ${String(method)}`);
  const k = 1 << bits;
  const Ws = shared(W, (b) => new Float32Array(b));
  const Fs = F === null ? null : shared(F, (b) => new Float32Array(b));
  const out: RowsResult = {
    centroids: new Float32Array(new SharedArrayBuffer(rows * k * 4)),
    indices: new Uint8Array(new SharedArrayBuffer(rows * cols)),
    objectives: new Float64Array(new SharedArrayBuffer(rows * 8)),
  };
  // a few contiguous blocks per thread, handed out as threads free up (rows differ in cost),
  // with at most `threads` tasks running at once
  const blocks = Math.min(rows, threads * 4);
  const pool = getPool(threads);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < blocks) {
      const b = next++;
      const task: KMeansRowsTask = {
        type: 'kmeans-rows', W: Ws, F: Fs, rows, cols, bits, method, seed,
        rowStart: Math.floor((b * rows) / blocks),
        rowEnd: Math.floor(((b + 1) * rows) / blocks),
        out,
      };
      await pool.run(task);
    }
  };
  const lanes = Array.from({ length: threads }, lane);
  try {
    await Promise.all(lanes);
  } catch (e) {
    next = blocks; // start nothing more
    await Promise.allSettled(lanes);
    throw e;
  }
  // results in ordinary buffers, as with threads = 1
  return { centroids: out.centroids.slice(), indices: out.indices.slice(), objectives: out.objectives.slice() };
}
