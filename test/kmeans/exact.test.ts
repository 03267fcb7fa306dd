// The exact DP against brute force (all k^n labelings) and a plain O(k n^2) DP from the definition.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/util/random.ts';
import { clusterRow, quantizeRow, Workspace, type RowResult } from '../../tools/kmeans/index.ts';
import { bruteForceMin, fisherRow, heavyRow, plainDpMin, scanDpMin } from './reference.ts';

/** Independent checks of one result: shape, order, nearest indices (ties low), objective sum. */
function checkResult(w: Float32Array, f: ArrayLike<number>, k: number, r: RowResult): void {
  assert.is(r.centroids.length, k);
  assert.is(r.indices.length, w.length);
  for (let c = 1; c < k; c++) assert.ok(r.centroids[c - 1] <= r.centroids[c], 'centroids ascending');
  let obj = 0;
  for (let i = 0; i < w.length; i++) {
    let bj = 0;
    for (let j = 1; j < k; j++) if (Math.abs(w[i] - r.centroids[j]) < Math.abs(w[i] - r.centroids[bj])) bj = j;
    assert.is(r.indices[i], bj, `index of value ${i}`);
    obj += f[i] * (w[i] - r.centroids[bj]) ** 2;
  }
  assert.ok(Math.abs(obj - r.objective) <= 1e-12 * obj + 1e-300, `objective ${r.objective} vs recomputed ${obj}`);
}

/**
 * The returned float32 centroids are each within half an ulp of the optimal float64 means, which
 * adds at most sum(f) * (max|w| 2^-24)^2 to the optimum; nothing can go below the optimum.
 */
function assertOptimal(obj: number, best: number, w: Float32Array, f: ArrayLike<number>, what: string): void {
  let sf = 0;
  let mw = 0;
  for (let i = 0; i < w.length; i++) {
    sf += f[i];
    mw = Math.max(mw, Math.abs(w[i]));
  }
  const slack = sf * (mw * 2 ** -24) ** 2;
  assert.ok(obj >= best * (1 - 1e-9) - 1e-300, `${what}: objective ${obj} below the minimum ${best}`);
  assert.ok(obj <= best * (1 + 1e-9) + slack, `${what}: objective ${obj} above the minimum ${best} (slack ${slack})`);
}

function smallRow(rng: Rng, n: number): { w: Float32Array; f: Float32Array } {
  const w = new Float32Array(n);
  const f = new Float32Array(n);
  const mode = rng.int(3);
  for (let i = 0; i < n; i++) {
    // mode 0: continuous; 1: few distinct values (duplicates); 2: continuous with repeats
    if (mode === 1) w[i] = rng.int(4) - 1.5;
    else if (mode === 2 && i > 0 && rng.next() < 0.4) w[i] = w[rng.int(i)];
    else w[i] = rng.normal();
    f[i] = rng.next() < 0.2 ? 0 : rng.next() < 0.5 ? rng.next() : Math.exp(2 * rng.normal());
  }
  return { w, f };
}

test('exact = brute force over all k^n labelings (n <= 9, k = 2, 3, 4)', () => {
  const rng = new Rng(2024);
  let cases = 0;
  for (const k of [2, 3, 4]) {
    for (let t = 0; t < 60; t++) {
      const n = 1 + rng.int(k === 4 ? 8 : 9);
      const { w, f } = smallRow(rng, n);
      const fUsed = f.some((v) => v > 0) ? f : new Float32Array(n).fill(1);
      const best = bruteForceMin(w, fUsed, k);
      const r = clusterRow(w, f, k);
      checkResult(w, fUsed, k, r);
      assertOptimal(r.objective, best, w, fUsed, `k=${k} n=${n} case ${t}`);
      cases++;
    }
  }
  assert.is(cases, 180);
});

test('exact = plain O(k n^2) DP on heavy-tailed rows (n up to 150, k = 2..16)', () => {
  const rng = new Rng(7);
  const ws = new Workspace();
  for (let t = 0; t < 40; t++) {
    const n = 10 + rng.int(140);
    const k = [2, 3, 5, 8, 16][t % 5];
    const w = heavyRow(rng, n);
    if (t % 4 === 0) for (let i = 0; i < n; i += 3) w[i] = w[(i * 7) % n]; // duplicates
    const f = fisherRow(rng, n, 0.15);
    const best = plainDpMin(w, f, k);
    const r = clusterRow(w, f, k, 'exact', { workspace: ws });
    checkResult(w, f, k, r);
    assertOptimal(r.objective, best, w, f, `case ${t} n=${n} k=${k}`);
  }
});

