// The SqueezeLLM results table of docs/RESULTS.md for one model: f32, dense-only 4/3-bit,
// dense-and-sparse 4/3-bit (0.05% sensitive + outliers to about 0.45% in all), and 3-bit with
// unweighted clustering; with bits per weight, file size, perplexity and each step's time.
//   node --import tsx scripts/squeezellm-results.ts <checkpoint> [--tokenizer FILE] --calib FILE --text FILE
//        [--samples 100] [--seq-len 256] [--threads N] [--work DIR]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/index.ts';
import { convertCheckpoint } from '../tools/convert.ts';
import { readTextFile } from '../tools/text.ts';
import { chunkStep, gradientsStep, nuqStep, outliersStep, packStep } from '../tools/squeezellm/steps.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokenizer: { type: 'string' },
    calib: { type: 'string' },
    text: { type: 'string' },
    samples: { type: 'string', default: '100' },
    'seq-len': { type: 'string', default: '256' },
    threads: { type: 'string', default: '1' },
    work: { type: 'string' },
  },
});
const source = positionals[0];
if (!source || !values.calib || !values.text) throw new Error('usage: squeezellm-results.ts <checkpoint> --calib FILE --text FILE');
const threads = Number(values.threads);
const work = values.work ?? mkdtempSync(join(tmpdir(), 'sqz-results-'));
const text = await readTextFile(values.text);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

async function ppl(file: string): Promise<[number, number]> {
  const [r, s] = await timed(async () => (await loadModel(file)).perplexity(text, { ctx: 256, stride: 128 }));
  return [r.perplexity, s];
}

const rows: string[] = [];
const f32 = join(work, 'f32.sqz');
await convertCheckpoint(source, f32, { tokenizer: values.tokenizer });
const [f32Ppl, f32PplS] = await ppl(f32);
rows.push(`| f32 | 32 | ${(statSync(f32).size / 1024).toFixed(1)} | ${f32Ppl.toFixed(4)} | — | ppl ${f32PplS.toFixed(1)} s |`);

const g = join(work, 'fisher'), w = join(work, 'weights'), o = join(work, 'outliers');
const [, gradS] = await timed(() => gradientsStep(source, g, { calib: values.calib!, samples: Number(values.samples), seqLen: Number(values['seq-len']), tokenizer: values.tokenizer }));
const [, chunkS] = await timed(() => chunkStep(source, w, { tokenizer: values.tokenizer }));
const [outlierConfig, outS] = await timed(() => outliersStep(w, o, { percent: 0.4 }));
console.error(`gradients ${gradS.toFixed(1)} s, chunk ${chunkS.toFixed(1)} s, outliers ${outS.toFixed(1)} s (${outlierConfig})`);

const variants = [
  { name: 'SqueezeLLM 4-bit, dense only', bits: 4, weighted: true, sparse: false },
  { name: 'SqueezeLLM 3-bit, dense only', bits: 3, weighted: true, sparse: false },
  { name: 'SqueezeLLM 4-bit, 0.05% sensitive + outliers', bits: 4, weighted: true, sparse: true },
  { name: 'SqueezeLLM 3-bit, 0.05% sensitive + outliers', bits: 3, weighted: true, sparse: true },
  { name: '3-bit, unweighted k-means, dense only', bits: 3, weighted: false, sparse: false },
] as const;
for (const v of variants) {
  const lut = join(work, `lut-${v.bits}-${v.weighted}-${v.sparse}`);
  const out = join(work, `q-${v.bits}-${v.weighted}-${v.sparse}.sqz`);
  const [nq, nuqS] = await timed(() =>
    nuqStep(w, lut, { bits: v.bits, gradient: v.weighted ? g : undefined, outlierConfig: v.sparse ? outlierConfig : undefined, sensitivity: v.sparse ? 0.05 : undefined, threads }),
  );
  const [packed, packS] = await timed(() => packStep(source, lut, out, { bits: v.bits, tokenizer: values.tokenizer, includeSparse: v.sparse }));
  const [p, pplS] = await ppl(out);
  const sparse = v.sparse ? ` (${((100 * nq.nnz) / nq.numel).toFixed(2)}% sparse)` : '';
  rows.push(
    `| ${v.name}${sparse} | ${packed.avgBits.toFixed(2)} | ${(packed.bytes / 1024).toFixed(1)} | ${p.toFixed(4)} | ${(p / f32Ppl).toFixed(3)} | nuq ${nuqS.toFixed(1)} s, pack ${packS.toFixed(1)} s, ppl ${pplS.toFixed(1)} s |`,
  );
}
console.log(`steps shared by the rows: gradients ${gradS.toFixed(1)} s (${values.samples} x ${values['seq-len']} tokens), chunk ${chunkS.toFixed(1)} s, outliers ${outS.toFixed(1)} s\n`);
console.log('| model | bits/weight (quantized layers) | file KiB | perplexity | vs f32 | time |');
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) console.log(r);
if (!values.work) rmSync(work, { recursive: true, force: true });
