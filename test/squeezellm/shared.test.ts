// Tables shared by groups of rows (kind nuq-shared): the format, the runtime, and the fit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { dequantize, type NuqSharedRecord, nuqOfShared, payloadBytes, type TensorRecord } from '../../src/format/kinds.ts';
import { packIndices } from '../../src/format/packing.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { encodeSqz } from '../../src/format/sqz.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { quantizeMatrix } from '../../tools/squeezellm/nuq.ts';
import { fitSharedTables } from '../../tools/squeezellm/shared.ts';
import { assertClose } from '../helpers.ts';

const meta = {
  config: { arch: 'llama', dim: 8, hiddenDim: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 10, maxSeqLen: 8, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true, rope: 'interleaved' },
  tokenizer: null,
  quant: { method: 'test' },
} as const;

const half = (rng: Rng, scale = 1): number => ref.halfToFloat(ref.floatToHalf(rng.normal() * scale));

/** A random nuq-shared record and the unpacked indices it was built from. */
function sharedRecord(rng: Rng, rows: number, cols: number, bits: 3 | 4, tableRows: number, o: Opts = {}): { rec: NuqSharedRecord; idx: Uint8Array } {
  const k = 1 << bits;
  const tables = Math.ceil(rows / tableRows);
  const idx = Uint8Array.from({ length: rows * cols }, () => rng.int(k));
  const rec: NuqSharedRecord = {
    name: 'w',
    kind: 'nuq-shared',
    shape: [rows, cols],
    bits,
    tableRows,
    lut: Float32Array.from({ length: tables * k }, () => (o.f16 ? half(rng) : rng.normal())),
    indices: packIndices(idx, rows, cols, bits),
  };
  if (o.f16) rec.lutType = 'f16';
  if (o.scales) rec.rowScales = Float32Array.from({ length: rows }, () => half(rng, 0.1));
  if (o.sparse) {
    const rowPtr = new Int32Array(rows + 1);
    const colIdx: number[] = [];
    for (let r = 0; r < rows; r++) {
      if (r % 2 === 0) colIdx.push(rng.int(cols));
      rowPtr[r + 1] = colIdx.length;
    }
    rec.sparse = { rowPtr, colIdx: Int32Array.from(colIdx), values: rng.normals(colIdx.length) };
  }
  return { rec, idx };
}

/** The definition, by hand: f32(scale * table value) + the sparse entries. */
function byHand(rec: NuqSharedRecord, idx: Uint8Array): Float32Array {
  const [rows, cols] = rec.shape;
  const k = 1 << rec.bits;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const t = Math.floor(r / rec.tableRows);
    for (let c = 0; c < cols; c++) {
      const v = rec.lut[t * k + idx[r * cols + c]];
      out[r * cols + c] = rec.rowScales ? Math.fround(rec.rowScales[r] * v) : v;
    }
  }
  const s = rec.sparse;
  if (s) for (let r = 0; r < rows; r++) for (let j = s.rowPtr[r]; j < s.rowPtr[r + 1]; j++) out[r * cols + s.colIdx[j]] += s.values[j];
  return out;
}

type Opts = { scales?: boolean; f16?: boolean; sparse?: boolean };
const CASES: [number, number, 3 | 4, number, Opts][] = [
  [5, 40, 3, 2, { scales: true, f16: true, sparse: true }],
  [7, 64, 4, 3, { scales: true }],
  [9, 33, 4, 9, { f16: true, sparse: true }],
  [4, 31, 3, 1, { scales: true, f16: true }],
  [6, 100, 4, 50, {}],
];

test('nuq-shared round-trips through bytes; dequantize is scale x shared table + sparse (by hand); payload counts tables, scales, indices', async () => {
  const rng = new Rng(3);
  for (const [rows, cols, bits, tr, o] of CASES) {
    const { rec, idx } = sharedRecord(rng, rows, cols, bits, tr, o);
    const back = (await SqzReader.fromBytes(encodeSqz(meta, [rec])).get('w')) as NuqSharedRecord;
    assert.equal(Object.keys(back).sort(), Object.keys(rec).sort());
    assert.equal(Array.from(back.lut), Array.from(rec.lut));
    assert.equal(back.rowScales && Array.from(back.rowScales), rec.rowScales && Array.from(rec.rowScales));
    assert.equal(Array.from(back.indices), Array.from(rec.indices));
    assert.equal(Array.from(dequantize(back)), Array.from(byHand(rec, idx)), `${rows}x${cols} ${bits}-bit, ${tr} rows per table`);
    const tables = Math.ceil(rows / tr) << bits;
    const sparseBytes = rec.sparse ? (rows + 1) * 4 + rec.sparse.colIdx.length * 8 : 0;
    assert.is(payloadBytes(rec), tables * (o.f16 ? 2 : 4) + (o.scales ? rows * 2 : 0) + rec.indices.length + sparseBytes);
  }
});

