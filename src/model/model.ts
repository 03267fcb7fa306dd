// A loaded model: config, tokenizer, weights on a backend, a run state — and the three things
// people do with it: forward, generate, perplexity.
//
// Concurrency: the model has one run state (activations and KV cache in backend memory), so
// generate() and perplexity() take turns through a first-come, first-served queue: overlapping
// calls each get the answer they would get alone, one after another. A generation holds its turn
// from its first next() until it ends, is returned (for-await's break, return(), a throw in the
// loop body) or its AbortSignal fires. An iterator left unread without return() keeps its turn
// and every later call waits: break out of loops, or pass a signal. forward() and
// perplexityOfIds() are the synchronous layer under the queue: they throw while a queued call
// holds the model rather than corrupt it.
import type { Backend, Weight } from '../backend/types.ts';
import type { TensorRecord } from '../format/kinds.ts';
import { withContext } from '../format/sqz.ts';
import { Sampler, type SamplerOptions } from '../generate/sampler.ts';
import { nllOf, windows, type PerplexityOptions, type PerplexityResult } from '../generate/perplexity.ts';
import { assertTokenizerFits, createTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import type { TokenizerSpec } from '../tokenizer/spec.ts';
import { FormatError, MemoryLimitError, NonFiniteError, UsageError } from '../util/errors.ts';
import { TurnQueue } from '../util/queue.ts';
import { nextTick } from '../util/tick.ts';
import { StopMatcher } from '../generate/stop.ts';
import { type BudgetBackend, checkMemory, contextLength, denseListing, type IndexedTensor, memoryLimit, planMemory, WASM_LIMIT } from './budget.ts';
import { checkTensorSet, type ModelConfig, tensorShapes, validateConfig } from './config.ts';
import { KV_GROUP, KV_KINDS, type KvKind } from '../kernels/attention.ts';
import { assembleWeights, forward, RunState, type ModelWeights } from './forward.ts';
import { checkBackendOps, withNormOffset } from './family.ts';

export interface ModelOptions {
  /** Context length to allocate the KV cache for (default: the model's maximum, up to 4096). */
  ctx?: number;
  /** Most tokens one forward pass takes at once (default 64). */
  batch?: number;
  /**
   * How the KV cache holds keys and values (docs/KVCACHE.md): 'f16' (default where the backend has
   * it; perplexity unchanged), 'f32', or KIVI-quantized 'q8' | 'q4' | 'q2' with an f16 window of the
   * recent positions.
   */
  kv?: KvKind;
  /** The quantized kinds' f16 window of recent positions, a multiple of 32 (default 64). */
  kvWindow?: number;
  /**
   * Most bytes the load may place (weights, KV cache, activations), checked from the header before
   * anything is allocated (MemoryLimitError). The WASM backend is held to wasm32's 4 GiB anyway.
   */
  maxMemory?: number;
}

/** What the loader knows about where the records come from, for its checks before they are read. */
export interface RecordsSource {
  /** Names the file (or checkpoint) in error messages. */
  source?: string;
  /** The tensor index: checked against the config, and sized for the memory budget. Default: the dense f32 tensors the config implies (a checkpoint). */
  tensors?: readonly IndexedTensor[];
}

export interface GenerateOptions extends SamplerOptions {
  /** Tokens to generate, an integer >= 0 (default 256); generation also ends at a control token, a stop sequence or the context end. */
  maxTokens?: number;
  /**
   * Stop sequences: generation ends where the text would first contain one, and the text stops
   * just before it (a sequence split across tokens is caught too). The text of the tokenizer's
   * control tokens (EOS and the like) is always a stop as well.
   */
  stop?: string[];
  /**
   * Cancels the generation: iteration then throws the signal's reason (an `AbortError` unless you
   * gave one), and the model is free for the next call at once, even while this iterator sits
   * unread between two pieces.
   */
  signal?: AbortSignal;
  /** Called with each generated token id (before its text is yielded). */
  onToken?: (id: number) => void;
}

export interface GenerateStats {
  /** Tokens of the prompt (as the tokenizer encodes it, BOS included). */
  promptTokens: number;
  /** Milliseconds spent on the prompt (its forward passes). */
  promptMs: number;
  /** Tokens generated. */
  generatedTokens: number;
  /** Milliseconds spent generating them. */
  generateMs: number;
}

/** What a finished generation returns (the async iterator's return value; complete()'s result). */
export interface GenerateResult extends GenerateStats {
  /** The whole generated text (the pieces yielded, joined). */
  text: string;
  /** 'stop': a control token or a stop sequence ended it; 'length': maxTokens or the context end. */
  finishReason: 'stop' | 'length';
  /** The stop sequence (or control token text) that ended it, when one did. */
  stoppedAt?: string;
}

export interface QueuedPerplexityOptions extends PerplexityOptions {
  /** Cancels the call while it waits for its turn (a running perplexity finishes). */
  signal?: AbortSignal;
}

/** A prompt and options checked and tokenized, ready to run. */
interface GenerateJob {
  tokens: number[];
  sampler: Sampler;
  maxTokens: number;
  stops: string[];
  controlIds: Set<number>;
  opts: GenerateOptions;
}

/** The cache kind asked for, checked against what the backend keeps; by default f16 where it can. */
function kvKindFor(backend: Backend, kind: KvKind | undefined): KvKind {
  if (kind === undefined) return backend.kvKinds.includes('f16') ? 'f16' : backend.kvKinds[0];
  if (!KV_KINDS.includes(kind)) throw new UsageError(`kv must be ${KV_KINDS.join(', ')}, got '${kind}'`);
  if (!backend.kvKinds.includes(kind)) throw new UsageError(`backend ${backend.name} keeps a KV cache of ${backend.kvKinds.join(', ')}, not ${kind}`);
  return kind;
}

export class Model {
  readonly state: RunState;
  readonly tokenizer: Tokenizer;
  /** The Jinja chat template the tokenizer came with (tokenizer_config.json's chat_template), if any. */
  readonly chatTemplate: string | undefined;
  /** The figures of the latest generation to end (finished, returned early or aborted). */
  lastStats: GenerateStats | undefined;
  /** The turns of generate() and perplexity() on the one run state. */
  readonly queue = new TurnQueue();

  private constructor(
    readonly config: ModelConfig,
    tokenizerSpec: TokenizerSpec,
    tokenizer: Tokenizer,
    readonly backend: Backend,
    readonly weights: ModelWeights,
    ctx: number,
    batch: number,
    kv: KvKind,
    kvWindow: number | undefined,
  ) {
    this.tokenizer = tokenizer;
    this.state = new RunState(backend, config, ctx, batch, kv, kvWindow);
    const template = tokenizerSpec.kind === 'hf' ? tokenizerSpec.chatTemplate : undefined;
    this.chatTemplate = typeof template === 'string' ? template : undefined;
  }

  /**
   * Builds a model from a config, tokenizer and tensor records (streamed: each is uploaded, then
   * dropped). Before the first record is read: the config's fields, the tensor index against the
   * config (every tensor it needs, none it does not), the tokenizer, and the memory the load needs
   * against the limit; so a file that cannot load fails at once, naming `from.source`.
   */
  static async fromRecords(
    config: ModelConfig,
    tokenizer: TokenizerSpec | null | undefined,
    records: AsyncIterable<TensorRecord> | Iterable<TensorRecord>,
    backend: Backend,
    opts: ModelOptions = {},
    from: RecordsSource = {},
  ): Promise<Model> {
    const source = from.source ?? 'model';
    validateConfig(config, source);
    if (!tokenizer) throw new FormatError(`${source}: the model has no tokenizer (a llama2.c checkpoint needs --tokenizer tokenizer.bin)`);
    const ctx = contextLength(config, opts.ctx);
    checkBackendOps(config, backend, source, ctx);
    const batch = Math.min(opts.batch ?? 64, ctx);
    const kv = kvKindFor(backend, opts.kv);
    const w = opts.kvWindow;
    if (w !== undefined && !(Number.isInteger(w) && w >= KV_GROUP && w % KV_GROUP === 0)) throw new UsageError(`kvWindow must be a positive multiple of ${KV_GROUP}, got ${w}`);
    const tensors = from.tensors ?? denseListing(config);
    if (from.tensors) checkTensorSet(config, from.tensors, source);
    const b = backend as Backend & BudgetBackend;
    checkMemory(planMemory(config, tensors, b, ctx, batch, kv, w), ctx, memoryLimit(b, opts.maxMemory), source);
    const tok = withContext(source, 'header tokenizer', 'the tokenizer', () => createTokenizer(tokenizer));
    assertTokenizerFits(tok.vocabSize, config.vocabSize, source);
    const shapes = tensorShapes(config);
    const byName = new Map<string, Weight>();
    for await (const rec of records) {
      const want = shapes.get(rec.name);
      if (!want) throw new FormatError(`${source}: tensor '${rec.name}' is not one the config (${config.nLayers} layers) uses`);
      if (want.join('x') !== rec.shape.join('x')) throw new FormatError(`${source}: tensor '${rec.name}' has shape [${rec.shape}] but the config implies [${want}]`);
      byName.set(rec.name, placing(source, `tensor '${rec.name}'`, () => backend.upload(withNormOffset(rec, config))));
    }
    const get = (name: string): Weight => {
      const w = byName.get(name);
      if (!w) throw new FormatError(`${source}: tensor '${name}' is missing`);
      return w;
    };
    const weights = assembleWeights(config, get);
    return placing(source, `the KV cache and activations for a context of ${ctx}`, () => new Model(config, tokenizer, tok, backend, weights, ctx, batch, kv, w));
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
   * positions from `logitsFrom` on, as [tokens.length - logitsFrom, vocab]. Synchronous and not
   * queued: it throws UsageError while a generate() or perplexity() call holds the model.
   */
  forward(tokens: number[], pos: number, logitsFrom = tokens.length - 1): Float32Array {
    this.checkIdle();
    return this.run(tokens, pos, logitsFrom);
  }

  /**
   * Generates text after `prompt`, yielding it piece by piece as tokens are produced; the
   * iterator's return value is the GenerateResult. Options are checked here, before anything runs
   * (UsageError); the generation waits for its turn at the first next() (see the top of this file).
   */
  generate(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<string, GenerateResult, undefined> {
    return this.generation(this.prepare(prompt, opts));
  }

  /** The whole generation at once (no streaming): generate() run to its end. */
  async complete(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const it = this.generate(prompt, opts);
    for (;;) {
      const step = await it.next();
      if (step.done) return step.value;
    }
  }

  /** Sliding-window perplexity of a text (see src/generate/perplexity.ts), in its turn on the queue. */
  async perplexity(text: string, opts: QueuedPerplexityOptions = {}): Promise<PerplexityResult> {
    if (typeof text !== 'string') throw new UsageError(`the text to score must be a string, got ${typeof text}`);
    return this.queue.run(() => {
      let ids = this.tokenizer.encode(text);
      if (opts.maxTokens !== undefined) ids = ids.slice(0, opts.maxTokens + 1);
      return this.score(ids, opts);
    }, opts.signal);
  }

  /** The same over token ids, now (not queued; throws while a queued call holds the model): ids[0] (normally BOS) is context only, every later id is scored once. */
  perplexityOfIds(ids: number[], opts: PerplexityOptions = {}): PerplexityResult {
    this.checkIdle();
    return this.score(ids, opts);
  }

  private checkIdle(): void {
    if (this.queue.busy) throw new UsageError('the model is busy with a generate() or perplexity() call; await it (or break out of its loop) first');
  }

  private prepare(prompt: string, opts: GenerateOptions): GenerateJob {
    if (typeof prompt !== 'string') throw new UsageError(`the prompt must be a string, got ${typeof prompt}`);
    const sampler = new Sampler(opts);
    const maxTokens = opts.maxTokens ?? 256;
    if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) throw new UsageError(`maxTokens must be an integer >= 0, got ${maxTokens}`);
    const stop = opts.stop ?? [];
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s === '')) throw new UsageError('stop must be a list of non-empty strings');
    const controls = this.tokenizer.controls;
    const stops = [...stop, ...controls.map((c) => c.text).filter((t) => t !== '')];
    const tokens = this.tokenizer.encode(prompt);
    if (tokens.length === 0) throw new UsageError('the prompt is empty and the tokenizer has no BOS token');
    if (tokens.length >= this.ctx) throw new UsageError(`the prompt is ${tokens.length} tokens; the context holds ${this.ctx}`);
    return { tokens, sampler, maxTokens, stops, controlIds: new Set(controls.map((c) => c.id)), opts };
  }

  private async *generation(job: GenerateJob): AsyncGenerator<string, GenerateResult, undefined> {
    const { signal, onToken } = job.opts;
    const release = await this.queue.acquire(signal);
    // An abort frees the model at once, even while the consumer sits between two pieces; the
    // checks after each yield keep this generation from touching the state again.
    signal?.addEventListener('abort', release, { once: true });
    const { tokens, sampler, maxTokens } = job;
    const t0 = performance.now();
    let t1 = t0;
    let generated = 0;
    const stats = (): GenerateStats => ({ promptTokens: tokens.length, promptMs: t1 - t0, generatedTokens: generated, generateMs: performance.now() - t1 });
    try {
      const history = tokens.slice();
      const decoder = this.tokenizer.streamDecoder();
      for (const t of tokens) decoder.push(t); // the prompt's own text is not echoed
      const stop = new StopMatcher(job.stops);
      let text = '';
      let finishReason: GenerateResult['finishReason'] = 'length';
      let logits = this.run(tokens, 0);
      t1 = performance.now();
      let pos = tokens.length;
      while (generated < maxTokens && pos < this.ctx) {
        const next = sampler.sample(logits, history);
        if (job.controlIds.has(next)) {
          finishReason = 'stop';
          break;
        }
        generated++;
        history.push(next);
        onToken?.(next);
        const piece = stop.push(decoder.push(next));
        if (piece) {
          text += piece;
          yield piece;
          signal?.throwIfAborted();
        }
        if (stop.matched !== undefined) {
          finishReason = 'stop';
          break;
        }
        if (pos + 1 >= this.ctx || generated >= maxTokens) break;
        await nextTick(); // let signals, sockets and other requests in between two tokens
        signal?.throwIfAborted();
        logits = this.run([next], pos);
        pos++;
      }
      if (stop.matched === undefined) {
        const tail = stop.push(decoder.flush()) + stop.flush();
        if (stop.matched !== undefined) finishReason = 'stop';
        if (tail) {
          text += tail;
          yield tail;
          signal?.throwIfAborted();
        }
      }
      return { ...stats(), text, finishReason, ...(stop.matched !== undefined && { stoppedAt: stop.matched }) };
    } finally {
      // also when aborted or returned early: the figures of what did run
      this.lastStats = stats();
      signal?.removeEventListener('abort', release);
      release();
    }
  }

  /** forward() without the idle check, for the queued calls that hold the model. */
  private run(tokens: number[], pos: number, logitsFrom = tokens.length - 1): Float32Array {
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
    checkFinite(out, V, pos + logitsFrom);
    return out;
  }

  private score(ids: number[], opts: PerplexityOptions): PerplexityResult {
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
      const logits = this.run(ids.slice(w.start, w.end), 0, w.from - 1 - w.start);
      for (let t = w.from; t < w.end; t++) {
        nll += nllOf(logits.subarray((t - w.from) * V, (t - w.from + 1) * V), ids[t]);
        count++;
      }
      opts.onProgress?.(k + 1, wins.length);
    });
    const perplexity = Math.exp(nll / count);
    // finite logits can still give an nll too large for exp (logits near f32's limit)
    if (!Number.isFinite(perplexity)) throw new NonFiniteError(`perplexity overflows: the mean negative log-likelihood is ${nll / count} nats per token`);
    return { perplexity, nll: nll / count, tokens: count };
  }
}

/** Runs a placement (a weight, the run state); running out of WASM memory anyway (the budget is an estimate) is the typed error the budget gives. */
function placing<T>(source: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if ((e as Error)?.name !== 'WasmMemoryError') throw e;
    throw new MemoryLimitError(`${source}: ${what}: ${(e as Error).message}`, NaN, WASM_LIMIT);
  }
}

/**
 * Throws NonFiniteError at the first NaN or infinity in logits [n, V] of positions first.. : broken
 * weights or an overflow must not become a sampled token (<unk> after <unk>) or a NaN perplexity.
 * One pass over what the sampler or the scorer reads next anyway.
 */
function checkFinite(logits: Float32Array, V: number, first: number): void {
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    // v - v is 0 for every finite v, NaN for NaN and both infinities
    if (v - v !== 0) throw new NonFiniteError(`the logits at position ${first + Math.floor(i / V)} are not finite (token ${i % V} is ${v}): the model's weights or activations hold a NaN or an infinity`);
  }
}