test('exact = full-scan DP on larger rows (n up to 1200, duplicates, k = 4, 8, 16)', () => {
  const rng = new Rng(99);
  const ws = new Workspace(); // reused across rows, as a worker would (stale buffers must not leak)
  for (let t = 0; t < 8; t++) {
    const n = 300 + rng.int(900);
    const k = [16, 8, 4, 16][t % 4];
    const w = heavyRow(rng, n);
    // coarse grid on some rows: many duplicates
    if (t >= 4) for (let i = 0; i < n; i++) w[i] = Math.round(w[i] * 400) / 400;
    const f = fisherRow(rng, n, 0.1);
    const best = scanDpMin(w, f, k);
    const r = clusterRow(w, f, k, 'exact', { workspace: ws });
    const fresh = clusterRow(w, f, k);
    assert.equal(r.centroids, fresh.centroids);
    checkResult(w, f, k, r);
    assertOptimal(r.objective, best, w, f, `case ${t} n=${n} k=${k}`);
  }
});

test('weights summing to zero fall back to uniform weights', () => {
  const rng = new Rng(3);
  const w = heavyRow(rng, 9);
  const r0 = quantizeRow(w, new Float32Array(9), 2);
  const r1 = quantizeRow(w, null, 2);
  const ones = new Float32Array(9).fill(1);
  const r2 = quantizeRow(w, ones, 2);
  assert.ok(r0.uniform && r1.uniform && !r2.uniform);
  assert.equal(r0.centroids, r2.centroids);
  assert.equal(r1.centroids, r2.centroids);
  assert.equal(r0.indices, r2.indices);
  assert.is(r0.objective, r2.objective);
  assertOptimal(r0.objective, bruteForceMin(w, ones, 4), w, ones, 'uniform');
});

test('weight-0 values do not move centroids but get their nearest index', () => {
  const w = new Float32Array([0, 0.1, 1, 1.1, 50]);
  const f = new Float32Array([1, 1, 1, 1, 0]);
  const r = quantizeRow(w, f, 1);
  assert.ok(Math.abs(r.centroids[0] - 0.05) < 1e-7 && Math.abs(r.centroids[1] - 1.05) < 1e-7, String(r.centroids));
  assert.equal(Array.from(r.indices), [0, 0, 1, 1, 1]);
  assert.ok(Math.abs(r.objective - 4 * 0.0025) < 1e-8);
});

test('n < k, all values equal, fewer distinct values than k: k centroids, objective 0', () => {
  const a = quantizeRow(new Float32Array([3, -1, 2]), null, 3);
  assert.equal(Array.from(a.centroids), [-1, 2, 3, 3, 3, 3, 3, 3]);
  assert.equal(Array.from(a.indices), [2, 0, 1]);
  assert.is(a.objective, 0);
  const b = quantizeRow(new Float32Array(100).fill(0.25), fisherRow(new Rng(1), 100), 4);
  assert.equal(Array.from(b.centroids), new Array(16).fill(0.25));
  assert.ok(b.indices.every((i) => i === 0));
  assert.is(b.objective, 0);
  const w = new Float32Array(64).map((_, i) => [-2, 0.5, 7][i % 3]);
  const c = quantizeRow(w, fisherRow(new Rng(2), 64, 0), 2);
  assert.equal(Array.from(c.centroids), [-2, 0.5, 7, 7]);
  assert.is(c.objective, 0);
  const e = quantizeRow(new Float32Array(0), null, 3);
  assert.is(e.centroids.length, 8);
  assert.is(e.indices.length, 0);
});

test('bad inputs are rejected', () => {
  const w = new Float32Array([1, 2, 3]);
  assert.throws(() => quantizeRow(w, new Float32Array([1, -1, 1]), 2), /weights/);
  assert.throws(() => quantizeRow(w, new Float32Array([1, NaN, 1]), 2), /weights/);
  assert.throws(() => quantizeRow(w, new Float32Array(2), 2), /length/);
  assert.throws(() => quantizeRow(new Float32Array([1, NaN]), null, 2), /values/);
  assert.throws(() => quantizeRow(w, null, 9), /bits/);
  assert.throws(() => quantizeRow(w, null, 2, 'nope' as never), /method/);
});

test.run();
