import { chunkStep } from '../../squeezellm/steps.ts';
import { type Command, onePositional, required, str } from '../command.ts';
import { runStep, stepOptions, stepOptionsHelp } from './shared.ts';

export const chunk: Command = {
  name: 'chunk',
  summary: 'split a checkpoint (or a grad^2 gradient checkpoint) into per-layer files',
  usage: `sqz chunk <checkpoint> -o DIR [--gradients] [options]
  -o, --output DIR       the layer folder to write
      --gradients        the checkpoint holds grad^2 (Fisher) under the weights' names
      --tokenizer FILE   tokenizer.bin for a llama2.c checkpoint
${stepOptionsHelp}`,
  options: { output: { type: 'string', short: 'o' }, gradients: { type: 'boolean' }, tokenizer: { type: 'string' }, ...stepOptions },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const out = required(p, this, 'output', 'DIR');
    await runStep(p, 'chunk', (onProgress) => chunkStep(source, out, { tokenizer: str(p, 'tokenizer'), gradients: Boolean(p.values.gradients), onProgress }));
    console.log(`wrote ${out}`);
  },
};
