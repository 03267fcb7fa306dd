// The WASM exact path (tools/kmeans/wasm.ts, assembly/kmeans.ts) against the TypeScript exact path:
// the same centroids, indices and objective, bit for bit, on many random rows (duplicates, weight-0
// entries, n < k, the uniform fallback, f64 weights, ±0, weights so far apart that cluster costs
// become 0/0, long rows). The TypeScript path is checked against brute force in exact.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/util/random.ts';
import { clusterRow, quantizeRow, quantizeRows, Workspace, type ExactSolver, type RowResult } from '../../tools/kmeans/index.ts';
import { WasmExact, wasmExact } from '../../tools/kmeans/wasm.ts';
import { fisherRow, heavyRow } from './reference.ts';

type Weights = Float32Array | Float64Array | null;

/** Bit-identical results (Object.is also tells -0 from +0). */
function assertSame(a: RowResult, b: RowResult, what: string): void {
  assert.is(b.centroids.length, a.centroids.length, `${what}: k`);
  for (let c = 0; c < a.centroids.length; c++) {
    assert.ok(Object.is(a.centroids[c], b.centroids[c]), `${what}: centroid ${c}: ${a.centroids[c]} vs ${b.centroids[c]}`);
  }
  assert.is(b.indices.length, a.indices.length, `${what}: n`);
  for (let i = 0; i < a.indices.length; i++) {
    if (a.indices[i] !== b.indices[i]) assert.unreachable(`${what}: index ${i}: ${a.indices[i]} vs ${b.indices[i]}`);
  }
  // the brief allows 1e-12 relative; the kernels do the same operations, so it is exact
  assert.ok(Object.is(a.objective, b.objective), `${what}: objective ${a.objective} vs ${b.objective}`);
  assert.is(b.uniform, a.uniform, `${what}: uniform`);
}

/** A random row of one of several shapes. */
function randomRow(rng: Rng, n: number): { w: Float32Array; f: Weights; shape: string } {
  const mode = rng.int(9);
  let w = heavyRow(rng, n);
  let f: Weights = fisherRow(rng, n, rng.next() < 0.5 ? 0.1 : 0.5);
  let shape = 'heavy';
  switch (mode) {
    case 1: // few distinct values: many duplicates
      w = w.map(() => (rng.int(7) - 3) * 0.25);
      shape = 'grid';
      break;
    case 2: // repeats of earlier values
      for (let i = 1; i < n; i++) if (rng.next() < 0.4) w[i] = w[rng.int(i)];
      shape = 'repeats';
      break;
    case 3: // all weights zero: uniform fallback
      f = new Float32Array(n);
      shape = 'zero-weights';
      break;
    case 4:
      f = null;
      shape = 'null';
      break;
    case 5: // float64 weights, some zero
      f = Float64Array.from(fisherRow(rng, n, 0.2), (v) => v * (1 + rng.next() * 1e-9));
      shape = 'f64';
      break;
    case 6: // ±0 and tiny values, subnormals
      w = w.map((v, i) => (i % 5 === 0 ? (rng.next() < 0.5 ? -0 : 0) : i % 7 === 0 ? v * 1e-40 : v));
      shape = 'zeros';
      break;
    case 7: // weights 1e-30 .. 1e30: prefix sums absorb the small ones (0/0 cluster costs)
      f = (f as Float32Array).map((v) => (v === 0 ? 0 : rng.next() < 0.5 ? 1e-30 : 1e30 * v));
      shape = 'wide-weights';
      break;
    case 8: // all values equal
      w.fill(w[0] ?? 1);
      shape = 'equal';
      break;
  }
  return { w, f, shape };
}

const KS = [1, 2, 3, 4, 5, 7, 8, 16, 33, 256];

test('WASM row = TS exact, bit for bit, on 1500 random rows (n 0..400, k 1..256)', () => {
  const rng = new Rng(77);
  const solver = wasmExact();
  const shapes = new Map<string, number>();
  for (let t = 0; t < 1500; t++) {
    const n = rng.next() < 0.1 ? rng.int(10) : rng.int(400);
    const k = KS[rng.int(KS.length)];
    const { w, f, shape } = randomRow(rng, n);
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    const ts = clusterRow(w, f, k);
    const wa = clusterRow(w, f, k, 'exact', { solver });
    assertSame(ts, wa, `case ${t} (${shape}, n=${n}, k=${k})`);
  }
  assert.ok(shapes.size === 9, [...shapes.keys()].join());
});

test('WASM DP alone (partition on a TS-prepared row) = TS exact', () => {
  const rng = new Rng(78);
  const inst = new WasmExact();
  const solver: ExactSolver = { partition: (ws, k, b) => inst.partition(ws, k, b) };
  const ws = new Workspace();
  for (let t = 0; t < 400; t++) {
    const n = rng.int(600);
    const k = KS[rng.int(KS.length)];
    const { w, f, shape } = randomRow(rng, n);
    assertSame(clusterRow(w, f, k), clusterRow(w, f, k, 'exact', { solver, workspace: ws }), `case ${t} (${shape}, n=${n}, k=${k})`);
  }
});