test('nuq-shared refuses wrong table counts, a bad tableRows, and row scales f16 cannot hold', () => {
  const rng = new Rng(4);
  const { rec } = sharedRecord(rng, 5, 40, 3, 2, { scales: true });
  assert.throws(() => encodeSqz(meta, [{ ...rec, lut: rec.lut.subarray(8) }]), /lut has 16 f32 elements; 3 tables/);
  assert.throws(() => encodeSqz(meta, [{ ...rec, tableRows: 0 }]), /tableRows 0 is not a positive integer/);
  const bad = { ...rec, rowScales: rec.rowScales!.slice() };
  bad.rowScales[2] = 0.1;
  assert.throws(() => encodeSqz(meta, [bad]), /rowScales\[2\] = 0\.1\d* is not exactly representable in f16/);
  assert.throws(() => encodeSqz(meta, [{ ...rec, rowScales: rec.rowScales!.subarray(1) }]), /rowScales has 4 f32 elements; 5 rows needs 5/);
});

test('the runtime runs nuq-shared as its dequantized matrix: JS, WASM exact and WASM int8 (matvec, matmul, embed)', async () => {
  const rng = new Rng(5);
  const backends = [new JsBackend(), await WasmBackend.create(), await WasmBackend.create({ fast: true })];
  for (const [rows, cols, bits, tr, o] of CASES) {
    const { rec } = sharedRecord(rng, rows, cols, bits, tr, o);
    const dense = dequantize(rec);
    const n = 3;
    const x = rng.normals(cols * n);
    const want = new Float32Array(rows * n);
    for (let i = 0; i < n; i++) ref.matvecF32(want.subarray(i * rows, (i + 1) * rows), dense, x.subarray(i * cols, (i + 1) * cols), rows, cols);
    // the exact LUT reference on the expanded tables is the same product
    const lutRef = new Float32Array(rows);
    ref.matvecLut(lutRef, nuqOfShared(rec).lut, rec.indices, x, rows, cols, bits);
    if (rec.sparse) ref.spmvCsrAdd(lutRef, rec.sparse.rowPtr, rec.sparse.colIdx, rec.sparse.values, x);
    assertClose(lutRef, want.subarray(0, rows), 1e-5, 'reference LUT matvec');
    for (const [i, b] of backends.entries()) {
      const what = `${i === 2 ? 'wasm int8' : b.name} ${rows}x${cols} ${bits}-bit/${tr}`;
      const wt = b.upload(rec as TensorRecord);
      const xv = b.alloc(cols * n), out = b.alloc(rows * n), one = b.alloc(rows), row = b.alloc(cols);
      b.write(xv, x);
      // the int8 fast path is not exact (test/kernels/lutint8.test.ts bounds it against the exact
      // product); here it must give the bits it gives on the expanded per-row tables
      const wantMatmul = i === 2 ? product(b, nuqOfShared(rec), rows * n, (o, w) => b.matmul(o, w, xv, n)) : want;
      const wantMatvec = i === 2 ? product(b, nuqOfShared(rec), rows, (o, w) => b.matvec(o, w, xv)) : want.subarray(0, rows);
      b.matmul(out, wt, xv, n);
      assertClose(b.read(out), wantMatmul, i === 2 ? 0 : 1e-5, `${what} matmul`);
      b.matvec(one, wt, xv);
      assertClose(b.read(one), wantMatvec, i === 2 ? 0 : 1e-5, `${what} matvec`);
      b.embed(row, wt, rows - 1);
      assert.equal(Array.from(b.read(row)), Array.from(dense.subarray((rows - 1) * cols)), `${what} embed`);
    }
  }
});

/** What backend b's product `run` gives with record r uploaded as it is. */
function product(b: WasmBackend | JsBackend, r: TensorRecord, len: number, run: (out: ReturnType<typeof b.alloc>, w: ReturnType<typeof b.upload>) => void): Float32Array {
  const out = b.alloc(len);
  run(out, b.upload(r));
  return b.read(out).slice();
}

/** sum f (w - dequantized)^2 */
function weightedError(w: Float32Array, f: Float32Array, d: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += f[i] * (w[i] - d[i]) ** 2;
  return s;
}

test('fitSharedTables without scales finds the optimal shared table (brute force over every labelling)', async () => {
  const rng = new Rng(6);
  for (let trial = 0; trial < 20; trial++) {
    const rows = 2, cols = 4, k = 2; // 8 values, 2^8 labellings into 2 clusters
    const w = rng.normals(rows * cols);
    const f = Float32Array.from({ length: rows * cols }, () => 0.1 + rng.next());
    let best = Infinity;
    for (let m = 0; m < 1 << (rows * cols); m++) {
      const s0 = [0, 0], s1 = [0, 0];
      for (let i = 0; i < w.length; i++) {
        const c = (m >> i) & 1;
        s0[c] += f[i];
        s1[c] += f[i] * w[i];
      }
      let e = 0;
      for (let i = 0; i < w.length; i++) {
        const c = (m >> i) & 1;
        e += f[i] * (w[i] - s1[c] / s0[c]) ** 2;
      }
      if (e < best) best = e;
    }
    const fit = await fitSharedTables(w, f, rows, cols, { bits: 1 as 3, tableRows: 2, rowScale: false, lutType: 'f32' });
    assert.is(fit.lut.length, k);
    const d = Float32Array.from(fit.indices, (j, i) => fit.perRow[Math.floor(i / cols) * k + j]);
    const e = weightedError(w, f, d);
    assert.ok(e <= best * (1 + 1e-6) + 1e-12 && e >= best * (1 - 1e-6) - 1e-12, `trial ${trial}: ${e} vs brute force ${best}`);
  }
});

