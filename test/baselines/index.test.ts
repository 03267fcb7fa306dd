// The model-level driver (tools/baselines/index.ts) on small synthetic models: the file holds
// uniform records for the seven linear layers and f32 for the rest, its header's bits per weight
// adds up, the runtime loads and runs it (wasm and js agree), results are deterministic, GPTQ's
// layers see the quantized earlier layers, and bad input fails cleanly. On the real stories260K
// (when ../shared has it) every method runs and the perplexities are printed, not asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dequantize, payloadBytes, type TensorRecord } from '../../src/format/kinds.ts';
import { LINEAR_LAYERS } from '../../src/model/config.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';
import { UsageError } from '../../src/util/errors.ts';
import { assertClose, sharedFiles, writeCalibrationText } from '../helpers.ts';
import { gptqQuantize, InputStats } from '../../tools/baselines/gptq.ts';
import { type BaselineOptions, quantizeBaseline } from '../../tools/baselines/index.ts';
import { LlamaGrad, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { calibrationSequences } from '../../tools/fisher/fisher.ts';
import { calibrationTokens } from '../../tools/squeezellm/steps.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-baselines-'));
const mha = join(tmp, 'mha.sqz');
const gqa = join(tmp, 'gqa.sqz');
const calib = join(tmp, 'calib.txt');
const base = { dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, vocabSize: 300, maxSeqLen: 64 };

