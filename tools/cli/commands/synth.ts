import { basename } from 'node:path';
import { tensorShapes } from '../../../src/model/config.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { readLlama2cTokenizer } from '../../checkpoint/tokenizer.ts';
import { writeSyntheticModel } from '../../synthetic.ts';
import { type Command, num, required, str } from '../command.ts';
import { progressBar } from '../progress.ts';

export const synth: Command = {
  name: 'synth',
  summary: 'write a seeded synthetic Llama as a dense f32 .sqz (benchmark and test models)',
  usage: `sqz synth -o model.sqz [options]
      --dim N           model width (default 768)
      --layers N        transformer blocks (default 12)
      --heads N         attention heads (default 12)
      --kv-heads N      key/value heads (default: --heads)
      --ffn N           feed-forward width (default 2048)
      --vocab N         vocabulary size (default 32000)
      --ctx N           the model's context length (default 2048)
      --tied            tie the output head to the embedding (default: a separate head, as Llama 2)
      --seed S          seed of every weight (default 1): the same options give the same file
      --tokenizer FILE  a llama2.c tokenizer.bin to store (its size must be --vocab), e.g. Llama 2's
                        32000-token one; without it a synthetic byte-level tokenizer is stored
  -o, --output FILE     the .sqz to write (written to a temp file, renamed into place)
The defaults are the 134M-parameter benchmark model of docs/PERFORMANCE.md.`,
  options: {
    dim: { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    'kv-heads': { type: 'string' },
    ffn: { type: 'string' },
    vocab: { type: 'string' },
    ctx: { type: 'string' },
    tied: { type: 'boolean' },
    seed: { type: 'string' },
    tokenizer: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run(p) {
    if (p.positionals.length) throw new UsageError(`sqz synth takes no positional arguments, got '${p.positionals[0]}' (see sqz synth --help)`);
    const out = required(p, this, 'output', 'FILE');
    const count = (name: string, dflt: number) => num(p, name, { int: true, min: 1, max: 1 << 20 }) ?? dflt;
    const nHeads = count('heads', 12);
    const dim = count('dim', 768);
    const vocabSize = count('vocab', 32000);
    if (dim % nHeads || (dim / nHeads) % 2) throw new UsageError(`--dim ${dim} must be an even multiple of --heads ${nHeads} (head size ${dim / nHeads})`);
    const nKvHeads = count('kv-heads', nHeads);
    if (nHeads % nKvHeads) throw new UsageError(`--heads ${nHeads} must be a multiple of --kv-heads ${nKvHeads}`);
    if (vocabSize < 259) throw new UsageError(`--vocab must be at least 259 (specials and the 256 byte tokens), got ${vocabSize}`);
    const tokPath = str(p, 'tokenizer');
    const tokenizer = tokPath === undefined ? undefined : await readLlama2cTokenizer(tokPath, vocabSize);
    const seed = num(p, 'seed', { int: true }) ?? 1;
    const bar = progressBar('synth');
    const t0 = performance.now();
    const config = await writeSyntheticModel(out, {
      dim,
      nLayers: count('layers', 12),
      nHeads,
      nKvHeads,
      hiddenDim: count('ffn', 2048),
      vocabSize,
      maxSeqLen: count('ctx', 2048),
      tiedEmbeddings: p.values.tied === true,
      seed,
      tokenizer,
      onTensor: (i, n) => bar.update(i, n),
    });
    bar.stop();
    const params = [...tensorShapes(config).values()].reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
    console.log(
      `wrote ${out}: ${(params / 1e6).toFixed(1)}M parameters, seed ${seed}, tokenizer ${tokPath ? basename(tokPath) : 'synthetic'} ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  },
};
