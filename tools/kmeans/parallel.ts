// Clustering a whole matrix: rows are independent, so they are spread over worker threads.
import { quantizeRows, type KMeansMethod, type RowsResult } from './index.ts';

export interface ClusterOptions {
  method?: KMeansMethod;
  seed?: number;
  /** Worker threads (default 1: this thread). */
  threads?: number;
}

/** Per-row weighted k-means of the row-major rows x cols matrix W (F null = unweighted). */
export async function clusterRows(W: Float32Array, F: Float32Array | null, rows: number, cols: number, bits: number, opts: ClusterOptions = {}): Promise<RowsResult> {
  return quantizeRows(W, F, rows, cols, bits, { method: opts.method, seed: opts.seed });
}
