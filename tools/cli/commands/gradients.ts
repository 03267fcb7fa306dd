import { gradientsStep } from '../../squeezellm/steps.ts';
import { type Command, num, onePositional, required, str } from '../command.ts';
import { fisherLabelsOption, runStep, seedOption, stepOptions, stepOptionsHelp, threadsOption } from './shared.ts';

export const gradients: Command = {
  name: 'gradients',
  summary: 'Fisher information (sum of squared gradients over calibration sequences), per layer',
  usage: `sqz gradients <checkpoint> --calib FILE -o DIR [options]
      --calib FILE       calibration text (<|endoftext|> lines separate documents)
      --samples N        calibration sequences (default 100)
      --seq-len L        tokens per sequence, BOS first (default 256, at most the model's context)
      --labels text|model  the gradients' next tokens: the text's (default, SqueezeLLM's Fisher) or
                         drawn from the model (its true Fisher: the Hessian of the KL to itself)
  -o, --output DIR       the Fisher layer folder to write
      --tokenizer FILE   tokenizer.bin for a llama2.c checkpoint
${stepOptionsHelp}`,
  options: { calib: { type: 'string' }, labels: { type: 'string' }, samples: { type: 'string' }, 'seq-len': { type: 'string' }, output: { type: 'string', short: 'o' }, tokenizer: { type: 'string' }, ...stepOptions },
  aliases: { nsamples: 'samples', seqlen: 'seq-len' },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const out = required(p, this, 'output', 'DIR');
    const r = await runStep(p, 'gradients', (onProgress) =>
      gradientsStep(source, out, {
        calib: required(p, this, 'calib', 'FILE'),
        samples: num(p, 'samples', { int: true, min: 1 }) ?? 100,
        seqLen: num(p, 'seq-len', { int: true, min: 2 }) ?? 256,
        tokenizer: str(p, 'tokenizer'),
        threads: threadsOption(p),
        labels: fisherLabelsOption(p, 'labels'),
        seed: seedOption(p),
        onProgress,
      }),
    );
    console.log(`wrote Fisher information of ${r.sequences} sequences to ${out} (mean loss ${r.meanLoss.toFixed(4)})`);
  },
};
