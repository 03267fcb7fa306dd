import { UsageError } from '../../../src/util/errors.ts';
import { tuneStep } from '../../squeezellm/steps.ts';
import { TUNE_EPOCHS, TUNE_LR } from '../../squeezellm/tune.ts';
import { type Command, num, required, str } from '../command.ts';
import { runStep, stepOptions, stepOptionsHelp } from './shared.ts';

export const tune: Command = {
  name: 'tune',
  summary: "SqueezeLLM: fine-tune a lookup-table folder's tables, row scales and sparse values against the f32 model (KL)",
  usage: `sqz tune <checkpoint> LUTDIR --calib FILE [options]
      --calib FILE       calibration text (the same as for sqz gradients)
      --samples N        calibration sequences (default 100)
      --seq-len L        tokens per sequence, BOS first (default 256, at most the model's context)
      --epochs N         passes over the sequences, 4 per Adam step (default ${TUNE_EPOCHS})
      --lr X             Adam's step relative to each parameter group's RMS (default ${TUNE_LR})
      --tokenizer FILE   tokenizer.bin for a llama2.c checkpoint
LUTDIR (from sqz nuq) is rewritten in place; the indices stay, so sqz pack reads it as before.
${stepOptionsHelp}`,
  options: { calib: { type: 'string' }, samples: { type: 'string' }, 'seq-len': { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' }, tokenizer: { type: 'string' }, ...stepOptions },
  async run(p) {
    if (p.positionals.length !== 2) throw new UsageError(`sqz tune takes a checkpoint and a LUT folder (see sqz tune --help), got ${p.positionals.length} arguments`);
    const [source, lutDir] = p.positionals;
    const r = await runStep(p, 'tune', (onProgress) =>
      tuneStep(source, lutDir, {
        calib: required(p, this, 'calib', 'FILE'),
        samples: num(p, 'samples', { int: true, min: 1 }) ?? 100,
        seqLen: num(p, 'seq-len', { int: true, min: 2 }) ?? 256,
        epochs: num(p, 'epochs', { int: true, min: 1 }) ?? TUNE_EPOCHS,
        lr: num(p, 'lr', { min: 0 }),
        tokenizer: str(p, 'tokenizer'),
        onProgress,
      }),
    );
    console.log(`tuned ${lutDir}: calibration KL ${r.klBefore.toFixed(4)} -> ${r.klAfter.toFixed(4)} nats/token`);
  },
};
