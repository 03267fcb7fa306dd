import { text as readAll } from 'node:stream/consumers';
import type { GenerateOptions, GenerateResult, Model } from '../../../src/index.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { readTextFile } from '../../text.ts';
import { type Command, list, num, onePositional, type Parsed, str } from '../command.ts';
import { fastOptions, modelOptions, openModelOption } from './shared.ts';

export const run: Command = {
  name: 'run',
  summary: 'generate text from a model, streaming it to stdout',
  usage: `sqz run <model.sqz | checkpoint> [options]
  -p, --prompt TEXT          prompt (default "Once upon a time")
  -f, --file FILE            read the prompt from FILE ('-': standard input) instead of --prompt
  -n, --steps N              tokens to generate, >= 0 (default 256; ends earlier at EOS, a stop or the context end)
  -t, --temperature T        0 = greedy (default 1)
  -k, --top-k K              sample from the K most likely tokens (default 0 = all)
      --top-p P              nucleus sampling mass, in (0, 1] (default 0.9; 1 = off)
      --min-p P              drop tokens less than P times as likely as the most likely, in [0, 1) (default 0 = off)
      --repeat-penalty R     penalise tokens seen in the last --repeat-last-n tokens, > 0 (default 1 = off; 1.1 is usual)
      --repeat-last-n N      tokens the penalty looks back over, prompt included (default 64)
      --stop TEXT            end the text before TEXT (give it again for more; the model's EOS text always ends it)
  -s, --seed S               random seed (default: the clock)
      --json                 print one JSON object at the end (text, finish reason, tokens and tokens/s) instead of streaming
      --ctx N                context length (default: the model's, at most 4096)
      --max-memory SIZE      refuse a model whose load needs more (2G, 512M, bytes; wasm: 4 GiB at most)
      --tokenizer FILE       tokenizer for a llama2.c checkpoint (tokenizer.bin)
      --backend NAME         auto (default: cuda if built and a GPU answers, else wasm), wasm, js (the
                             TypeScript reference) or cuda (docs/CUDA.md)
      --threads N            threads for the wasm backend's matrix products (default 1)
      --fast, --exact        LUT products on the int8 fast path (default on the wasm backend, 3 and 4 bits:
                             perplexity within 0.36% (4-bit) / 0.86% (3-bit) of exact on stories3M and tinystories-656k) or exact
      --kv KIND              KV cache: f16 (default), f32, or KIVI-quantized q8, q4, q2 (docs/KVCACHE.md)
      --kv-window N          f16 window of recent positions of q8/q4/q2, a multiple of 32 (default 64)
Streams the prompt and the text to stdout and prints tokens per second (prompt and generation
separately) to stderr. Every option is checked before anything is printed; Ctrl-C stops the
generation, still prints the figures, and exits with status 130 (as a shell reports SIGINT).`,
  options: {
    prompt: { type: 'string', short: 'p' },
    file: { type: 'string', short: 'f' },
    steps: { type: 'string', short: 'n' },
    temperature: { type: 'string', short: 't' },
    'top-k': { type: 'string', short: 'k' },
    'top-p': { type: 'string' },
    'min-p': { type: 'string' },
    'repeat-penalty': { type: 'string' },
    'repeat-last-n': { type: 'string' },
    stop: { type: 'string', multiple: true },
    seed: { type: 'string', short: 's' },
    json: { type: 'boolean' },
    ...modelOptions,
    ...fastOptions,
  },
  async run(p) {
    const source = onePositional(p, this, 'model');
    const opts = generateOptions(p);
    const prompt = await promptOf(p);
    const model = await openModelOption(p, source);
    try {
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      try {
        const r = await generate(model, prompt, { ...opts, signal: ac.signal }, p.values.json !== true);
        report(model, prompt, r, p.values.json === true);
        if (r.aborted) return 130;
      } finally {
        process.off('SIGINT', stop);
      }
    } finally {
      await model.close();
    }
  },
};

