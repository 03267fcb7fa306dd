// `sqz eval`: SqueezeLLM against RTN/GPTQ/AWQ on one checkpoint: a perplexity table and plot
// (docs/EVAL.md). The library (tools/eval/) does the work; this prints and draws the bars.
import { UsageError } from '../../../src/util/errors.ts';
import { DEFAULT_METHODS, EVAL_METHODS, type EvalMethod, isGguf, runEval } from '../../eval/index.ts';
import { pplText } from '../../eval/report.ts';
import { type Command, num, onePositional, type Parsed, required, str } from '../command.ts';
import { type Progress, progressBar } from '../progress.ts';
import { seedOption, threadsOption } from './shared.ts';

function list(p: Parsed, name: string): string[] | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!items.length) throw new UsageError(`--${name} expects a comma-separated list, got '${v}'`);
  return items;
}

function intList(p: Parsed, name: string): number[] | undefined {
  return list(p, name)?.map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`--${name} expects integers >= 0, got '${s}'`);
    return v;
  });
}

function numberList(p: Parsed, name: string): number[] | undefined {
  return list(p, name)?.map((s) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UsageError(`--${name} expects positive numbers, got '${s}'`);
    return v;
  });
}

export const evalCmd: Command = {
  name: 'eval',
  summary: 'SqueezeLLM against RTN/GPTQ/AWQ: perplexity table and plot (docs/EVAL.md)',
  usage: `sqz eval <checkpoint> --calib FILE --text FILE -o OUTDIR [options]
      --calib FILE         calibration text (Fisher information, GPTQ Hessians, AWQ activations)
      --text FILE          text scored for perplexity
      --methods LIST       of ${EVAL_METHODS.join(',')}
                           (default ${DEFAULT_METHODS.join(',')};
                           squeezellm-unweighted, -per-row, -nearest, -paper and gptq-act-order are
                           ablations; squeezellm-mix is a row per --target-bpw; q4_0 .. q6_k are
                           llama.cpp's formats, one row each whatever --bits, by our GGUF encoders)
      --target-bpw LIST    average bits per weight of the squeezellm-mix rows (e.g. 3.5,4)
      --bits LIST          bit widths, of 3,4,8 (default 3,4; SqueezeLLM takes 3 and 4)
      --groups LIST        baseline group sizes, 0 = one group per row (default 0,32)
      --sym                symmetric baselines (default asymmetric)
      --layer-bits SPEC    per-tensor precision for every method, e.g. "embed=f16,layers.0=8"
                           (each row's bits is the default; docs/TOOLCHAIN.md)
      --samples N          calibration sequences (default 100)
      --seq-len L          tokens per calibration sequence (default 256)
      --ctx N              perplexity window (default 256, at most the model's context)
      --stride N           window step (default ctx/2)
      --max-tokens M       score only the first M tokens of the text
      --tokenizer FILE     tokenizer.bin for a llama2.c checkpoint
      --threads N          worker threads (default 1)
      --seed S             seed for SqueezeLLM's clustering (default 0)
      --jobs N             quantizations at once, each in a child process (default 1)
  -o, --output DIR         folder for the .sqz files, results.md, results.svg and results.json`,
  options: {
    calib: { type: 'string' },
    text: { type: 'string' },
    methods: { type: 'string' },
    bits: { type: 'string' },
    groups: { type: 'string' },
    sym: { type: 'boolean' },
    'layer-bits': { type: 'string' },
    'target-bpw': { type: 'string' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    ctx: { type: 'string' },
    stride: { type: 'string' },
    'max-tokens': { type: 'string' },
    tokenizer: { type: 'string' },
    threads: { type: 'string' },
    seed: { type: 'string' },
    jobs: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  aliases: { method: 'methods', group: 'groups' },
  async run(p) {
    const source = onePositional(p, this, 'checkpoint');
    const calib = required(p, this, 'calib', 'FILE');
    const text = required(p, this, 'text', 'FILE');
    const outDir = required(p, this, 'output', 'DIR');
    const methods = list(p, 'methods') as EvalMethod[] | undefined;
    for (const m of methods ?? []) if (!EVAL_METHODS.includes(m)) throw new UsageError(`--methods: unknown method '${m}' (${EVAL_METHODS.join(', ')})`);
    const bits = intList(p, 'bits');
    for (const b of bits ?? []) if (b !== 3 && b !== 4 && b !== 8) throw new UsageError(`--bits: each must be 3, 4 or 8, got ${b}`);
    let bar: Progress | null = null;
    let current = '';
    let last = 0;
    const r = await runEval(
      source,
      {
        calib,
        text,
        outDir,
        methods,
        bits,
        groups: intList(p, 'groups'),
        layerBits: str(p, 'layer-bits'),
        targetBpw: numberList(p, 'target-bpw'),
        sym: Boolean(p.values.sym),
        samples: num(p, 'samples', { int: true, min: 1 }),
        seqLen: num(p, 'seq-len', { int: true, min: 2 }),
        ctx: num(p, 'ctx', { int: true, min: 2 }),
        stride: num(p, 'stride', { int: true, min: 1 }),
        maxTokens: num(p, 'max-tokens', { int: true, min: 1 }),
        tokenizer: str(p, 'tokenizer'),
        threads: threadsOption(p),
        seed: seedOption(p),
        jobs: num(p, 'jobs', { int: true, min: 1, max: 64 }),
      },
      (e) => {
        // a new bar for each row and stage (and each SqueezeLLM step, which counts from 0 again)
        const key = `${e.index}/${e.stage}`;
        if (key !== current || e.done < last) {
          bar?.stop();
          bar = progressBar(`[${e.index + 1}/${e.rows}] ${e.row} ${e.stage}`);
          current = key;
        }
        last = e.done;
        bar!.update(e.done, e.total);
      },
    ).finally(() => (bar as Progress | null)?.stop());
    for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
    const f32 = r.rows[0];
    for (const row of r.rows) {
      const g = row.group === null ? '' : row.group === 0 ? ' row' : ` g${row.group}`;
      const what = row.method === 'f32' || isGguf(row.method) ? row.method : `${row.method} b${row.bits}${g}`;
      console.log(`${what.padEnd(28)} ${row.avgBits.toFixed(3).padStart(7)} bits/weight  ${(row.bytes / 1024).toFixed(1).padStart(9)} KiB  ppl ${pplText(row.perplexity)}${row === f32 ? '' : ` (${((100 * (row.perplexity - f32.perplexity)) / f32.perplexity).toFixed(1)}% vs f32)`}`);
    }
    console.log(`wrote ${outDir}/results.md, results.svg and results.json`);
  },
};
