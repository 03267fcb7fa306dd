import { UsageError } from '../../../src/util/errors.ts';
import { openModel } from '../../convert.ts';
import { readTextFile } from '../../text.ts';
import { type Command, num, onePositional, str } from '../command.ts';
import { progressBar } from '../progress.ts';
import { backendOption, fastOption, fastOptions, modelOptions, threadsOption } from './shared.ts';

export const ppl: Command = {
  name: 'ppl',
  summary: 'perplexity of a model over a text file (sliding window, docs/PERPLEXITY.md)',
  usage: `sqz ppl <model.sqz | checkpoint> --text FILE [options]
      --text FILE        the text to score
      --ctx N            window length in tokens (default 256)
      --stride N         window step; each window scores its last N tokens (default ctx/2)
      --max-tokens M     score only the first M tokens of the text
      --tokenizer FILE   tokenizer for a llama2.c checkpoint
      --backend NAME     auto (default: cuda if built and a GPU answers, else wasm), wasm, js or cuda
      --threads N        threads for the wasm backend's matrix products (default 1)
      --fast             int8 fast path for the lookup-table products (wasm; faster, not exact: docs/KERNELS.md)`,
  options: {
    text: { type: 'string' },
    stride: { type: 'string' },
    'max-tokens': { type: 'string' },
    ...modelOptions,
    ...fastOptions,
  },
  async run(p) {
    const source = onePositional(p, this, 'model');
    const textFile = str(p, 'text');
    if (!textFile) throw new UsageError('sqz ppl needs --text FILE');
    const text = await readTextFile(textFile);
    const ctx = num(p, 'ctx', { int: true, min: 2 }) ?? 256;
    const model = await openModel(source, { tokenizer: str(p, 'tokenizer'), backend: backendOption(p), threads: threadsOption(p), fast: fastOption(p), ctx });
    const bar = progressBar('ppl');
    const t0 = performance.now();
    const r = model.perplexity(text, {
      ctx,
      stride: num(p, 'stride', { int: true, min: 1 }) ?? ctx >> 1,
      maxTokens: num(p, 'max-tokens', { int: true, min: 1 }),
      onProgress: (d, t) => bar.update(d, t),
    });
    bar.stop();
    await model.close();
    const secs = (performance.now() - t0) / 1000;
    console.log(`perplexity ${r.perplexity.toFixed(4)} over ${r.tokens} tokens (nll ${r.nll.toFixed(4)} nats/token, ${secs.toFixed(1)} s, ${model.backend.name})`);
  },
};
