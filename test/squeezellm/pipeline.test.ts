// The toolchain end to end on a synthetic model: the steps one by one equal quantize() in one go,
// results are deterministic, the runtime runs them, and bad input fails cleanly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';
import { FormatError, UsageError } from '../../src/util/errors.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { chunkStep, gradientsStep, nuqStep, outliersStep, packStep, quantize, tuneStep } from '../../tools/squeezellm/steps.ts';
import { TUNE_EPOCHS } from '../../tools/squeezellm/tune.ts';
import { f32Tensor, hfConfigJson, HF_LAYER_NAMES, writeSafetensors } from '../checkpoint/writers.ts';
import { writeCalibrationText } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-pipeline-'));
const model = join(tmp, 'model.sqz');
const calib = join(tmp, 'calib.txt');
const opts = { dim: 32, hiddenDim: 80, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 3 };

test.before(async () => {
  await writeSyntheticModel(model, opts);
  writeCalibrationText(calib, 6, 1);
});

async function records(path: string) {
  const r = await SqzReader.open(path);
  const out = [];
  for await (const rec of r.records()) out.push(rec);
  await r.close();
  return out;
}

test('the steps one by one give the same tensors as quantize(); the file runs; bits per weight adds up', async () => {
  const g = join(tmp, 'g'), w = join(tmp, 'w'), o = join(tmp, 'o'), l = join(tmp, 'l');
  await gradientsStep(model, g, { calib, samples: 4, seqLen: 32 });
  await chunkStep(model, w);
  const cfg = await outliersStep(w, o, { percent: 0.4 });
  const realized = Number(/outlier_config_o([\d.]+)\.json$/.exec(cfg)![1]);
  assert.ok(Math.abs(realized - 0.4) < 0.05, `realized ${realized}%`);
  // quantize()'s defaults: GPTQ's assignment with Hessians of the same calibration
  await nuqStep(w, l, { bits: 3, gradient: g, outlierConfig: cfg, sensitivity: 0.05, gptq: { checkpoint: model, calib, samples: 4, seqLen: 32 } });
  // and the tables fine-tuned against the f32 model on it
  const tuned = await tuneStep(model, l, { calib, samples: 4, seqLen: 32, epochs: TUNE_EPOCHS });
  assert.ok(tuned.klAfter <= tuned.klBefore, `KL ${tuned.klBefore} -> ${tuned.klAfter}`);
  const stepwise = join(tmp, 'stepwise.sqz');
  await packStep(model, l, stepwise, { bits: 3, includeSparse: true });

  const oneGo = join(tmp, 'onego.sqz');
  const res = await quantize(model, oneGo, { bits: 3, calib, samples: 4, seqLen: 32, outlierPercent: 0.4, sensitivity: 0.05 });
  const a = await records(stepwise);
  const b = await records(oneGo);
  assert.equal(a.map((r) => r.name), b.map((r) => r.name));
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], a[i].name);

  // bits per weight recounted from the file
  let bytes = 0, weights = 0;
  for (const r of b) {
    if (r.kind !== 'nuq-shared') continue;
    assert.is(r.lutType, 'f16', 'f16 tables by default');
    assert.is(r.tableRows, r.shape[0], 'one table per matrix by default');
    bytes += r.lut.length * 2 + r.rowScales!.length * 2 + r.indices.byteLength + (r.sparse ? r.sparse.rowPtr.byteLength + r.sparse.colIdx.byteLength + r.sparse.values.byteLength : 0);
    weights += r.shape[0] * r.shape[1];
  }
  assert.ok(Math.abs(res.avgBits - (8 * bytes) / weights) < 1e-9);
  assert.is(b.filter((r) => r.kind === 'nuq-shared').length, 7 * opts.nLayers);

  const m = await loadModel(oneGo);
  const ppl = await m.perplexity(readFileSync(calib, 'utf8').slice(0, 400), { ctx: 32, stride: 16 });
  assert.ok(Number.isFinite(ppl.perplexity) && ppl.perplexity > 1);
});

