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
    const V = logits.length;
    const max = logits[argmax(logits)];
    const probs = new Float64Array(V);
    let total = 0;
    for (let i = 0; i < V; i++) total += probs[i] = Math.exp((logits[i] - max) / this.temperature);
    if (this.topK === 0 && this.topP >= 1) return this.draw(probs, total, null);

    // Candidates, most likely first. Without top-k, a token below (1 - p) / (V - 1) of the mass
    // can never be in the nucleus (llama2.c's observation), so the sort only sees the few that can.
    const cutoff = this.topP < 1 && this.topK === 0 ? ((1 - this.topP) / (V - 1)) * total : 0;
    let cand: number[] = [];
    for (let i = 0; i < V; i++) if (probs[i] >= cutoff) cand.push(i);
    cand.sort((a, b) => probs[b] - probs[a] || a - b);
    if (this.topK > 0) cand = cand.slice(0, this.topK);
    let kept = 0;
    let cut = cand.length;
    const candTotal = cand.reduce((acc, i) => acc + probs[i], 0);
    const mass = this.topP * (this.topK > 0 ? candTotal : total);
    for (let j = 0; j < cand.length; j++) {
      kept += probs[cand[j]];
      if (kept >= mass) {
        cut = j + 1;
        break;
      }
    }
    return this.draw(probs, kept, cand.slice(0, cut));
  }

  /** A draw proportional to probs over `among` (null: every token, in index order). */
  private draw(probs: Float64Array, total: number, among: number[] | null): number {
    let u = this.rng.next() * total;
    const n = among ? among.length : probs.length;
    for (let j = 0; j < n; j++) {
      const i = among ? among[j] : j;
      u -= probs[i];
      if (u < 0) return i;
    }
    return among ? among[n - 1] : n - 1;
  }
}

/** Index of the largest value (the first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
