// SqueezeLLM's sensitivity: the (empirical, diagonal) Fisher information of each weight of the
// seven linear layers of every block, F = sum over calibration sequences s of (dL_s/dW)^2, where
// L_s is that sequence's mean next-token cross-entropy. The gradients come from the toolchain's
// own backward pass (backward.ts).
import type { ModelConfig } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { rowSeed } from '../kmeans/index.ts';
import { LlamaGrad, type LossTarget, type WeightMap } from './backward.ts';

/**
 * Which next tokens the gradients are taken against: the text's own ('text', SqueezeLLM's
 * empirical Fisher), or tokens drawn from the model's distribution at each position ('model':
 * the model's true Fisher, i.e. the Hessian of the KL divergence to the model itself).
 */
export type FisherLabels = 'text' | 'model';

export interface FisherOptions {
  /** Default 'text'. */
  labels?: FisherLabels;
  /** With labels 'model': the draws of sequence i come from Rng(rowSeed(seed, firstIndex + i)), so they do not depend on how sequences are split. */
  seed?: number;
  firstIndex?: number;
  /** Called after each sequence with (done, total, that sequence's loss). */
  onProgress?: (done: number, total: number, loss: number) => void;
}

/**
 * Sum over sequences of the squared gradient of each sequence's loss, per weight of
 * layers.{i}.{attn.q, attn.k, attn.v, attn.o, mlp.gate, mlp.up, mlp.down}, [out, in] like the weight.
 * Yields to the event loop between sequences so progress can be drawn.
 */
export async function computeFisher(model: { config: ModelConfig; weights: WeightMap }, sequences: number[][], opts: FisherOptions = {}): Promise<WeightMap> {
  if (sequences.length === 0) throw new UsageError('the Fisher information needs at least one calibration sequence');
  const lg = new LlamaGrad(model.config, model.weights);
  const fisher = lg.newGrads();
  const grads = lg.newGrads();
  for (let s = 0; s < sequences.length; s++) {
    let target: LossTarget | undefined;
    if (opts.labels === 'model') {
      const rng = new Rng(rowSeed(opts.seed ?? 0, (opts.firstIndex ?? 0) + s));
      target = { sampled: () => rng.next() };
    }
    const { loss } = lg.lossAndGrad(sequences[s], grads, target);
    for (const [name, f] of fisher) {
      const g = grads.get(name)!;
      for (let i = 0; i < f.length; i++) f[i] += g[i] * g[i];
    }
    opts.onProgress?.(s + 1, sequences.length, loss);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return fisher;
}

/**
 * Up to n calibration sequences of seqLen tokens: BOS, then seqLen - 1 consecutive text tokens,
 * the chunks following each other through the text (the tail that does not fill a chunk is
 * unused). A BOS at the very start of `tokens` (as an encoder that adds one gives) is dropped so
 * no sequence starts with two. Fewer than n come back when the text holds fewer chunks; a text
 * too short for one sequence is an error.
 */
export function calibrationSequences(tokens: number[], n: number, seqLen: number, bos: number): number[][] {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`the number of calibration sequences must be a positive integer, got ${n}`);
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new UsageError(`a calibration sequence needs at least 2 tokens (BOS and one of text), got a length of ${seqLen}`);
  const text = tokens.length > 0 && tokens[0] === bos ? tokens.slice(1) : tokens;
  const per = seqLen - 1;
  if (text.length < per) {
    throw new UsageError(`the calibration text has ${text.length} tokens; one sequence of ${seqLen} needs ${per} (after its BOS)`);
  }
  const count = Math.min(n, Math.floor(text.length / per));
  const out: number[][] = [];
  for (let s = 0; s < count; s++) out.push([bos, ...text.slice(s * per, (s + 1) * per)]);
  return out;
}