test('quantize is deterministic: the same command twice gives byte-identical files', async () => {
  const a = join(tmp, 'd1.sqz'), b = join(tmp, 'd2.sqz');
  for (const out of [a, b]) await quantize(model, out, { bits: 4, calib, samples: 3, seqLen: 32, outlierRange: 3, sensitivity: 0.05, balance: 2, seed: 7 });
  assert.ok(readFileSync(a).equals(readFileSync(b)));
});

test('--target-bpw: a 3/4-bit mix within the target, between the all-3-bit and all-4-bit files', async () => {
  const avg = async (o: Parameters<typeof quantize>[2], name: string) => {
    const out = join(tmp, name);
    const r = await quantize(model, out, { calib, samples: 3, seqLen: 32, gptq: false, ...o });
    return { avg: r.avgBits, recs: await records(out) };
  };
  const three = await avg({ bits: 3 }, 't3.sqz');
  const four = await avg({ bits: 4 }, 't4.sqz');
  const target = (three.avg + four.avg) / 2;
  const mix = await avg({ bits: 3, targetBpw: target }, 'tmix.sqz');
  assert.ok(mix.avg <= target && mix.avg > three.avg, `${mix.avg} for target ${target} (3-bit ${three.avg}, 4-bit ${four.avg})`);
  const bits = mix.recs.filter((r) => r.kind === 'nuq-shared').map((r) => (r as { bits: number }).bits);
  assert.ok(bits.includes(3) && bits.includes(4), `bits ${bits}`);
  try {
    await quantize(model, join(tmp, 'x.sqz'), { bits: 4, calib, targetBpw: 3.5 });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /--target-bpw chooses 3 or 4 bits per matrix itself/);
  }
});

test('bad input: short calibration text, a LUT folder of another model, a gradient checkpoint lacking tensors', async () => {
  const short = join(tmp, 'short.txt');
  writeFileSync(short, 'the cat');
  const out = join(tmp, 'bad.sqz');
  try {
    await quantize(model, out, { bits: 4, calib: short, samples: 2, seqLen: 32 });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /tokens; one sequence/);
  }
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(tmp).filter((f) => f.startsWith('.sqz-quantize-')), [], 'temporary folders are removed');

  // a LUT folder made from another model
  const other = join(tmp, 'other.sqz');
  await writeSyntheticModel(other, { ...opts, dim: 48, hiddenDim: 96 });
  const ow = join(tmp, 'ow'), ol = join(tmp, 'ol');
  await chunkStep(other, ow);
  await nuqStep(ow, ol, { bits: 4 });
  try {
    await packStep(model, ol, out, { bits: 4 });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, FormatError);
    assert.match((e as Error).message, /different model/);
  }
  assert.not.ok(existsSync(out));

  // an external gradient checkpoint (Hugging Face folder of grad^2) missing one matrix
  const gdir = join(tmp, 'hfgrad');
  mkdirSync(gdir);
  const m = await SqzReader.open(model);
  const c = m.header.config;
  await m.close();
  writeFileSync(join(gdir, 'config.json'), JSON.stringify(hfConfigJson(c)));
  const tensors: Record<string, ReturnType<typeof f32Tensor>> = {};
  for (let i = 0; i < c.nLayers; i++) {
    for (const [ours, hf] of Object.entries(HF_LAYER_NAMES)) {
      if (!ours.includes('.')) continue;
      if (i === 1 && ours === 'mlp.down') continue;
      const shape = ours === 'mlp.down' ? [c.dim, c.hiddenDim] : ours === 'mlp.gate' || ours === 'mlp.up' ? [c.hiddenDim, c.dim] : ours === 'attn.k' || ours === 'attn.v' ? [(c.dim / c.nHeads) * c.nKvHeads, c.dim] : [c.dim, c.dim];
      tensors[`model.layers.${i}.${hf}.weight`] = f32Tensor(shape, new Float32Array(shape[0] * shape[1]).fill(1));
    }
  }
  writeSafetensors(join(gdir, 'model.safetensors'), tensors);
  try {
    await nuqStep(join(tmp, 'w'), join(tmp, 'lx'), { bits: 4, gradient: gdir });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, FormatError);
    assert.match((e as Error).message, /lacks model\.layers\.1\.mlp\.down_proj\.weight/);
  }
  assert.not.ok(existsSync(join(tmp, 'lx', 'manifest.json')), 'no complete LUT folder is left');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