test('row scales let rows of different magnitude share one table: as good as one table per row when rows are scaled copies', async () => {
  const rng = new Rng(7);
  const rows = 16, cols = 64;
  const base = rng.normals(cols);
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const s = Math.exp(rng.normal());
    for (let c = 0; c < cols; c++) w[r * cols + c] = s * base[c] * (1 + 0.01 * rng.normal());
  }
  const f = new Float32Array(rows * cols).fill(1);
  const perRow = await quantizeMatrix('m', w, f, rows, cols, { bits: 3, lutType: 'f32' });
  const shared = await quantizeMatrix('m', w, f, rows, cols, { bits: 3, lutType: 'f32', tableRows: rows });
  const scaled = await quantizeMatrix('m', w, f, rows, cols, { bits: 3, lutType: 'f32', tableRows: rows, rowScale: true });
  assert.is(scaled.record.kind, 'nuq-shared');
  const e = (r: TensorRecord) => weightedError(w, f, dequantize(r));
  assert.ok(e(scaled.record) < e(shared.record) / 3, `scaled ${e(scaled.record)} vs unscaled ${e(shared.record)}`);
  assert.ok(e(scaled.record) < e(perRow.record) * 1.05, `scaled ${e(scaled.record)} vs per-row tables ${e(perRow.record)}`);
  // and the fit's refinement rounds never make it worse than the clustering alone
  const fit0 = await fitSharedTables(w, f, rows, cols, { bits: 3, tableRows: rows, rowScale: true, lutType: 'f32', rounds: 0 });
  const fit2 = await fitSharedTables(w, f, rows, cols, { bits: 3, tableRows: rows, rowScale: true, lutType: 'f32', rounds: 2 });
  const d = (fit: typeof fit0) => Float32Array.from(fit.indices, (j, i) => fit.perRow[Math.floor(i / cols) * 8 + j]);
  assert.ok(weightedError(w, f, d(fit2)) <= weightedError(w, f, d(fit0)) * (1 + 1e-3));
});

test('quantizeMatrix with shared tables keeps the dense-and-sparse contract: dense + sparse gives the sparse positions back', async () => {
  const rng = new Rng(8);
  const rows = 12, cols = 70;
  const w = rng.normals(rows * cols, 0.02);
  for (let i = 0; i < w.length; i += 53) w[i] *= 30;
  const r = await quantizeMatrix('m', w, rng.normals(rows * cols).map(Math.abs), rows, cols, { bits: 4, tableRows: 5, rowScale: true, outlierThreshold: 0.2, sensitivity: 0.5 });
  assert.is(r.record.kind, 'nuq-shared');
  const rec = r.record as NuqSharedRecord;
  assert.is(rec.lut.length, 3 * 16);
  const d = dequantize(rec);
  const s = rec.sparse!;
  assert.ok(s.values.length > 0);
  for (let row = 0; row < rows; row++) {
    for (let j = s.rowPtr[row]; j < s.rowPtr[row + 1]; j++) {
      const i = row * cols + s.colIdx[j];
      assert.ok(Math.abs(d[i] - w[i]) <= 1e-6 * Math.abs(w[i]) + 1e-9, `sparse position ${i}`);
    }
  }
  // f16 tables and scales by default, so the record encodes
  encodeSqz(meta, [rec]);
});

test('a group too large for the exact DP is clustered over a histogram: within 1% of the exact fit', async () => {
  const rng = new Rng(9);
  const rows = 40, cols = 300;
  const w = rng.normals(rows * cols);
  for (let i = 0; i < w.length; i += 37) w[i] *= 6; // heavy tail
  const f = Float32Array.from({ length: rows * cols }, () => rng.next());
  const err = (fit: Awaited<ReturnType<typeof fitSharedTables>>) => weightedError(w, f, Float32Array.from(fit.indices, (j, i) => fit.perRow[Math.floor(i / cols) * 16 + j]));
  const o = { bits: 4 as const, tableRows: rows, rowScale: true, lutType: 'f32' as const };
  const exact = await fitSharedTables(w, f, rows, cols, o);
  const binned = await fitSharedTables(w, f, rows, cols, { ...o, maxPoints: 1000 });
  assert.not.equal(Array.from(binned.lut), Array.from(exact.lut), 'the histogram path ran');
  assert.ok(err(binned) < err(exact) * 1.01, `binned ${err(binned)} vs exact ${err(exact)}`);
});

test.run();
