import { UsageError } from '../../../src/util/errors.ts';
import { readTextFile } from '../../text.ts';
import { type Command, num, onePositional, str } from '../command.ts';
import { progressBar } from '../progress.ts';
import { fastOptions, modelOptions, openModelOption } from './shared.ts';

export const ppl: Command = {
  name: 'ppl',
  summary: 'perplexity of a model over a text file (sliding window, docs/PERPLEXITY.md)',
  usage: `sqz ppl <model.sqz | checkpoint> --text FILE [options]
      --text FILE        the text to score
      --ctx N            window length in tokens (default 256)
      --stride N         window step; each window scores its last N tokens (default ctx/2)
      --max-tokens M     score only the first M tokens of the text
      --max-memory SIZE  refuse a model whose load needs more (2G, 512M, bytes; wasm: 4 GiB at most)
      --tokenizer FILE   tokenizer for a llama2.c checkpoint
      --backend NAME     auto (default: cuda if built and a GPU answers, else wasm), wasm, js or cuda
      --threads N        threads for the wasm backend's matrix products (default 1)
      --fast, --exact    LUT products on the int8 fast path (default on the wasm backend, 3 and 4 bits:
                         perplexity within 0.36% (4-bit) / 0.86% (3-bit) of exact on stories3M and tinystories-656k) or exact
      --kv KIND          KV cache: f16 (default), f32, or KIVI-quantized q8, q4, q2 (docs/KVCACHE.md)
      --kv-window N      f16 window of recent positions of q8/q4/q2, a multiple of 32 (default 64)
      --json             print one JSON object (perplexity, nll, tokens, seconds, tokens/s) instead of the line`,
  options: {
    text: { type: 'string' },
    stride: { type: 'string' },
    'max-tokens': { type: 'string' },
    json: { type: 'boolean' },
    ...modelOptions,
    ...fastOptions,
  },
  async run(p) {
    const source = onePositional(p, this, 'model');
    const textFile = str(p, 'text');
    if (!textFile) throw new UsageError('sqz ppl needs --text FILE');
    const ctx = num(p, 'ctx', { int: true, min: 2 }) ?? 256;
    const stride = num(p, 'stride', { int: true, min: 1 }) ?? ctx >> 1;
    const maxTokens = num(p, 'max-tokens', { int: true, min: 1 });
    const text = await readTextFile(textFile);
    const model = await openModelOption(p, source, ctx);
    const json = p.values.json === true;
    const bar = progressBar('ppl');
    const t0 = performance.now();
    const r = await model.perplexity(text, {
      ctx,
      stride,
      maxTokens,
      onProgress: (d, t) => bar.update(d, t),
    });
    bar.stop();
    await model.close();
    const secs = (performance.now() - t0) / 1000;
    if (json) {
      const out = { perplexity: r.perplexity, nll: r.nll, tokens: r.tokens, ctx, stride, seconds: secs, tokensPerSecond: r.tokens / secs, backend: model.backend.name };
      console.log(JSON.stringify(out));
      return;
    }
    console.log(`perplexity ${r.perplexity.toFixed(4)} over ${r.tokens} tokens (nll ${r.nll.toFixed(4)} nats/token, ${secs.toFixed(1)} s, ${model.backend.name})`);
  },
};
