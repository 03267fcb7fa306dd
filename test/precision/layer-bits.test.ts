// Mixed precision (tools/precision.ts): the spec's syntax and matching, then every method on a
// small synthetic model with a separate head: each matrix is stored as the spec says (checked
// against an expectation written out here by hand), the header records the spec, bits per weight
// counts exactly the named matrices, the file runs, and a spec keeping every matrix f32 gives the
// float model's logits exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dequantize, numel, payloadBytes, type TensorRecord } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { UsageError } from '../../src/util/errors.ts';
import { quantizeBaseline } from '../../tools/baselines/index.ts';
import { plan as evalPlan } from '../../tools/eval/index.ts';
import { matrixNames, parseLayerBits, patternMatches, planPrecision } from '../../tools/precision.ts';
import { quantize } from '../../tools/squeezellm/steps.ts';
import { syntheticModel, writeSyntheticModel } from '../../tools/synthetic.ts';
import { writeCalibrationText } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-layer-bits-'));
const model = join(tmp, 'model.sqz');
const calib = join(tmp, 'calib.txt');
const shape = { dim: 32, hiddenDim: 80, nLayers: 3, nHeads: 4, nKvHeads: 4, vocabSize: 300, maxSeqLen: 64, tiedEmbeddings: false, seed: 5 };
const config = (over: Partial<ModelConfig> = {}): ModelConfig => ({ ...syntheticModel(shape).config, ...over });

