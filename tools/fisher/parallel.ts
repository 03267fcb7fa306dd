// Fisher information over worker threads. The calibration sequences are cut into chunks of
// FISHER_CHUNK; each chunk's sum of grad^2 is computed on its own (in a worker, or on this
// thread), and the chunk sums are added in chunk order. The arithmetic therefore does not depend
// on the thread count or on which worker finishes first: the result is the same bits for any
// --threads. The weights are shared with the workers, not copied.
import type { ModelConfig } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { getPool } from '../parallel/pool.ts';
import type { WeightMap } from './backward.ts';
import { computeFisher, type FisherLabels } from './fisher.ts';

/** Sequences per unit of work. */
export const FISHER_CHUNK = 4;

export interface FisherTask {
  type: 'fisher';
  config: ModelConfig;
  weights: Record<string, Float32Array>;
  sequences: number[][];
  labels: { labels: FisherLabels; seed: number; firstIndex: number };
}

interface ChunkResult {
  fisher: Record<string, Float32Array>;
  /** Sum of the chunk's sequence losses. */
  loss: number;
}

async function fisherChunk(model: { config: ModelConfig; weights: WeightMap }, sequences: number[][], labels: FisherTask['labels'], onSequence?: (d: number) => void): Promise<ChunkResult> {
  let loss = 0;
  const f = await computeFisher(model, sequences, {
    ...labels,
    onProgress: (d, _t, l) => {
      loss += l;
      onSequence?.(d);
    },
  });
  return { fisher: Object.fromEntries(f), loss };
}

/** The worker side: one chunk's sum of grad^2 and of the losses. */
export function fisherTask(t: FisherTask): Promise<ChunkResult> {
  return fisherChunk({ config: t.config, weights: new Map(Object.entries(t.weights)) }, t.sequences, t.labels);
}

export interface ParallelFisherOptions {
  threads?: number;
  /** The gradients' next tokens (fisher.ts; default 'text') and the seed of the model's draws. */
  labels?: FisherLabels;
  seed?: number;
  /** Called as sequences finish (per chunk when threaded). */
  onProgress?: (done: number, total: number) => void;
}

/** Sum over sequences of grad^2 per weight, and the mean loss of the sequences. */
export async function computeFisherParallel(
  model: { config: ModelConfig; weights: WeightMap },
  sequences: number[][],
  opts: ParallelFisherOptions = {},
): Promise<{ fisher: WeightMap; meanLoss: number }> {
  if (sequences.length === 0) throw new UsageError('the Fisher information needs at least one calibration sequence');
  const chunks: number[][][] = [];
  for (let i = 0; i < sequences.length; i += FISHER_CHUNK) chunks.push(sequences.slice(i, i + FISHER_CHUNK));
  const labelsOf = (c: number): FisherTask['labels'] => ({ labels: opts.labels ?? 'text', seed: opts.seed ?? 0, firstIndex: c * FISHER_CHUNK });
  const threads = opts.threads ?? 1;
  let total: WeightMap | undefined;
  let done = 0;
  let loss = 0;
  const addChunk = (part: ChunkResult, n: number) => {
    const entries = Object.entries(part.fisher);
    loss += part.loss;
    if (!total) total = new Map(entries);
    else for (const [name, f] of entries) {
      const t = total.get(name)!;
      for (let i = 0; i < t.length; i++) t[i] += f[i];
    }
    done += n;
  };

  if (threads <= 1) {
    for (const [c, chunk] of chunks.entries()) {
      const before = done;
      addChunk(await fisherChunk(model, chunk, labelsOf(c), (d) => opts.onProgress?.(before + d, sequences.length)), chunk.length);
    }
    return { fisher: total!, meanLoss: loss / sequences.length };
  }

  const pool = getPool(threads);
  const weights: Record<string, Float32Array> = {};
  for (const [name, w] of model.weights) {
    const s = new Float32Array(new SharedArrayBuffer(w.byteLength));
    s.set(w);
    weights[name] = s;
  }
  const run = (c: number) => pool.run<ChunkResult>({ type: 'fisher', config: model.config, weights, sequences: chunks[c], labels: labelsOf(c) } satisfies FisherTask);
  // Keep `threads` chunks in flight and add results in chunk order, so at most that many
  // partial sums are held at once.
  const inflight: Promise<ChunkResult>[] = [];
  let next = 0;
  while (next < chunks.length && inflight.length < threads) inflight.push(run(next++));
  for (let c = 0; c < chunks.length; c++) {
    addChunk(await inflight.shift()!, chunks[c].length);
    opts.onProgress?.(done, sequences.length);
    if (next < chunks.length) inflight.push(run(next++));
  }
  return { fisher: total!, meanLoss: loss / sequences.length };
}
