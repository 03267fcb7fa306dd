// The baselines' table for docs/BASELINES.md: a checkpoint quantized by RTN, GPTQ (with and without
// act-order) and AWQ at 3 and 4 bits, per group of 32 and per row, each file's perplexity on a text.
//
//   node --import tsx tools/baselines/results.ts CHECKPOINT [--tokenizer FILE] --calib FILE --text FILE
//        [--samples 100] [--seq-len 256] [--ctx 256] [--stride 128] [--max-tokens N]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../../src/index.ts';
import { convertCheckpoint } from '../convert.ts';
import { readTextFile } from '../text.ts';
import { type BaselineOptions, quantizeBaseline } from './index.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokenizer: { type: 'string' },
    calib: { type: 'string' },
    text: { type: 'string' },
    samples: { type: 'string', default: '100' },
    'seq-len': { type: 'string', default: '256' },
    ctx: { type: 'string', default: '256' },
    stride: { type: 'string', default: '128' },
    'max-tokens': { type: 'string' },
  },
});
const source = positionals[0];
if (!source || !values.calib || !values.text) {
  console.error('usage: results.ts CHECKPOINT [--tokenizer FILE] --calib FILE --text FILE [--samples N] [--seq-len L] [--ctx C] [--stride S] [--max-tokens N]');
  process.exit(2);
}
const text = await readTextFile(values.text);
const pplOpts = { ctx: Number(values.ctx), stride: Number(values.stride), maxTokens: values['max-tokens'] ? Number(values['max-tokens']) : undefined };
const cal = { calib: values.calib, samples: Number(values.samples), seqLen: Number(values['seq-len']), tokenizer: values.tokenizer };
const tmp = mkdtempSync(join(tmpdir(), 'sqz-baseline-results-'));

async function ppl(path: string): Promise<{ ppl: number; tokens: number; seconds: number }> {
  const t0 = performance.now();
  const m = await loadModel(path);
  const r = m.perplexity(text, pplOpts);
  await m.close();
  return { ppl: r.perplexity, tokens: r.tokens, seconds: (performance.now() - t0) / 1000 };
}

try {
  const f32 = join(tmp, 'f32.sqz');
  await convertCheckpoint(source, f32, { tokenizer: values.tokenizer });
  const base = await ppl(f32);
  console.log(`${source}: ${base.tokens} tokens scored, ctx ${pplOpts.ctx} stride ${pplOpts.stride}; calibration ${cal.samples} x ${cal.seqLen} tokens`);
  console.log('');
  console.log('| method | bits | group | bits/weight (quantized layers) | file KiB | perplexity | vs f32 | quantize | ppl time |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(`| f32 | 32 | — | 32 | ${(statSync(f32).size / 1024).toFixed(1)} | ${base.ppl.toFixed(4)} | — | — | ${base.seconds.toFixed(1)} s |`);
  const methods: [string, Partial<BaselineOptions>][] = [
    ['RTN', { method: 'rtn' }],
    ['GPTQ', { method: 'gptq', ...cal }],
    ['GPTQ act-order', { method: 'gptq', actOrder: true, ...cal }],
    ['AWQ', { method: 'awq', ...cal }],
  ];
  for (const bits of [4, 3] as const) {
    for (const groupSize of [32, 0]) {
      for (const [label, o] of methods) {
        const out = join(tmp, 'q.sqz');
        const res = await quantizeBaseline(source, out, { bits, groupSize, tokenizer: values.tokenizer, ...o } as BaselineOptions);
        const p = await ppl(out);
        console.log(
          `| ${label} | ${bits} | ${groupSize || 'row'} | ${res.avgBits.toFixed(2)} | ${(statSync(out).size / 1024).toFixed(1)} | ${p.ppl.toFixed(4)} | ${(p.ppl / base.ppl).toFixed(3)} | ${res.seconds.toFixed(1)} s | ${p.seconds.toFixed(1)} s |`,
        );
      }
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
