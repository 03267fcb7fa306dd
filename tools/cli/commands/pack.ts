import { packStep } from '../../squeezellm/steps.ts';
import { type Command, bitsOption, num, onePositional, required, str } from '../command.ts';
import { runStep, seedOption, stepOptions, stepOptionsHelp, threadsOption } from './shared.ts';

export const pack: Command = {
  name: 'pack',
  summary: 'pack a checkpoint and its lookup tables into one .sqz',
  usage: `sqz pack <checkpoint> --bits 3|4 --folder LUTDIR -o model.sqz [options]
      --folder LUTDIR      the lookup-table folder from sqz nuq (its --layer-bits spec, if any,
                           also sets embed and head: --threads and --seed serve their k-means)
      --include-sparse     keep the sparse part (outliers and sensitive values)
      --balance            record a row split per matrix with about equal work per worker
      --parts N            workers the split is for (default 2)
      --tokenizer FILE     tokenizer.bin for a llama2.c checkpoint
  -o, --output FILE        the .sqz to write
${stepOptionsHelp}`,
  options: {
    bits: { type: 'string' },
    folder: { type: 'string' },
    'include-sparse': { type: 'boolean' },
    balance: { type: 'boolean' },
    parts: { type: 'string' },
    tokenizer: { type: 'string' },
    output: { type: 'string', short: 'o' },
    ...stepOptions,
  },
  aliases: { wbits: 'bits', bit: 'bits', include_sparse: 'include-sparse', balanced: 'balance' },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const out = required(p, this, 'output', 'FILE');
    const r = await runStep(p, 'pack', (onProgress) =>
      packStep(source, required(p, this, 'folder', 'LUTDIR'), out, {
        bits: bitsOption(p),
        tokenizer: str(p, 'tokenizer'),
        includeSparse: Boolean(p.values['include-sparse']),
        balance: p.values.balance ? (num(p, 'parts', { int: true, min: 2 }) ?? 2) : undefined,
        threads: threadsOption(p),
        seed: seedOption(p),
        onProgress,
      }),
    );
    console.log(`wrote ${out}: ${(r.bytes / 1024).toFixed(1)} KiB, ${r.avgBits.toFixed(3)} bits per quantized weight`);
  },
};
