import { convertCheckpoint, parseDtype } from '../../convert.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { type Command, onePositional, str } from '../command.ts';
import { progressBar } from '../progress.ts';

export const convert: Command = {
  name: 'convert',
  summary: 'convert a checkpoint (llama2.c .bin, Hugging Face folder, GGUF) to a dense .sqz',
  usage: `sqz convert <checkpoint> -o model.sqz [options]
  -o, --output FILE     the .sqz to write (written to a temp file, renamed into place)
      --dtype f32|f16   storage of the matrices (default f32; norms stay f32)
      --tokenizer FILE  tokenizer.bin for a llama2.c checkpoint (a Hugging Face folder carries tokenizer.json)`,
  options: {
    output: { type: 'string', short: 'o' },
    dtype: { type: 'string' },
    tokenizer: { type: 'string' },
  },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const out = str(p, 'output');
    if (!out) throw new UsageError('sqz convert needs -o model.sqz');
    const bar = progressBar('convert');
    const t0 = performance.now();
    await convertCheckpoint(source, out, { tokenizer: str(p, 'tokenizer'), dtype: parseDtype(str(p, 'dtype')), onTensor: (i, n) => bar.update(i, n) });
    bar.stop();
    console.log(`wrote ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  },
};