test.before(async () => {
  await writeSyntheticModel(model, shape);
  writeCalibrationText(calib, 6, 2);
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('patterns: a name or a dot-prefix of one, * for one segment', () => {
  const cases: [string, string, boolean][] = [
    ['embed', 'embed', true],
    ['layers.0', 'layers.0.attn.q', true],
    ['layers.0', 'layers.10.attn.q', false],
    ['layers.*.mlp', 'layers.7.mlp.down', true],
    ['layers.*.mlp', 'layers.7.mlp_norm', false],
    ['layers.*.attn.q', 'layers.2.attn.q', true],
    ['layers.*.attn.q', 'layers.2.attn.k', false],
    ['*', 'head', true],
    ['layers.0.attn.q.x', 'layers.0.attn.q', false],
  ];
  for (const [p, n, want] of cases) assert.is(patternMatches(p, n), want, `${p} vs ${n}`);
});

test('parse: entries in order, values lower-cased; bad syntax names the entry', () => {
  assert.equal(parseLayerBits(' embed=F16 , layers.*.mlp=3,'), [
    { pattern: 'embed', value: 'f16' },
    { pattern: 'layers.*.mlp', value: 3 },
  ]);
  assert.throws(() => parseLayerBits('embed'), (e: Error) => e instanceof UsageError && /'embed' is not PATTERN=VALUE/.test(e.message));
  assert.throws(() => parseLayerBits('layers.0=int8'), /f32, f16 or a bit width/);
  assert.throws(() => parseLayerBits('layers..0=4'), /not a tensor name pattern/);
  assert.throws(() => parseLayerBits(' , '), /empty/);
});

test('plan: linear layers at the default, the spec in order (last wins), embed and head only when named', () => {
  const c = config();
  const p = planPrecision(c, 4, 'embed=f16,layers.0=8,layers.*.mlp=3,head=f16', 'rtn', [3, 4, 8]);
  assert.is(p.spec, 'embed=f16,layers.0=8,layers.*.mlp=3,head=f16');
  assert.is(p.of.get('embed'), 'f16');
  assert.is(p.of.get('head'), 'f16');
  assert.is(p.of.get('layers.0.attn.q'), 8);
  assert.is(p.of.get('layers.0.mlp.up'), 3); // layers.*.mlp comes later than layers.0
  assert.is(p.of.get('layers.2.attn.o'), 4);
  assert.is(p.of.get('layers.1.mlp_norm'), undefined);
  assert.is(p.of.size, matrixNames(c).length);
  const q = planPrecision(c, 3, undefined, 'rtn', [3, 4, 8]);
  assert.is(q.spec, null);
  assert.not.ok(q.of.has('embed') || q.of.has('head'));
  assert.is(q.of.size, 7 * c.nLayers);
});

test('plan: unknown tensors, refused widths, and a tied head', () => {
  const c = config();
  assert.throws(() => planPrecision(c, 4, 'layers.3=8', 'rtn', [3, 4, 8]), /'layers.3' matches no matrix.*layers\.0\.\.2/);
  assert.throws(() => planPrecision(c, 4, 'layers.0.attn_norm=8', 'rtn', [3, 4, 8]), /matches no matrix.*norms stay f32/);
  assert.throws(() => planPrecision(c, 4, 'layers.0=8', 'squeezellm', [3, 4]), /squeezellm takes 3, 4 bits/);
  const tied = config({ tiedEmbeddings: true });
  assert.is(planPrecision(tied, 4, 'head=f16', 'rtn', [3, 4, 8]).of.get('embed'), 'f16');
  assert.not.ok(planPrecision(tied, 4, 'head=f16', 'rtn', [3, 4, 8]).of.has('head'));
  assert.throws(() => planPrecision(tied, 4, 'embed=f16,head=8', 'rtn', [3, 4, 8]), /one matrix: embed=f16 and head=8 disagree/);
  assert.is(planPrecision(tied, 4, 'embed=f16,head=f16', 'rtn', [3, 4, 8]).of.get('embed'), 'f16');
});

test('eval: a width one of the chosen methods refuses fails before any work', () => {
  const base = { calib, text: calib, outDir: join(tmp, 'eval') };
  assert.throws(() => evalPlan({ ...base, methods: ['rtn', 'squeezellm'], layerBits: 'layers.0=8' }), /layers\.0=8: squeezellm takes 3 or 4 bits/);
  assert.not.throws(() => evalPlan({ ...base, methods: ['rtn'], layerBits: 'layers.0=8' }));
});

async function read(path: string) {
  const r = await SqzReader.open(path);
  const recs = new Map<string, TensorRecord>();
  for await (const rec of r.records()) recs.set(rec.name, rec);
  await r.close();
  return { quant: r.header.quant, recs };
}

/** What the spec below asks for, spelled out per tensor: [kind, bits] or undefined (f32, uncounted). */
function expected(name: string, dflt: number, wide: number): [string, number | null] | undefined {
  if (name === 'norm' || name.endsWith('_norm')) return undefined;
  if (name === 'embed' || name === 'head') return name === 'embed' ? ['f16', null] : [wide === 8 ? 'uniform' : 'nuq-shared', wide];
  if (name === 'layers.1.attn.o') return ['f32', null];
  if (/^layers\.\d+\.mlp\./.test(name)) return ['q', 3];
  if (name.startsWith('layers.0.')) return ['q', wide];
  if (/^layers\.\d+\.attn\./.test(name)) return ['q', dflt];
  return undefined;
}

const METHODS = [
  { method: 'rtn', wide: 8, run: (out: string, spec: string) => quantizeBaseline(model, out, { method: 'rtn', bits: 4, groupSize: 16, layerBits: spec }) },
  { method: 'gptq', wide: 8, run: (out: string, spec: string) => quantizeBaseline(model, out, { method: 'gptq', bits: 4, groupSize: 16, calib, samples: 4, seqLen: 32, layerBits: spec }) },
  { method: 'awq', wide: 8, run: (out: string, spec: string) => quantizeBaseline(model, out, { method: 'awq', bits: 4, groupSize: 16, calib, samples: 4, seqLen: 32, grid: 4, layerBits: spec }) },
  { method: 'squeezellm', wide: 4, run: (out: string, spec: string) => quantize(model, out, { bits: 3, calib, samples: 4, seqLen: 32, outlierPercent: 0.5, sensitivity: 0.1, layerBits: spec }) },
];

for (const m of METHODS) {
  test(`${m.method}: every matrix stored as the spec says, the header records it, bits per weight counts the named matrices`, async () => {
    const dflt = m.method === 'squeezellm' ? 3 : 4;
    const spec = `embed=f16,layers.0=${m.wide},layers.*.mlp=3,head=${m.wide},layers.1.attn.o=f32`;
    const out = join(tmp, `${m.method}.sqz`);
    const r = await m.run(out, spec);
    const { quant, recs } = await read(out);
    assert.is(quant.layerBits, spec);
    const src = await read(model);
    let bytes = 0;
    let weights = 0;
    for (const [name, rec] of recs) {
      const want = expected(name, dflt, m.wide);
      if (!want) {
        assert.is(rec.kind, 'f32', name);
        continue;
      }
      const [kind, bits] = want;
      const qkind = m.method === 'squeezellm' ? 'nuq-shared' : 'uniform'; // SqueezeLLM's default tables: one per matrix, row scales
      assert.is(rec.kind, kind === 'q' ? qkind : kind, name);
      if (bits !== null) assert.is((rec as { bits: number }).bits, bits, `${name} bits`);
      // float precisions keep the checkpoint's values (f16: to half precision)
      const w = dequantize(src.recs.get(name)!);
      if (rec.kind === 'f32' && m.method !== 'awq') assert.equal(Array.from(dequantize(rec)), Array.from(w), name);
      if (rec.kind === 'f16') {
        const d = dequantize(rec);
        for (let i = 0; i < w.length; i++) assert.ok(Math.abs(d[i] - w[i]) <= 1e-3 * Math.abs(w[i]) + 1e-7, `${name}[${i}]`);
      }
      bytes += payloadBytes(rec.kind === 'nuq' || rec.kind === 'nuq-shared' ? { ...rec, rowSplit: undefined } : rec);
      weights += numel(rec.shape);
    }
    assert.ok(Math.abs(r.avgBits - (8 * bytes) / weights) < 1e-9, `avgBits ${r.avgBits} vs ${(8 * bytes) / weights}`);
    assert.ok(Math.abs(Number(quant.avgBitsPerWeight) - r.avgBits) < 1e-9);
    const mdl = await loadModel(out);
    try {
      const logits = mdl.forward([1, 20, 30], 0);
      assert.ok(logits.every(Number.isFinite));
    } finally {
      await mdl.close();
    }
  });
}

test('mixed precision is deterministic: the same command twice gives byte-identical files (k-means of embed and head included)', async () => {
  for (const m of [METHODS[1], METHODS[3]]) {
    const spec = `embed=${m.wide},layers.*.attn=f16,head=3`;
    const [a, b] = [join(tmp, `${m.method}-d1.sqz`), join(tmp, `${m.method}-d2.sqz`)];
    for (const out of [a, b]) await m.run(out, spec);
    assert.ok(readFileSync(a).equals(readFileSync(b)), m.method);
  }
});

test('a spec keeping every matrix f32 gives the float model\'s logits exactly, for every method', async () => {
  const spec = 'embed=f32,layers=f32,head=f32';
  const ref = await loadModel(model);
  const tokens = [1, 40, 41, 42, 43, 44];
  const want = ref.forward(tokens, 0, 0);
  await ref.close();
  for (const m of METHODS) {
    const out = join(tmp, `${m.method}-f32.sqz`);
    await m.run(out, spec);
    const mdl = await loadModel(out);
    try {
      const got = mdl.forward(tokens, 0, 0);
      // AWQ folds its scales even with nothing to quantize; at alpha 0 they are all 1
      assert.equal(Array.from(got), Array.from(want), m.method);
    } finally {
      await mdl.close();
    }
  }
});

test.run();
