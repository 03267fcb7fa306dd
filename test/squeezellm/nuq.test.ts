// The dense-and-sparse split of one matrix, and the runtime running the result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { dequantize, type TensorRecord } from '../../src/format/kinds.ts';
import { unpackIndices } from '../../src/format/packing.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { balancedRowSplit, markTopShare, quantizeMatrix } from '../../tools/squeezellm/nuq.ts';
import { assertClose } from '../helpers.ts';

function heavyTailed(rng: Rng, n: number): Float32Array {
  const w = rng.normals(n, 0.02);
  for (let i = 0; i < n; i += 97) w[i] *= 20; // outliers
  return w;
}

test('markTopShare marks exactly round(p% n) largest scores, ties by position', () => {
  const s = Float32Array.from([5, 1, 5, 3, 5, 0, 2, 4]);
  const mask = new Uint8Array(8);
  assert.is(markTopShare(s, 25, mask), 2);
  assert.equal(Array.from(mask), [1, 0, 1, 0, 0, 0, 0, 0]);
});

for (const bits of [3, 4] as const) {
  test(`${bits}-bit: sparse positions hold outliers and top-Fisher values; dense + sparse gives them back`, async () => {
    const rng = new Rng(bits);
    const rows = 24, cols = 70;
    const w = heavyTailed(rng, rows * cols);
    const fisher = Float32Array.from({ length: rows * cols }, () => rng.next() ** 4);
    const T = 0.2;
    const r = await quantizeMatrix('m', w, fisher, rows, cols, { bits, outlierThreshold: T, sensitivity: 1 });
    const rec = r.record;
    const expectOutliers = w.filter((v) => Math.abs(v) >= T).length;
    assert.is(r.outliers, expectOutliers);
    assert.is(r.sensitive, Math.round(0.01 * rows * cols));
    assert.ok(r.nnz >= expectOutliers && r.nnz <= expectOutliers + r.sensitive);
    const s = rec.sparse!;
    assert.is(s.rowPtr[rows], r.nnz);
    const idx = unpackIndices(rec.indices, rows, cols, bits);
    const k = 1 << bits;
    const full = dequantize(rec);
    for (let row = 0; row < rows; row++) {
      const lut = rec.lut.subarray(row * k, (row + 1) * k);
      let nearZero = 0;
      for (let c = 1; c < k; c++) if (Math.abs(lut[c]) < Math.abs(lut[nearZero])) nearZero = c;
      for (let p = s.rowPtr[row]; p < s.rowPtr[row + 1]; p++) {
        const c = s.colIdx[p];
        if (p > s.rowPtr[row]) assert.ok(c > s.colIdx[p - 1], 'columns ascend');
        assert.is(idx[row * cols + c], nearZero, 'a sparse position points at the centroid nearest zero');
        const orig = w[row * cols + c];
        assert.ok(Math.abs(full[row * cols + c] - orig) <= 2 ** -22 * Math.abs(orig), `dense + sparse = original at (${row}, ${c})`);
      }
      // every outlier is in the sparse part
      for (let c = 0; c < cols; c++) {
        if (Math.abs(w[row * cols + c]) >= T) {
          let found = false;
          for (let p = s.rowPtr[row]; p < s.rowPtr[row + 1]; p++) found ||= s.colIdx[p] === c;
          assert.ok(found, `outlier (${row}, ${c}) is sparse`);
        }
      }
    }
  });
}

