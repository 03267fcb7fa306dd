import { openModel } from '../../convert.ts';
import { type Command, num, onePositional, str } from '../command.ts';
import { backendOption, fastOption, fastOptions, modelOptions, threadsOption } from './shared.ts';

export const run: Command = {
  name: 'run',
  summary: 'generate text from a model, streaming it to stdout',
  usage: `sqz run <model.sqz | checkpoint> [options]
  -p, --prompt TEXT     prompt (default "Once upon a time")
  -n, --steps N         tokens to generate (default 256; stops earlier at EOS or the context end)
  -t, --temperature T   0 = greedy (default 1)
  -k, --top-k K         sample from the K most likely tokens (default 0 = all)
      --top-p P         nucleus sampling mass (default 0.9)
  -s, --seed S          random seed (default: the clock)
      --ctx N           context length (default: the model's)
      --tokenizer FILE  tokenizer for a llama2.c checkpoint (tokenizer.bin)
      --backend NAME    auto (default: cuda if built and a GPU answers, else wasm), wasm, js (the
                        TypeScript reference) or cuda (docs/CUDA.md)
      --threads N       threads for the wasm backend's matrix products (default 1)
      --fast            int8 fast path for the lookup-table products (wasm; faster, not exact: docs/KERNELS.md)
Prints tokens per second (prompt and generation separately) to stderr.`,
  options: {
    prompt: { type: 'string', short: 'p' },
    steps: { type: 'string', short: 'n' },
    temperature: { type: 'string', short: 't' },
    'top-k': { type: 'string', short: 'k' },
    'top-p': { type: 'string' },
    seed: { type: 'string', short: 's' },
    ...modelOptions,
    ...fastOptions,
  },
  async run(p) {
    const model = await openModel(onePositional(p, this, 'model'), {
      tokenizer: str(p, 'tokenizer'),
      backend: backendOption(p),
      threads: threadsOption(p),
      fast: fastOption(p),
      ctx: num(p, 'ctx', { int: true, min: 2 }),
    });
    const prompt = str(p, 'prompt') ?? 'Once upon a time';
    process.stdout.write(prompt);
    for await (const piece of model.generate(prompt, {
      maxTokens: num(p, 'steps', { int: true, min: 0 }) ?? 256,
      temperature: num(p, 'temperature', { min: 0 }) ?? 1,
      topK: num(p, 'top-k', { int: true, min: 0 }) ?? 0,
      topP: num(p, 'top-p', { min: 0, max: 1 }) ?? 0.9,
      seed: num(p, 'seed', { int: true }),
    })) {
      process.stdout.write(piece);
    }
    process.stdout.write('\n');
    const s = model.lastStats!;
    const rate = (n: number, ms: number) => (ms > 0 ? ((n * 1000) / ms).toFixed(1) : '-');
    process.stderr.write(
      `prompt: ${s.promptTokens} tokens, ${rate(s.promptTokens, s.promptMs)} tok/s; ` +
        `generation: ${s.generatedTokens} tokens, ${rate(s.generatedTokens, s.generateMs)} tok/s (${model.backend.name})\n`,
    );
    await model.close();
  },
};
