// A loaded model: config, tokenizer, weights on a backend, a run state — and the three things
// people do with it: forward, generate, perplexity.
import type { Backend, Weight } from '../backend/types.ts';
import type { TensorRecord } from '../format/kinds.ts';
import { Sampler, type SamplerOptions } from '../generate/sampler.ts';
import { nllOf, windows, type PerplexityOptions, type PerplexityResult } from '../generate/perplexity.ts';
import { createTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import type { TokenizerSpec } from '../tokenizer/spec.ts';
import { FormatError, UsageError } from '../util/errors.ts';
import { type ModelConfig, tensorShapes, validateConfig } from './config.ts';
import { assembleWeights, forward, RunState, type ModelWeights } from './forward.ts';

export interface ModelOptions {
  /** Context length to allocate the KV cache for (default: the model's maximum). */
  ctx?: number;
  /** Most tokens one forward pass takes at once (default 64). */
  batch?: number;
}

export interface GenerateOptions extends SamplerOptions {
  /** Tokens to generate (default 256); generation also stops at EOS or the context limit. */
  maxTokens?: number;
  /** Called with each generated token id (before its text is yielded). */
  onToken?: (id: number) => void;
}

export interface GenerateStats {
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
}

export class Model {
  readonly state: RunState;
  readonly tokenizer: Tokenizer;
  lastStats: GenerateStats | undefined;

  private constructor(
    readonly config: ModelConfig,
    tokenizerSpec: TokenizerSpec,
    readonly backend: Backend,
    readonly weights: ModelWeights,
    opts: ModelOptions,
  ) {
    const ctx = opts.ctx ?? config.maxSeqLen;
    if (!(ctx >= 2 && ctx <= config.maxSeqLen)) throw new UsageError(`context ${ctx} must be between 2 and the model's ${config.maxSeqLen}`);
    this.state = new RunState(backend, config, ctx, Math.min(opts.batch ?? 64, ctx));
    this.tokenizer = createTokenizer(tokenizerSpec);
  }

  /** Builds a model from a config, tokenizer and tensor records (streamed: each is uploaded, then dropped). */
  static async fromRecords(
    config: ModelConfig,
    tokenizer: TokenizerSpec | null | undefined,
    records: AsyncIterable<TensorRecord> | Iterable<TensorRecord>,
    backend: Backend,
    opts: ModelOptions = {},
  ): Promise<Model> {
    validateConfig(config, 'model');
    if (!tokenizer) throw new FormatError('model has no tokenizer (a llama2.c checkpoint needs --tokenizer tokenizer.bin)');
    const shapes = tensorShapes(config);
    const byName = new Map<string, Weight>();
    for await (const rec of records) {
      const want = shapes.get(rec.name);
      if (!want) continue;
      if (want.join('x') !== rec.shape.join('x')) {
        throw new FormatError(`tensor ${rec.name} has shape [${rec.shape}] but the config implies [${want}]`);
      }
      byName.set(rec.name, backend.upload(rec));
    }
    const get = (name: string): Weight => {
      const w = byName.get(name);
      if (!w) throw new FormatError(`tensor ${name} is missing`);
      return w;
    };
    const weights = assembleWeights(config, get);
    return new Model(config, tokenizer, backend, weights, opts);
  }

  /** Releases the backend's resources (the WASM backend's worker threads); the model cannot run afterwards. */
  async close(): Promise<void> {
    await (this.backend as { close?: () => Promise<void> }).close?.();
  }

  get ctx(): number {
    return this.state.ctx;
  }

  /**
   * Runs tokens at positions pos.. (any count, in batches) and returns the logits of the
   * positions from `logitsFrom` on, as [tokens.length - logitsFrom, vocab].
   */
  forward(tokens: number[], pos: number, logitsFrom = tokens.length - 1): Float32Array {
    if (pos + tokens.length > this.ctx) throw new UsageError(`${pos + tokens.length} tokens do not fit the context of ${this.ctx}`);
    const V = this.config.vocabSize;
    const out = new Float32Array((tokens.length - logitsFrom) * V);
    const B = this.state.batch;
    for (let i = 0; i < tokens.length; i += B) {
      const chunk = tokens.slice(i, i + B);
      const from = Math.max(logitsFrom - i, 0);
      if (from >= chunk.length) {
        forward(this.backend, this.config, this.weights, this.state, chunk, pos + i, chunk.length - 1);
        continue;
      }
      out.set(forward(this.backend, this.config, this.weights, this.state, chunk, pos + i, from), (i + from - logitsFrom) * V);
    }
    return out;
  }

  /** Generates text after `prompt`, yielding it piece by piece as tokens are produced. */
  async *generate(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<string> {
    const sampler = new Sampler(opts);
    const tokens = this.tokenizer.encode(prompt);
    if (tokens.length === 0) throw new UsageError('the prompt is empty and the tokenizer has no BOS token');
    if (tokens.length >= this.ctx) throw new UsageError(`the prompt is ${tokens.length} tokens; the context holds ${this.ctx}`);
    const maxTokens = opts.maxTokens ?? 256;
    const decoder = this.tokenizer.streamDecoder();
    for (const t of tokens) decoder.push(t); // the prompt's own text is not echoed
    const t0 = performance.now();
    let logits = this.forward(tokens, 0);
    const t1 = performance.now();
    let pos = tokens.length;
    let generated = 0;
    while (generated < maxTokens && pos < this.ctx) {
      const next = sampler.sample(logits);
      if (next === this.tokenizer.eos) break;
      generated++;
      opts.onToken?.(next);
      const piece = decoder.push(next);
      if (piece) yield piece;
      if (pos + 1 >= this.ctx || generated >= maxTokens) break;
      logits = this.forward([next], pos);
      pos++;
    }
    const tail = decoder.flush();
    if (tail) yield tail;
    this.lastStats = { promptTokens: tokens.length, promptMs: t1 - t0, generatedTokens: generated, generateMs: performance.now() - t1 };
  }

  /** Sliding-window perplexity of a text (see src/generate/perplexity.ts). */
  perplexity(text: string, opts: PerplexityOptions = {}): PerplexityResult {
    let ids = this.tokenizer.encode(text);
    if (opts.maxTokens !== undefined) ids = ids.slice(0, opts.maxTokens + 1);
    return this.perplexityOfIds(ids, opts);
  }

  /** The same over token ids: ids[0] (normally BOS) is context only, every later id is scored once. */
  perplexityOfIds(ids: number[], opts: PerplexityOptions = {}): PerplexityResult {
    const ctx = opts.ctx ?? Math.min(256, this.ctx);
    const stride = opts.stride ?? Math.max(1, ctx >> 1);
    if (ctx > this.ctx) throw new UsageError(`--ctx ${ctx} is larger than the model's context ${this.ctx}`);
    if (ids.length < 2) throw new UsageError('the text has fewer than two tokens');
    const V = this.config.vocabSize;
    let nll = 0;
    let count = 0;
    const wins = windows(ids.length, ctx, stride);
    wins.forEach((w, k) => {
      // logits at window position j predict token start + j + 1
      const logits = this.forward(ids.slice(w.start, w.end), 0, w.from - 1 - w.start);
      for (let t = w.from; t < w.end; t++) {
        nll += nllOf(logits.subarray((t - w.from) * V, (t - w.from + 1) * V), ids[t]);
        count++;
      }
      opts.onProgress?.(k + 1, wins.length);
    });
    return { perplexity: Math.exp(nll / count), nll: nll / count, tokens: count };
  }
}
