// GPTQ-style error feedback on SqueezeLLM's lookup tables (tools/squeezellm/gptq.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize } from '../../src/format/kinds.ts';
import { Rng } from '../../src/util/random.ts';
import { lutSweep } from '../../tools/squeezellm/gptq.ts';
import { quantizeMatrix } from '../../tools/squeezellm/nuq.ts';

/** Calibration inputs with correlated columns: x = z A, z standard normal. */
function correlatedInputs(rng: Rng, n: number, cols: number): Float32Array {
  const a = rng.normals(cols * cols, 1 / Math.sqrt(cols));
  for (let i = 0; i < cols; i++) a[i * cols + i] += 1;
  const x = new Float32Array(n * cols);
  for (let t = 0; t < n; t++) {
    const z = rng.normals(cols);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < cols; i++) s += z[i] * a[i * cols + j];
      x[t * cols + j] = s;
    }
  }
  return x;
}

/** 2/N X^T X, by definition. */
function hessianOf(x: Float32Array, n: number, cols: number): Float64Array {
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < n; t++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] += (2 / n) * x[t * cols + i] * x[t * cols + j];
  return h;
}

/** sum over inputs and rows of ((W - Q) x)^2: the layer's output error. */
function outputError(w: Float32Array, q: Float32Array, x: Float32Array, rows: number, cols: number, n: number): number {
  let e = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let c = 0; c < cols; c++) d += (w[r * cols + c] - q[r * cols + c]) * x[t * cols + c];
      e += d * d;
    }
  }
  return e;
}

test('with a diagonal Hessian no error is propagated: every weight gets its nearest table entry', () => {
  const rng = new Rng(1);
  const rows = 6, cols = 40, k = 8;
  const w = rng.normals(rows * cols);
  const perRow = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) perRow.set(Float32Array.from(rng.normals(k)).sort(), r * k);
  const h = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) h[i * cols + i] = 0.5 + rng.next();
  const { indices } = lutSweep('w', w, rows, cols, h, perRow, k, new Uint8Array(rows * cols));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c];
      const d = (j: number) => Math.abs(v - perRow[r * k + j]);
      let best = 0;
      for (let j = 1; j < k; j++) if (d(j) < d(best)) best = j;
      assert.is(indices[r * cols + c], best, `(${r}, ${c})`);
    }
  }
});

test('on correlated inputs the error feedback lowers the output error against nearest assignment (same tables)', async () => {
  for (const seed of [2, 3, 4, 5]) {
    const rng = new Rng(seed);
    const rows = 16, cols = 48, n = 200;
    const w = rng.normals(rows * cols);
    const x = correlatedInputs(rng, n, cols);
    const h = hessianOf(x, n, cols);
    for (const tables of [{}, { tableRows: 0, rowScale: true }]) {
      const near = await quantizeMatrix('w', w, null, rows, cols, { bits: 3, ...tables });
      const fed = await quantizeMatrix('w', w, null, rows, cols, { bits: 3, ...tables, hessian: h });
      const eNear = outputError(w, dequantize(near.record), x, rows, cols, n);
      const eFed = outputError(w, dequantize(fed.record), x, rows, cols, n);
      assert.ok(eFed < 0.9 * eNear, `seed ${seed} ${JSON.stringify(tables)}: ${eFed} vs nearest ${eNear}`);
    }
  }
});

test('sparse positions stay exact under the error feedback: dense + sparse = the weight the sweep left there', async () => {
  const rng = new Rng(6);
  const rows = 10, cols = 32, n = 100;
  const w = rng.normals(rows * cols, 0.05);
  for (let i = 0; i < w.length; i += 29) w[i] = 2; // outliers
  const x = correlatedInputs(rng, n, cols);
  const h = hessianOf(x, n, cols);
  const r = await quantizeMatrix('w', w, null, rows, cols, { bits: 4, outlierThreshold: 1, hessian: h });
  const rec = r.record;
  assert.ok(rec.sparse && rec.sparse.values.length === r.outliers && r.outliers > 0);
  // the sweep's own record of those weights
  const k = 16;
  const sparse = new Uint8Array(rows * cols);
  for (let i = 0; i < w.length; i++) sparse[i] = Math.abs(w[i]) >= 1 ? 1 : 0;
  const perRow = new Float32Array(rows * k);
  const d = dequantize(rec);
  for (let row = 0; row < rows; row++) for (let j = 0; j < k; j++) perRow[row * k + j] = (rec as { lut: Float32Array }).lut[row * k + j];
  const sw = lutSweep('w', w, rows, cols, h, perRow, k, sparse);
  for (let i = 0; i < w.length; i++) {
    if (sparse[i]) assert.ok(Math.abs(d[i] - sw.updated[i]) <= 1e-6, `sparse ${i}: ${d[i]} vs ${sw.updated[i]}`);
    else assert.is(d[i], perRow[Math.floor(i / cols) * k + sw.indices[i]], `dense ${i}`);
  }
  // and the outliers are close to their original values (the sweep moves them only by the feedback)
  for (let i = 0; i < w.length; i += 29) assert.ok(Math.abs(d[i] - 2) < 0.5, `outlier ${i} = ${d[i]}`);
});

test.run();
