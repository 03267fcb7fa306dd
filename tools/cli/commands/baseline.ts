// `sqz baseline`: RTN, GPTQ or AWQ into a .sqz (docs/BASELINES.md), a thin layer over quantizeBaseline.
import { UsageError } from '../../../src/util/errors.ts';
import { type BaselineMethod, BASELINE_METHODS, quantizeBaseline } from '../../baselines/index.ts';
import { type Command, num, onePositional, required, str } from '../command.ts';
import { runStep } from './shared.ts';

export const baseline: Command = {
  name: 'baseline',
  summary: 'quantize with a baseline method: RTN, GPTQ or AWQ (docs/BASELINES.md)',
  usage: `sqz baseline <checkpoint> --method rtn|gptq|awq --bits 3|4|8 -o out.sqz [options]
      --method M           rtn (no calibration), gptq or awq (both need --calib)
      --bits 3|4|8         bits per weight value (the linear layers' default)
      --layer-bits SPEC    per-tensor precision, e.g. "embed=f16,layers.0=8,layers.*.mlp=3"
                           (f32, f16 or 3|4|8; last match wins; docs/TOOLCHAIN.md)
      --group N            columns per group, 0 = one group per row (default 128)
      --sym                symmetric quantization (default asymmetric)
      --calib FILE         calibration text (gptq, awq)
      --samples N          calibration sequences (default 100)
      --seq-len L          tokens per calibration sequence (default 256)
      --act-order          gptq: columns by descending Hessian diagonal
      --static-groups      gptq: group parameters from the original weights up front
      --damp D             gptq: diagonal damping, share of mean(diag H) (default 0.01)
      --tokenizer FILE     tokenizer.bin for a llama2.c checkpoint
  -o, --output FILE        the .sqz to write
      --seed S             recorded in the header (nothing here is random)
  -v, --verbose            print time and peak memory`,
  options: {
    method: { type: 'string' },
    bits: { type: 'string' },
    group: { type: 'string' },
    sym: { type: 'boolean' },
    'layer-bits': { type: 'string' },
    calib: { type: 'string' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    'act-order': { type: 'boolean' },
    'static-groups': { type: 'boolean' },
    damp: { type: 'string' },
    tokenizer: { type: 'string' },
    output: { type: 'string', short: 'o' },
    seed: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  },
  aliases: { wbits: 'bits', groupsize: 'group', 'group-size': 'group', layer_bits: 'layer-bits' },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const method = required(p, this, 'method', 'rtn|gptq|awq') as BaselineMethod;
    if (!BASELINE_METHODS.includes(method)) throw new UsageError(`--method must be rtn, gptq or awq, got '${method}'`);
    const bits = num(p, 'bits', { int: true });
    if (bits !== 3 && bits !== 4 && bits !== 8) throw new UsageError(`--bits must be 3, 4 or 8, got ${bits ?? 'nothing'}`);
    const calib = str(p, 'calib');
    if (method !== 'rtn' && !calib) throw new UsageError(`sqz baseline --method ${method} needs --calib FILE (calibration text)`);
    if (method === 'rtn' && calib) throw new UsageError('rtn uses no calibration; drop --calib');
    if (method !== 'gptq') {
      for (const o of ['act-order', 'static-groups', 'damp']) if (p.values[o] !== undefined) throw new UsageError(`--${o} applies to gptq only`);
    }
    const out = required(p, this, 'output', 'FILE');
    const r = await runStep(p, method, (onProgress) =>
      quantizeBaseline(source, out, {
        method,
        bits,
        groupSize: num(p, 'group', { int: true, min: 0 }) ?? 128,
        sym: Boolean(p.values.sym),
        layerBits: str(p, 'layer-bits'),
        calib,
        samples: num(p, 'samples', { int: true, min: 1 }),
        seqLen: num(p, 'seq-len', { int: true, min: 2 }),
        actOrder: Boolean(p.values['act-order']),
        staticGroups: Boolean(p.values['static-groups']),
        damp: num(p, 'damp', { min: 0 }),
        tokenizer: str(p, 'tokenizer'),
        seed: num(p, 'seed', { int: true }),
        onProgress,
      }),
    );
    for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
    console.log(`wrote ${out}: ${(r.bytes / 1024).toFixed(1)} KiB, ${r.avgBits.toFixed(3)} bits per quantized weight (${r.seconds.toFixed(1)} s)`);
  },
};