test.before(async () => {
  await writeSyntheticModel(mha, { ...base, nKvHeads: 4, seed: 3 });
  await writeSyntheticModel(gqa, { ...base, nKvHeads: 2, seed: 4 });
  writeCalibrationText(calib, 8, 1, ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'see', 'it', 'big', 'red']);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function read(path: string) {
  const r = await SqzReader.open(path);
  const recs: TensorRecord[] = [];
  for await (const rec of r.records()) recs.push(rec);
  await r.close();
  return { header: r.header, recs };
}

const text = () => readFileSync(calib, 'utf8').replace(/<\|endoftext\|>/g, '').slice(0, 600);
const calibOpts = { calib, samples: 6, seqLen: 48 };

const RUNS: [string, string, BaselineOptions][] = [
  ['rtn', mha, { method: 'rtn', bits: 4, groupSize: 32 }],
  ['gptq', mha, { method: 'gptq', bits: 4, groupSize: 32, ...calibOpts }],
  ['gptq act-order', mha, { method: 'gptq', bits: 4, groupSize: 32, actOrder: true, ...calibOpts }],
  ['awq', mha, { method: 'awq', bits: 4, groupSize: 32, ...calibOpts }],
  ['rtn 3-bit row', gqa, { method: 'rtn', bits: 3 }],
  ['gptq 3-bit row sym', gqa, { method: 'gptq', bits: 3, sym: true, ...calibOpts }],
  ['awq 3-bit g64 (GQA)', gqa, { method: 'awq', bits: 3, groupSize: 64, ...calibOpts }],
  ['gptq 8-bit g128 static', gqa, { method: 'gptq', bits: 8, groupSize: 128, actOrder: true, staticGroups: true, ...calibOpts }],
];

test('each method writes a runnable .sqz: uniform linear layers, f32 elsewhere, bits per weight from the records', async () => {
  for (const [label, src, opts] of RUNS) {
    const out = join(tmp, `${label.replace(/\W+/g, '-')}.sqz`);
    const res = await quantizeBaseline(src, out, opts);
    const { header, recs } = await read(out);
    const uni = recs.filter((r) => r.kind === 'uniform');
    assert.is(uni.length, 7 * base.nLayers, label);
    for (const r of recs) {
      const linear = /^layers\.\d+\.(attn|mlp)\./.test(r.name);
      assert.is(r.kind, linear ? 'uniform' : 'f32', `${label} ${r.name}`);
      if (r.kind === 'uniform') assert.is(r.bits, opts.bits);
    }
    let bytes = 0;
    let weights = 0;
    for (const r of uni) {
      bytes += payloadBytes(r);
      weights += r.shape[0] * r.shape[1];
    }
    assert.ok(Math.abs(res.avgBits - (8 * bytes) / weights) < 1e-12, label);
    assert.is(header.quant.method, opts.method);
    assert.is(header.quant.bits, opts.bits);
    assert.is(header.quant.avgBitsPerWeight, res.avgBits);
    assert.is(header.quant.groupSize, opts.groupSize ?? 'row');
    assert.is(res.sequences, opts.method === 'rtn' ? 0 : 6);
    if (label.includes('GQA')) assert.ok(res.notes.some((n) => /attn\.o not scaled/.test(n)), label);

    const wasm = await loadModel(out);
    const js = await loadModel(out, { backend: 'js' });
    const toks = [1, 40, 50, 60, 70, 80, 90];
    assertClose(wasm.forward(toks, 0, 0), js.forward(toks, 0, 0), 1e-4, `${label}: wasm vs js logits`);
    const ppl = (await wasm.perplexity(text(), { ctx: 48, stride: 24 })).perplexity;
    assert.ok(Number.isFinite(ppl) && ppl > 1, `${label}: perplexity ${ppl}`);
  }
});

test('deterministic: the same command twice gives byte-identical files', async () => {
  for (const opts of [{ method: 'gptq', bits: 4, groupSize: 32, actOrder: true, ...calibOpts }, { method: 'awq', bits: 3, groupSize: 32, ...calibOpts }] as BaselineOptions[]) {
    const a = join(tmp, 'd1.sqz');
    const b = join(tmp, 'd2.sqz');
    await quantizeBaseline(mha, a, opts);
    await quantizeBaseline(mha, b, opts);
    assert.ok(readFileSync(a).equals(readFileSync(b)), opts.method);
  }
});

test('GPTQ is sequential: block 1 is quantized on inputs through the quantized block 0', async () => {
  const out = join(tmp, 'seq.sqz');
  const opts: BaselineOptions = { method: 'gptq', bits: 3, groupSize: 32, actOrder: true, ...calibOpts };
  await quantizeBaseline(mha, out, opts);
  const q = new Map((await read(out)).recs.map((r) => [r.name, r]));
  const { header, recs: floatRecs } = await read(mha);
  const c = header.config;
  const tok = createTokenizer(header.tokenizer!);
  const seqs = calibrationSequences(await calibrationTokens(calib, tok), calibOpts.samples, calibOpts.seqLen, tok.bos!);
  // Hessian of block 1's q/k/v input, with block 0 as given
  const hessian = (block0: 'float' | 'quantized') => {
    const weights = weightsFromRecords(floatRecs);
    if (block0 === 'quantized') for (const l of LINEAR_LAYERS) weights.set(`layers.0.${l}`, dequantize(q.get(`layers.0.${l}`)!));
    const lg = new LlamaGrad(c, weights);
    const st = new InputStats(c.dim);
    for (const s of seqs) {
      const x = lg.linearInputs(s, 1);
      st.add(x.attn, x.T);
    }
    return { h: st.hessian(), w: weights.get('layers.1.attn.q')! };
  };
  const seqQ = hessian('quantized');
  const want = gptqQuantize('layers.1.attn.q', seqQ.w, c.dim, c.dim, seqQ.h, opts).record;
  assert.equal(q.get('layers.1.attn.q'), want);
  const flt = hessian('float');
  assert.not.equal(gptqQuantize('layers.1.attn.q', flt.w, c.dim, c.dim, flt.h, opts).record.values, want.values);
});

test('bad input: no calibration for gptq/awq, bad bits, too short a text', async () => {
  const out = join(tmp, 'bad.sqz');
  const rejects = async (opts: BaselineOptions, re: RegExp) => {
    try {
      await quantizeBaseline(mha, out, opts);
    } catch (e) {
      assert.ok(e instanceof UsageError && re.test(e.message), String(e));
      assert.not.ok(existsSync(out), 'no file is left behind');
      return;
    }
    assert.unreachable(`${JSON.stringify(opts)} did not fail`);
  };
  await rejects({ method: 'gptq', bits: 4 }, /needs calibration text/);
  await rejects({ method: 'rtn', bits: 2 as 3 }, /3, 4 or 8/);
  await rejects({ method: 'xyz' as 'rtn', bits: 4 }, /unknown baseline method/);
  const short = join(tmp, 'short.txt');
  writeFileSync(short, 'the cat');
  await rejects({ method: 'awq', bits: 4, calib: short, seqLen: 48 }, /calibration text has/);
});

test('real model (stories260K): every method runs; perplexities printed for comparison', async () => {
  const found = sharedFiles('models/stories260K.bin', 'models/tok512.bin', 'data/tinystories/tinystories_train_2MiB.txt', 'data/tinystories/tinystories_valid_head.txt');
  if (!found) return;
  const [model, tok, train, valid] = found;
  const evalText = readFileSync(valid, 'utf8').slice(0, 12000);
  const pplOf = async (path: string) => {
    const m = await loadModel(path);
    return m.perplexity(evalText, { ctx: 128, stride: 64 });
  };
  const lines: string[] = [];
  const cal = { calib: train, samples: 8, seqLen: 128, tokenizer: tok };
  for (const bits of [3] as const) {
    for (const [label, o] of [
      ['rtn', { method: 'rtn' }],
      ['gptq', { method: 'gptq', ...cal }],
      ['gptq act-order', { method: 'gptq', actOrder: true, ...cal }],
      ['awq', { method: 'awq', ...cal }],
    ] as [string, Partial<BaselineOptions>][]) {
      const out = join(tmp, `s260-${label.replace(/\W+/g, '-')}-${bits}.sqz`);
      const res = await quantizeBaseline(model, out, { bits, groupSize: 32, tokenizer: tok, ...o } as BaselineOptions);
      const p = await pplOf(out);
      assert.ok(Number.isFinite(p.perplexity) && p.perplexity > 1, `${label} ${bits}-bit: ${p.perplexity}`);
      lines.push(`${bits}-bit g32 ${label.padEnd(15)} ppl ${p.perplexity.toFixed(4)} (${p.tokens} tokens), ${res.avgBits.toFixed(3)} bits/weight, quantized in ${res.seconds.toFixed(2)} s`);
    }
  }
  console.log(`  stories260K, TinyStories valid head (first 12000 characters, ctx 128 stride 64)\n  ${lines.join('\n  ')}`);
});

test.run();
