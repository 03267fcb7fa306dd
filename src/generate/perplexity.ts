import { UsageError } from '../util/errors.ts';

// Sliding-window perplexity (docs/PERPLEXITY.md). The text is tokenized once with BOS first;
// windows of `ctx` tokens start every `stride` tokens; each window scores only the targets the
// previous one did not (its last `stride`; the first window all but its first token), each with a
// fresh cache, so every token after BOS is scored exactly once with up to ctx - stride tokens of
// context. ppl = exp(mean negative log-likelihood).

export interface PerplexityOptions {
  /** Tokens per window, at most the context the model was loaded with (default: that context, at most 256). */
  ctx?: number;
  /** Tokens between window starts, at least 1 and less than ctx (default ctx / 2): each window scores its last `stride`. */
  stride?: number;
  /** Score at most this many tokens of the text (from the start). */
  maxTokens?: number;
  /** Called after each window with (windows done, windows in all). */
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  perplexity: number;
  /** Mean negative log-likelihood, nats per token. */
  nll: number;
  tokens: number;
}

/** The windows over n tokens: each is [start, end) and scores targets from `from` to end - 1. */
export function windows(n: number, ctx: number, stride: number): { start: number; end: number; from: number }[] {
  // Windows overlap by at least one token, so every target has context inside its window.
  if (!(Number.isInteger(stride) && stride >= 1 && stride < ctx)) throw new UsageError(`stride must be at least 1 and less than ctx (${ctx}), got ${stride}`);
  const out = [];
  let scored = 1; // token 0 (BOS) is never a target
  for (let start = 0; scored < n; start += stride) {
    const end = Math.min(start + ctx, n);
    if (end > scored) out.push({ start, end, from: scored });
    scored = end;
  }
  return out;
}

/** -log softmax(logits)[target], in f64. */
export function nllOf(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) + max - logits[target];
}
