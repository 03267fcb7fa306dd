// Picks the next token from logits, in the order Hugging Face's generate() applies its processors:
//   1. repetition penalty on the tokens of the last `repetitionWindow` positions (CTRL's rule, as
//      llama.cpp and transformers have it: a positive logit is divided by the penalty, a negative
//      one multiplied);
//   2. temperature: 0 is greedy (argmax of the penalised logits), else softmax(logits / T);
//   3. top-k: the k most likely tokens;
//   4. top-p: the smallest most-likely-first set whose mass reaches p of what top-k left;
//   5. min-p: of those, the tokens at least minP times as likely as the most likely one;
// then a draw over what is left, renormalised, with a seeded generator so a seed fixes the text.
import { UsageError } from '../util/errors.ts';
import { Rng } from '../util/random.ts';

export interface SamplerOptions {
  /** 0 = greedy (default 1). */
  temperature?: number;
  /** Keep the k most likely tokens (0 = all; default 0). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p, in (0, 1] (1 = all; default 0.9). */
  topP?: number;
  /** Keep only tokens at least this fraction as likely as the most likely one, in [0, 1) (default 0 = off). */
  minP?: number;
  /** Divide positive (multiply negative) logits of recently seen tokens by this, > 0 (default 1 = off; 1.1 is usual). */
  repetitionPenalty?: number;
  /** How many of the latest tokens (prompt included) the penalty looks at (default 64). */
  repetitionWindow?: number;
  /** Seed of the draws (default: the clock). */
  seed?: number;
}

/** The tokens a draw may pick, most likely first, with their renormalised probabilities. */
export interface Candidates {
  ids: number[];
  probs: number[];
}

export class Sampler {
  private readonly rng: Rng;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly repetitionWindow: number;

  /** Throws UsageError naming the first option out of range. */
  constructor(opts: SamplerOptions = {}) {
    this.temperature = opts.temperature ?? 1;
    this.topK = opts.topK ?? 0;
    this.topP = opts.topP ?? 0.9;
    this.minP = opts.minP ?? 0;
    this.repetitionPenalty = opts.repetitionPenalty ?? 1;
    this.repetitionWindow = opts.repetitionWindow ?? 64;
    const seed = opts.seed ?? Date.now();
    const bad = (what: string, v: unknown) => new UsageError(`${what}, got ${v}`);
    if (!(typeof this.temperature === 'number' && this.temperature >= 0 && Number.isFinite(this.temperature))) throw bad('temperature must be a number >= 0', this.temperature);
    if (!(Number.isInteger(this.topK) && this.topK >= 0)) throw bad('top-k must be an integer >= 0', this.topK);
    if (!(typeof this.topP === 'number' && this.topP > 0 && this.topP <= 1)) throw bad('top-p must be in (0, 1] (1 keeps every token)', this.topP);
    if (!(typeof this.minP === 'number' && this.minP >= 0 && this.minP < 1)) throw bad('min-p must be in [0, 1)', this.minP);
    if (!(typeof this.repetitionPenalty === 'number' && this.repetitionPenalty > 0 && Number.isFinite(this.repetitionPenalty))) throw bad('the repetition penalty must be a number > 0 (1 = off)', this.repetitionPenalty);
    if (!(Number.isInteger(this.repetitionWindow) && this.repetitionWindow >= 1)) throw bad('the repetition window must be an integer >= 1', this.repetitionWindow);
    if (!Number.isSafeInteger(seed)) throw bad('the seed must be an integer', seed);
    this.rng = new Rng(seed);
  }

  /** The next token after `history` (the prompt and the tokens generated so far; only the penalty reads it). */
  sample(logits: Float32Array, history: readonly number[] = []): number {
    const l = this.penalised(logits, history);
    if (this.temperature === 0) return argmax(l);
    const c = this.candidates(l);
    let u = this.rng.next();
    for (let j = 0; j < c.ids.length; j++) {
      u -= c.probs[j];
      if (u < 0) return c.ids[j];
    }
    return c.ids[c.ids.length - 1];
  }

  /** Steps 2-5 for temperature > 0: what a draw may pick from these (already penalised) logits. */
  candidates(logits: Float32Array): Candidates {
    const V = logits.length;
    const max = logits[argmax(logits)];
    const probs = new Float64Array(V);
    let total = 0;
    for (let i = 0; i < V; i++) total += probs[i] = Math.exp((logits[i] - max) / this.temperature);
    // probs[argmax] is 1, so min-p's bar in these units is minP itself
    if ((this.topK === 0 || this.topK >= V) && this.topP === 1 && this.minP === 0) {
      return { ids: Array.from(probs.keys()), probs: Array.from(probs, (p) => p / total) }; // nothing filtered: no sort
    }

    // Without top-k, a token below (1 - p) / (V - 1) of the mass can never be in the nucleus
    // (llama2.c's observation), nor one under min-p's bar: the sort only sees the few that can.
    const nucleusBar = this.topP < 1 && V > 1 ? ((1 - this.topP) / (V - 1)) * total : 0;
    const bar = this.topK === 0 ? Math.max(nucleusBar, this.minP) : 0;
    let cand: number[] = [];
    for (let i = 0; i < V; i++) if (probs[i] >= bar) cand.push(i);
    cand.sort((a, b) => probs[b] - probs[a] || a - b);
    if (this.topK > 0 && cand.length > this.topK) {
      cand = cand.slice(0, this.topK);
      total = cand.reduce((acc, i) => acc + probs[i], 0);
    }
    if (this.topP < 1) {
      let kept = 0;
      for (let j = 0; j < cand.length; j++) {
        kept += probs[cand[j]];
        if (kept >= this.topP * total) {
          cand = cand.slice(0, j + 1);
          break;
        }
      }
    }
    if (this.minP > 0) cand = cand.filter((i) => probs[i] >= this.minP);
    const kept = cand.reduce((acc, i) => acc + probs[i], 0);
    return { ids: cand, probs: cand.map((i) => probs[i] / kept) };
  }

  /** Step 1: the logits with the penalty applied to each distinct token of the window (a copy; the input is left alone). */
  penalised(logits: Float32Array, history: readonly number[]): Float32Array {
    if (this.repetitionPenalty === 1 || history.length === 0) return logits;
    const out = logits.slice();
    const seen = new Set(history.slice(-this.repetitionWindow));
    for (const id of seen) {
      if (id < 0 || id >= out.length) continue;
      out[id] = out[id] > 0 ? out[id] / this.repetitionPenalty : out[id] * this.repetitionPenalty;
    }
    return out;
  }
}

/** Index of the largest value (the first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
