import { UsageError } from '../../../src/util/errors.ts';
import { nuqStep } from '../../squeezellm/steps.ts';
import { type Command, bitsOption, num, onePositional, required, str } from '../command.ts';
import { lutTypeOption, runStep, seedOption, stepOptions, stepOptionsHelp, tableLayoutOption, tableOptions, tableOptionsHelp, threadsOption } from './shared.ts';

export const nuq: Command = {
  name: 'nuq',
  summary: 'SqueezeLLM: Fisher-weighted k-means per row into lookup tables, outliers and sensitive values sparse',
  usage: `sqz nuq <weights DIR> --bits 3|4 -o LUTDIR [options]
      --bits 3|4             bits per weight index
      --gradient GDIR        Fisher scores: a layer folder from sqz gradients / sqz chunk --gradients,
                             or a Hugging Face gradient checkpoint; without it the clustering is unweighted
      --outlier-config FILE  outlier_config_o*.json from sqz outliers (outliers go to the sparse part)
      --sensitivity P        also keep the top P% of Fisher scores of each matrix sparse
      --layers a,b           only layers a..b (inclusive)
      --layer-bits SPEC      per-tensor precision, e.g. "layers.0=4,layers.*.mlp=3,head=f16"
                             (f32, f16, 3 or 4; last match wins; docs/TOOLCHAIN.md)
      --lut-type f16|f32     how lookup tables are stored (default f16: half the size)
${tableOptionsHelp}
      --gptq CHECKPOINT      assign the weights by GPTQ's error feedback, with the Hessians of
                             --calib FILE run through CHECKPOINT (what sqz quantize does by default)
      --calib FILE           calibration text for --gptq; --samples N (100), --seq-len L (256),
                             --tokenizer FILE as for sqz gradients
  -o, --output LUTDIR        the lookup-table layer folder to write
${stepOptionsHelp}`,
  options: {
    bits: { type: 'string' },
    gradient: { type: 'string' },
    'outlier-config': { type: 'string' },
    sensitivity: { type: 'string' },
    'layer-bits': { type: 'string' },
    'lut-type': { type: 'string' },
    ...tableOptions,
    gptq: { type: 'string' },
    calib: { type: 'string' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    tokenizer: { type: 'string' },
    layers: { type: 'string' },
    output: { type: 'string', short: 'o' },
    ...stepOptions,
  },
  aliases: { wbits: 'bits', bit: 'bits', layer_bits: 'layer-bits', outlier_config: 'outlier-config', range: 'layers' },
  async run(p) {
    const dir = onePositional(p, this, 'weights folder');
    const out = required(p, this, 'output', 'LUTDIR');
    const checkpoint = str(p, 'gptq');
    const calib = str(p, 'calib');
    if (checkpoint !== undefined && !calib) throw new UsageError('--gptq needs --calib FILE (its Hessians come from the calibration inputs)');
    if (checkpoint === undefined && calib) throw new UsageError('--calib is for --gptq CHECKPOINT (the Fisher scores come from --gradient)');
    const gptq = checkpoint !== undefined && calib ? { checkpoint, calib, samples: num(p, 'samples', { int: true, min: 1 }) ?? 100, seqLen: num(p, 'seq-len', { int: true, min: 2 }) ?? 256, tokenizer: str(p, 'tokenizer') } : undefined;
    const r = await runStep(p, 'nuq', (onProgress) =>
      nuqStep(dir, out, {
        bits: bitsOption(p),
        gradient: str(p, 'gradient'),
        outlierConfig: str(p, 'outlier-config'),
        sensitivity: num(p, 'sensitivity', { min: 0, max: 100 }),
        layerBits: str(p, 'layer-bits'),
        lutType: lutTypeOption(p),
        tables: tableLayoutOption(p),
        gptq,
        layers: layerRange(str(p, 'layers')),
        threads: threadsOption(p),
        seed: seedOption(p),
        onProgress,
      }),
    );
    console.log(`wrote ${out}: ${r.nnz} sparse values (${((100 * r.nnz) / r.numel).toFixed(3)}%: ${r.outliers} outliers, ${r.sensitive} sensitive)`);
  },
};

function layerRange(s: string | undefined): [number, number] | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+),(\d+)$/.exec(s.trim());
  if (!m || Number(m[1]) > Number(m[2])) throw new UsageError(`--layers expects a,b with a <= b (e.g. 0,3), got '${s}'`);
  return [Number(m[1]), Number(m[2])];
}
