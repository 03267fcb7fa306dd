import { UsageError } from '../../../src/util/errors.ts';
import { quantize as quantizeModel } from '../../squeezellm/steps.ts';
import { type Command, bitsOption, num, onePositional, required, str } from '../command.ts';
import { fisherLabelsOption, lutTypeOption, runStep, seedOption, stepOptions, stepOptionsHelp, tableLayoutOption, tableOptions, tableOptionsHelp, threadsOption } from './shared.ts';

export const quantize: Command = {
  name: 'quantize',
  summary: 'SqueezeLLM in one go: gradients, chunk, outliers, nuq, pack',
  usage: `sqz quantize <checkpoint> --bits 3|4 --calib FILE -o model.sqz [options]
      --bits 3|4               bits per weight index
      --calib FILE             calibration text for the Fisher information
      --no-fisher              cluster unweighted (no calibration; no sensitive values)
      --samples N              calibration sequences (default 100)
      --seq-len L              tokens per calibration sequence (default 256)
      --fisher-labels text|model  the Fisher information's next tokens: the text's (default) or
                               drawn from the model (the Hessian of the KL to the f32 model)
      --outlier-range R        outliers by the interquartile rule with range R
      --outlier-percent P      or: about P% of each matrix are outliers
      --sensitivity P          top P% of Fisher scores of each matrix kept sparse (e.g. 0.05)
      --layer-bits SPEC        per-tensor precision, e.g. "layers.0=4,layers.*.mlp=3,head=f16"
                               (f32, f16, 3 or 4; last match wins; docs/TOOLCHAIN.md)
      --target-bpw X           3 or 4 bits per linear matrix, chosen by sensitivity (Fisher-weighted
                               error per stored byte) for at most X bits per weight on average
                               (with --bits 3, without --layer-bits)
      --lut-type f16|f32       how lookup tables are stored (default f16: half the size)
${tableOptionsHelp}
      --no-gptq                assign each weight to its nearest table entry, as the paper (default
                               with --calib: GPTQ's error feedback, Hessians of the calibration
                               inputs, layers in order through the model)
      --tune-epochs N          passes of fine-tuning the tables, row scales and sparse values
                               against the f32 model's outputs (KL; Adam over 4 calibration
                               sequences a step; default 2 with --calib, 0: none)
      --tune-lr X              the tuning's step size relative to each parameter's RMS (default 0.003)
      --balance N              record row splits for N workers
      --work-dir DIR           keep the intermediate folders (fisher, weights, lut) here
      --tokenizer FILE         tokenizer.bin for a llama2.c checkpoint
  -o, --output FILE            the .sqz to write
${stepOptionsHelp}`,
  options: {
    bits: { type: 'string' },
    calib: { type: 'string' },
    'no-fisher': { type: 'boolean' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    'fisher-labels': { type: 'string' },
    'outlier-range': { type: 'string' },
    'outlier-percent': { type: 'string' },
    sensitivity: { type: 'string' },
    'layer-bits': { type: 'string' },
    'target-bpw': { type: 'string' },
    'lut-type': { type: 'string' },
    ...tableOptions,
    'no-gptq': { type: 'boolean' },
    'tune-epochs': { type: 'string' },
    'tune-lr': { type: 'string' },
    balance: { type: 'string' },
    'work-dir': { type: 'string' },
    tokenizer: { type: 'string' },
    output: { type: 'string', short: 'o' },
    ...stepOptions,
  },
  aliases: { wbits: 'bits', bit: 'bits', layer_bits: 'layer-bits' },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const out = required(p, this, 'output', 'FILE');
    const noFisher = Boolean(p.values['no-fisher']);
    const calib = str(p, 'calib');
    if (!calib && !noFisher) throw new UsageError('sqz quantize needs --calib FILE (or --no-fisher for unweighted clustering)');
    if (calib && noFisher) throw new UsageError('--calib and --no-fisher contradict each other');
    let step = '';
    const r = await runStep(p, 'quantize', (onProgress) =>
      quantizeModel(source, out, {
        bits: bitsOption(p),
        calib,
        samples: num(p, 'samples', { int: true, min: 1 }),
        seqLen: num(p, 'seq-len', { int: true, min: 2 }),
        fisherLabels: fisherLabelsOption(p, 'fisher-labels'),
        outlierRange: num(p, 'outlier-range', { min: 0 }),
        outlierPercent: num(p, 'outlier-percent', { min: 0, max: 100 }),
        sensitivity: num(p, 'sensitivity', { min: 0, max: 100 }),
        layerBits: str(p, 'layer-bits'),
        targetBpw: num(p, 'target-bpw', { min: 0.5, max: 32 }),
        lutType: lutTypeOption(p),
        tables: tableLayoutOption(p),
        gptq: calib ? !p.values['no-gptq'] : false,
        tuneEpochs: num(p, 'tune-epochs', { int: true, min: 0 }),
        tuneLr: num(p, 'tune-lr', { min: 0 }),
        balance: num(p, 'balance', { int: true, min: 2 }),
        workDir: str(p, 'work-dir'),
        tokenizer: str(p, 'tokenizer'),
        threads: threadsOption(p),
        seed: seedOption(p),
        // the bar names the step and the tensor (or what the step counts)
        onStep: (s) => (step = s),
        onProgress: (done, total, what) => onProgress(done, total, what ? `${step}: ${what}` : step),
      }),
    );
    const steps = Object.entries(r.seconds).map(([s, t]) => `${s} ${t.toFixed(1)} s`).join(', ');
    console.log(`wrote ${out}: ${(r.bytes / 1024).toFixed(1)} KiB, ${r.avgBits.toFixed(3)} bits per quantized weight (${steps})`);
  },
};