test('f16 tables: every value a binary16, each dense weight at its nearest stored centroid, objective within rounding of f32 tables', async () => {
  const rng = new Rng(41);
  const rows = 16, cols = 90;
  const w = heavyTailed(rng, rows * cols);
  const fisher = Float32Array.from({ length: rows * cols }, () => rng.next() ** 2);
  for (const bits of [3, 4] as const) {
    const half = await quantizeMatrix('m', w, fisher, rows, cols, { bits, outlierThreshold: 0.3 });
    const full = await quantizeMatrix('m', w, fisher, rows, cols, { bits, outlierThreshold: 0.3, lutType: 'f32' });
    assert.is(half.record.lutType, 'f16');
    assert.is(full.record.lutType, undefined);
    for (const v of half.record.lut) assert.is(ref.halfToFloat(ref.floatToHalf(v)), v);
    const k = 1 << bits;
    const idx = unpackIndices(half.record.indices, rows, cols, bits);
    const sparse = new Set<number>();
    const s = half.record.sparse!;
    for (let r = 0; r < rows; r++) for (let p = s.rowPtr[r]; p < s.rowPtr[r + 1]; p++) sparse.add(r * cols + s.colIdx[p]);
    for (let i = 0; i < rows * cols; i++) {
      if (sparse.has(i)) continue;
      const lut = half.record.lut.subarray(Math.floor(i / cols) * k, Math.floor(i / cols) * k + k);
      const best = Math.min(...Array.from(lut, (c) => Math.abs(w[i] - c)));
      assert.is(Math.abs(w[i] - lut[idx[i]]), best, `weight ${i} at its nearest centroid`);
    }
    // f32 tables are the optimum; f16 rounding moves centroids by 2^-11 relative at most
    assert.ok(half.objective >= full.objective * (1 - 1e-9), `${half.objective} vs ${full.objective}`);
    assert.ok(half.objective <= full.objective * 1.01, `${half.objective} vs ${full.objective}`);
  }
});

test('Fisher weighting pulls centroids toward high-Fisher values (weighted error lower than unweighted clustering)', async () => {
  const rng = new Rng(11);
  const rows = 16, cols = 128;
  const w = rng.normals(rows * cols);
  const fisher = Float32Array.from({ length: rows * cols }, (_, i) => (i % 7 === 0 ? 100 : 0.01));
  const weighted = await quantizeMatrix('m', w, fisher, rows, cols, { bits: 3 });
  const plain = await quantizeMatrix('m', w, null, rows, cols, { bits: 3 });
  const err = (rec: TensorRecord) => {
    const d = dequantize(rec);
    let s = 0;
    for (let i = 0; i < d.length; i++) s += fisher[i] * (d[i] - w[i]) ** 2;
    return s;
  };
  assert.ok(err(weighted.record) < err(plain.record), `${err(weighted.record)} vs ${err(plain.record)}`);
});

test('the runtime runs a nuq layer like dequantize-then-f32-matvec (both backends, with sparse)', async () => {
  const rng = new Rng(5);
  for (const [rows, cols, bits] of [[33, 70, 4], [64, 172, 3], [7, 31, 4]] as const) {
    const w = heavyTailed(rng, rows * cols);
    const { record } = await quantizeMatrix('m', w, rng.normals(rows * cols).map(Math.abs), rows, cols, { bits, outlierThreshold: 0.1, sensitivity: 0.5 });
    assert.ok(record.sparse && record.sparse.values.length > 0);
    const x = rng.normals(cols);
    const want = new Float32Array(rows);
    ref.matvecF32(want, dequantize(record), x, rows, cols);
    for (const b of [new JsBackend(), await WasmBackend.create()]) {
      const wt = b.upload(record);
      const xv = b.alloc(cols), out = b.alloc(rows);
      b.write(xv, x);
      b.matvec(out, wt, xv);
      assertClose(b.read(out), want, 1e-5, `${b.name} ${rows}x${cols} ${bits}-bit`);
    }
  }
});

test('balancedRowSplit covers all rows with about equal work', async () => {
  const rng = new Rng(9);
  const rows = 100, cols = 64;
  const w = rng.normals(rows * cols);
  for (let i = 0; i < 30 * cols; i++) if (i % 3 === 0) w[i] *= 50; // rows 0..29 carry many outliers
  const { record } = await quantizeMatrix('m', w, null, rows, cols, { bits: 4, outlierThreshold: 5 });
  const split = balancedRowSplit(record, 4);
  assert.is(split[0], 0);
  assert.is(split[4], rows);
  for (let p = 1; p <= 4; p++) assert.ok(split[p] >= split[p - 1]);
  const rp = record.sparse!.rowPtr;
  const work = (a: number, b: number) => (b - a) * (cols / 8) + rp[b] - rp[a];
  const parts = [0, 1, 2, 3].map((p) => work(split[p], split[p + 1]));
  const total = work(0, rows);
  for (const part of parts) assert.ok(Math.abs(part - total / 4) <= total / 4 * 0.35, `parts ${parts}`);
  assert.ok(split[1] < 25, 'the outlier-heavy rows are split finer');
});

test.run();