/** The sampling and stopping options, each checked (a usage error names the first bad one). */
function generateOptions(p: Parsed): GenerateOptions {
  return {
    maxTokens: num(p, 'steps', { int: true, min: 0 }) ?? 256,
    temperature: num(p, 'temperature', { min: 0 }) ?? 1,
    topK: num(p, 'top-k', { int: true, min: 0 }) ?? 0,
    topP: within(p, 'top-p', (v) => v > 0 && v <= 1, 'in (0, 1]') ?? 0.9,
    minP: within(p, 'min-p', (v) => v >= 0 && v < 1, 'in [0, 1)') ?? 0,
    repetitionPenalty: within(p, 'repeat-penalty', (v) => v > 0, 'greater than 0') ?? 1,
    repetitionWindow: num(p, 'repeat-last-n', { int: true, min: 1 }) ?? 64,
    stop: list(p, 'stop').map((s) => {
      if (s === '') throw new UsageError('--stop needs a non-empty text');
      return s;
    }),
    seed: num(p, 'seed', { int: true }),
  };
}

/** A number option that must pass `ok` (open intervals, which num()'s inclusive bounds cannot say). */
function within(p: Parsed, name: string, ok: (v: number) => boolean, what: string): number | undefined {
  const v = num(p, name);
  if (v !== undefined && !ok(v)) throw new UsageError(`--${name} must be ${what}, got ${v}`);
  return v;
}

async function promptOf(p: Parsed): Promise<string> {
  const file = str(p, 'file');
  if (file === undefined) return str(p, 'prompt') ?? 'Once upon a time';
  if (str(p, 'prompt') !== undefined) throw new UsageError('give the prompt with --prompt or --file, not both');
  const text = file === '-' ? await readAll(process.stdin) : await readTextFile(file);
  if (text === '') throw new UsageError(`the prompt ${file === '-' ? 'on standard input' : `in ${file}`} is empty`);
  return text;
}

/** Runs the generation, streaming the prompt and the pieces to stdout unless quiet; an abort (Ctrl-C) ends it early. */
async function generate(model: Model, prompt: string, opts: GenerateOptions, stream: boolean): Promise<GenerateResult & { aborted?: boolean }> {
  const it = model.generate(prompt, opts); // checks every option before anything is printed
  if (stream) process.stdout.write(prompt);
  let text = '';
  try {
    for (;;) {
      const step = await it.next();
      if (step.done) return step.value;
      text += step.value;
      if (stream) process.stdout.write(step.value);
    }
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
    return { ...model.lastStats!, text, finishReason: 'length', aborted: true };
  } finally {
    if (stream) process.stdout.write('\n');
  }
}

function report(model: Model, prompt: string, r: GenerateResult & { aborted?: boolean }, json: boolean): void {
  const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : null);
  if (json) {
    const out = {
      prompt,
      text: r.text,
      finishReason: r.aborted ? 'aborted' : r.finishReason,
      ...(r.stoppedAt !== undefined && { stoppedAt: r.stoppedAt }),
      promptTokens: r.promptTokens,
      generatedTokens: r.generatedTokens,
      promptMs: r.promptMs,
      generateMs: r.generateMs,
      promptTokensPerSecond: rate(r.promptTokens, r.promptMs),
      generateTokensPerSecond: rate(r.generatedTokens, r.generateMs),
      backend: model.backend.name,
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  process.stderr.write(
    `prompt: ${r.promptTokens} tokens, ${fmt(rate(r.promptTokens, r.promptMs))} tok/s; ` +
      `generation: ${r.generatedTokens} tokens, ${fmt(rate(r.generatedTokens, r.generateMs))} tok/s (${model.backend.name})` +
      `${r.aborted ? ', stopped by Ctrl-C' : r.stoppedAt !== undefined ? `, stopped at ${JSON.stringify(r.stoppedAt)}` : ''}\n`,
  );
}
