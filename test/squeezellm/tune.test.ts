// Fine-tuning of the tables against the f32 model's outputs (tools/squeezellm/tune.ts): on tiny
// synthetic models quantized at 3 bits, the KL to the f32 model (measured by the f64 reference
// forward of test/fisher/_ref.ts, not by the code under test) goes down, the indices stay, the
// stored values are what the file can hold, and the result does not depend on anything but the input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize, type NuqRecord, type NuqSharedRecord, type TensorRecord, validateRecord } from '../../src/format/kinds.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { unpackIndices } from '../../src/format/packing.ts';
import { Rng } from '../../src/util/random.ts';
import { weightsFromRecords } from '../../tools/fisher/backward.ts';
import { quantizeMatrix } from '../../tools/squeezellm/nuq.ts';
import { tuneTables } from '../../tools/squeezellm/tune.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { refKl, refLogits, toF64 } from '../fisher/_ref.ts';
import { rejects } from '../helpers.ts';
import { UsageError } from '../../src/util/errors.ts';

const opts = { dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 24, seed: 5 };

async function quantized(layout: { tableRows: number; rowScale: boolean }) {
  const m = syntheticModel(opts);
  const teacher = weightsFromRecords(m.records);
  const records = new Map<string, TensorRecord>();
  for (const r of m.records) {
    if (!/^layers\.\d+\.(attn|mlp)\./.test(r.name)) continue;
    const [rows, cols] = r.shape;
    // a few outliers, so the sparse values are tuned too
    const q = await quantizeMatrix(r.name, teacher.get(r.name)!, null, rows, cols, { bits: 3, ...layout, outlierThreshold: 0.08 });
    records.set(r.name, q.record);
  }
  const rng = new Rng(1);
  const sequences = Array.from({ length: 6 }, () => Array.from({ length: opts.maxSeqLen }, () => rng.int(opts.vocabSize)));
  return { m, teacher, records, sequences };
}

/** Mean KL over the sequences of the model with `records` in place of the teacher's linear layers, by the f64 reference. */
function klOf(config: ReturnType<typeof syntheticModel>['config'], teacher: Map<string, Float32Array>, records: Map<string, TensorRecord>, sequences: number[][]): number {
  const t64 = toF64(teacher);
  const s64 = toF64(teacher);
  for (const [n, r] of records) s64.set(n, Float64Array.from(dequantize(r)));
  return sequences.reduce((a, ids) => a + refKl(config, s64, ids, refLogits(config, t64, ids)), 0) / sequences.length;
}

for (const layout of [{ tableRows: 0, rowScale: true }, { tableRows: 4, rowScale: false }]) {
  const what = layout.rowScale ? 'one table per matrix with row scales' : 'a table per 4 rows';
  test(`tuning lowers the KL to the f32 model and keeps the indices (${what})`, async () => {
    const { m, teacher, records, sequences } = await quantized(layout);
    const sparse = [...records.values()].filter((r) => (r as NuqRecord).sparse).length;
    assert.ok(sparse > 0, 'some matrices have a sparse part');
    const before = klOf(m.config, teacher, records, sequences);
    const r = await tuneTables(m.config, teacher, records, sequences, { epochs: 15, batch: 3, lr: 0.01 });
    const after = klOf(m.config, teacher, r.records, sequences);
    assert.ok(Math.abs(r.klBefore - before) / before < 1e-4, `KL before ${r.klBefore} vs reference ${before}`);
    assert.ok(Math.abs(r.klAfter - after) / after < 1e-4, `KL after ${r.klAfter} vs reference ${after}`);
    assert.ok(after < 0.9 * before, `KL ${before} -> ${after}`);
    for (const [name, rec] of r.records) {
      const old = records.get(name) as NuqRecord | NuqSharedRecord;
      validateRecord(rec);
      // each weight keeps its entry: per table, old and new indices correspond one to one, and the entries are ascending
      const [rows, cols] = rec.shape;
      const k = 1 << rec.bits;
      const G = rec.kind === 'nuq-shared' ? rec.tableRows : 1;
      const a = unpackIndices(old.indices, rows, cols, rec.bits);
      const b = unpackIndices(rec.indices, rows, cols, rec.bits);
      for (let t = 0; t * G < rows; t++) {
        const map = new Map<number, number>();
        for (let i = t * G * cols; i < Math.min(rows, (t + 1) * G) * cols; i++) {
          if (!map.has(a[i])) map.set(a[i], b[i]);
          assert.is(map.get(a[i]), b[i], `${name}: weight ${i} changed entry`);
        }
        assert.is(new Set(map.values()).size, map.size, `${name}: table ${t}: two entries merged`);
        for (let j = 1; j < k; j++) assert.ok(rec.lut[t * k + j - 1] <= rec.lut[t * k + j], `${name}: table ${t} ascending`);
      }
      assert.equal(rec.sparse?.colIdx, old.sparse?.colIdx, `${name}: sparse positions unchanged`);
      assert.not.equal(rec.lut, old.lut, `${name}: the table moved`);
      for (const v of rec.lut) assert.is(halfToFloat(floatToHalf(v)), v, `${name}: table entries are f16 values`);
      if (rec.kind === 'nuq-shared' && rec.rowScales) for (const v of rec.rowScales) assert.is(halfToFloat(floatToHalf(v)), v, `${name}: row scales are f16 values`);
    }
    const again = await tuneTables(m.config, teacher, records, sequences, { epochs: 15, batch: 3, lr: 0.01 });
    for (const [name, rec] of r.records) assert.equal(again.records.get(name)!.lut, rec.lut, `${name}: deterministic`);
  });
}

test('a step size so large that the KL goes up gives back the records as they were', async () => {
  const { m, teacher, records, sequences } = await quantized({ tableRows: 0, rowScale: true });
  const r = await tuneTables(m.config, teacher, records, sequences, { epochs: 1, batch: 2, lr: 20 });
  assert.is(r.klAfter, r.klBefore);
  for (const [name, rec] of r.records) assert.is(rec, records.get(name), name);
});

test('tuning refuses no steps and non-LUT records', async () => {
  const { m, teacher, records, sequences } = await quantized({ tableRows: 0, rowScale: true });
  await rejects(tuneTables(m.config, teacher, records, sequences, { epochs: 0 }), UsageError, /positive whole number of epochs/);
  const bad = new Map(records);
  bad.set('layers.0.attn.q', { name: 'layers.0.attn.q', kind: 'uniform' } as unknown as TensorRecord);
  await rejects(tuneTables(m.config, teacher, bad, sequences, { epochs: 1 }), UsageError, /only SqueezeLLM's LUT records/);
});

test.run();