test('WASM = TS on long rows (n = 4096, 11008; k = 8, 16), buffers grown and reused', () => {
  const rng = new Rng(79);
  const solver = new WasmExact();
  for (const n of [4096, 11008, 300, 4096]) {
    for (const bits of [3, 4]) {
      const w = heavyRow(rng, n);
      const f = fisherRow(rng, n);
      assertSame(quantizeRow(w, f, bits), quantizeRow(w, f, bits, 'exact', { solver }), `n=${n} bits=${bits}`);
    }
  }
  // a coarse grid: many duplicates, m << n
  const w = heavyRow(rng, 4096).map((v) => Math.round(v * 200) / 200);
  const f = fisherRow(rng, 4096);
  assertSame(quantizeRow(w, f, 4), quantizeRow(w, f, 4, 'exact', { solver }), 'grid 4096');
});

test('quantizeRows with the WASM solver = TS, over a matrix and a row range', () => {
  const rng = new Rng(80);
  const rows = 20;
  const cols = 257;
  const W = heavyRow(rng, rows * cols);
  const F = fisherRow(rng, rows * cols);
  const a = quantizeRows(W, F, rows, cols, 4);
  const b = quantizeRows(W, F, rows, cols, 4, { solver: wasmExact(), rowStart: 3, rowEnd: 17 });
  for (let r = 3; r < 17; r++) {
    assert.equal(b.centroids.subarray(r * 16, (r + 1) * 16), a.centroids.subarray(r * 16, (r + 1) * 16));
    assert.equal(b.indices.subarray(r * cols, (r + 1) * cols), a.indices.subarray(r * cols, (r + 1) * cols));
    assert.ok(Object.is(b.objectives[r], a.objectives[r]));
  }
  assert.ok(b.objectives[0] === 0 && b.objectives[19] === 0, 'rows outside the range untouched');
});

test('weights 2^60+ apart (costs 0/0 in the prefix sums): valid results, fresh = reused buffers', () => {
  // Regression: the DP skipped NaN cluster costs, layers went to +Infinity, and the backtrack read
  // split entries and a prev[] entry not computed for this row (empty clusters, NaN centroids,
  // results depending on the previous row; a trap in WASM). See CLAMP in exact.ts.
  const rng = new Rng(81);
  const ws = new Workspace();
  const solver = new WasmExact();
  for (let t = 0; t < 200; t++) {
    const n = 1 + rng.int(120);
    const k = KS[rng.int(KS.length)];
    let w = heavyRow(rng, n);
    let f = fisherRow(rng, n, 0.2).map((v) => (v === 0 ? 0 : rng.next() < 0.5 ? 1e-30 * v : 1e30 * v));
    if (t % 2) {
      // sorted blocks: a heavy value, then a run of light ones (long scans over 0/0 costs)
      w = w.sort();
      const run = 2 + rng.int(40);
      f = f.map((_, i) => (i % run === 0 ? 1e30 : 1e-30) * (0.5 + rng.next()));
    }
    const fresh = clusterRow(w, f, k);
    const what = `case ${t} n=${n} k=${k}`;
    assertSame(fresh, clusterRow(w, f, k, 'exact', { workspace: ws }), `${what} reused workspace`);
    assertSame(fresh, clusterRow(w, f, k, 'exact', { solver }), `${what} wasm`);
    let obj = 0;
    for (let c = 0; c < k; c++) {
      assert.ok(Number.isFinite(fresh.centroids[c]), `${what}: centroid ${c} = ${fresh.centroids[c]}`);
      if (c > 0) assert.ok(fresh.centroids[c - 1] <= fresh.centroids[c], `${what}: ascending`);
    }
    for (let i = 0; i < n; i++) {
      let bj = 0;
      for (let j = 1; j < k; j++) if (Math.abs(w[i] - fresh.centroids[j]) < Math.abs(w[i] - fresh.centroids[bj])) bj = j;
      assert.is(fresh.indices[i], bj, `${what}: index ${i}`);
      obj += f[i] * (w[i] - fresh.centroids[bj]) ** 2;
    }
    assert.ok(Math.abs(obj - fresh.objective) <= 1e-12 * obj, `${what}: objective`);
  }
});

test('the WASM path rejects bad inputs with the TS messages', () => {
  const solver = wasmExact();
  const w = new Float32Array([1, 2, 3]);
  const q = (w: Float32Array, f: Weights, bits = 2) => quantizeRow(w, f, bits, 'exact', { solver });
  assert.throws(() => q(w, new Float32Array([1, -1, 1])), /weights: entry 1 is -1/);
  assert.throws(() => q(w, new Float32Array([1, NaN, 1])), /weights: entry 1 is NaN/);
  assert.throws(() => q(w, new Float64Array([1, 1, Infinity])), /weights: entry 2 is Infinity/);
  assert.throws(() => q(w, new Float32Array(2)), /length/);
  assert.throws(() => q(new Float32Array([1, NaN]), null), /values: entry 1 is NaN/);
  assert.throws(() => q(new Float32Array([1, -Infinity]), new Float32Array([1, 0])), /values: entry 1/);
  assert.throws(() => q(w, null, 9), /bits/);
  // and a valid row right after still works
  assertSame(quantizeRow(w, null, 2), q(w, null), 'after errors');
});

test.run();
