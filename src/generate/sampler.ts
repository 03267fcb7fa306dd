// Picks the next token from logits: greedy at temperature 0, otherwise softmax(logits / T)
// restricted to the top-k and then to the smallest set whose mass reaches top-p, drawn with a
// seeded generator so a seed fixes the text.
import { Rng } from '../util/random.ts';

export interface SamplerOptions {
  /** 0 = greedy (default 1). */
  temperature?: number;
  /** Keep the k most likely tokens (0 = all; default 0). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all; default 0.9). */
  topP?: number;
  seed?: number;
}

export class Sampler {
  private readonly rng: Rng;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;

  constructor(opts: SamplerOptions = {}) {
    this.temperature = opts.temperature ?? 1;
    this.topK = opts.topK ?? 0;
    this.topP = opts.topP ?? 0.9;
    this.rng = new Rng(opts.seed ?? Date.now());
    if (!(this.temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${this.temperature}`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new RangeError(`top-p must be in (0, 1], got ${this.topP}`);
    if (!(Number.isInteger(this.topK) && this.topK >= 0)) throw new RangeError(`top-k must be a non-negative integer, got ${this.topK}`);
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    const keep = this.topK > 0 ? order.slice(0, this.topK) : order;
    const max = logits[keep[0]];
    const probs = keep.map((i) => Math.exp((logits[i] - max) / this.temperature));
    const total = probs.reduce((a, p) => a + p, 0);
    let mass = 0;
    let cut = keep.length;
    for (let j = 0; j < keep.length; j++) {
      mass += probs[j] / total;
      if (mass >= this.topP) {
        cut = j + 1;
        break;
      }
    }
    const kept = probs.slice(0, cut);
    const keptTotal = kept.reduce((a, p) => a + p, 0);
    let u = this.rng.next() * keptTotal;
    for (let j = 0; j < cut; j++) {
      u -= kept[j];
      if (u < 0) return keep[j];
    }
    return keep[cut - 1];
  }
}

/** Index of the largest value (the first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
