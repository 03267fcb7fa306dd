// GPTQ (tools/baselines/gptq.ts): the Cholesky step, the identity-Hessian case that must equal RTN
// exactly (an independent check of the whole update path), huge damping tending to RTN, dead
// columns, static groups, and output error below RTN's on random correlated layers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize, validateRecord } from '../../src/format/kinds.ts';
import { Rng } from '../../src/util/random.ts';
import { UsageError } from '../../src/util/errors.ts';
import { gptqQuantize, type GptqOptions, InputStats, upperCholeskyOfInverse } from '../../tools/baselines/gptq.ts';
import { rtnMatrix, rtnQuantize, type UniformBits } from '../../tools/baselines/rtn.ts';

/** Correlated inputs: X = Z M (M = I + 0.6 random), a few channels scaled up, N rows. */
function inputs(rng: Rng, n: number, cols: number): Float32Array {
  const z = rng.normals(n * cols);
  const m = rng.normals(cols * cols, 0.6 / Math.sqrt(cols));
  for (let i = 0; i < cols; i++) m[i * cols + i] += 1;
  const big = new Set([3, 17, cols - 5]);
  const x = new Float32Array(n * cols);
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += z[t * cols + k] * m[k * cols + j];
      x[t * cols + j] = big.has(j) ? 8 * s : s;
    }
  }
  return x;
}

/** ||X W^T - X W_hat^T||^2. */
function outErr(x: Float32Array, n: number, w: Float32Array, wh: Float32Array, rows: number, cols: number): number {
  let e = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += x[t * cols + c] * (w[r * cols + c] - wh[r * cols + c]);
      e += s * s;
    }
  }
  return e;
}

function hessianOf(x: Float32Array, n: number, cols: number): Float64Array {
  const st = new InputStats(cols);
  st.add(x, n);
  return st.hessian();
}

test('InputStats: H = 2/N X^T X, mean |x|', () => {
  const x = Float32Array.from([1, 2, -3, 0, 4, 1]); // 3 rows of 2
  const st = new InputStats(2);
  st.add(x, 3);
  const h = st.hessian();
  // X^T X = [[1+9+16, 2+0+4], [6, 4+0+1]] = [[26, 6], [6, 5]]
  assert.equal(Array.from(h), [(2 / 3) * 26, (2 / 3) * 6, (2 / 3) * 6, (2 / 3) * 5]);
  assert.equal(Array.from(st.meanAbs()), [8 / 3, 1]);
});

test('upperCholeskyOfInverse: U upper triangular with U^T U = H^-1; null when not positive definite', () => {
  const rng = new Rng(1);
  for (const n of [1, 2, 5, 40]) {
    const x = rng.normals(3 * n * n);
    const h = hessianOf(x, 3 * n, n);
    for (let i = 0; i < n; i++) h[i * n + i] += 0.01;
    const U = upperCholeskyOfInverse(h, n)!;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (j < i) assert.is(U[i * n + j], 0);
        // (U^T U H)[i, j]
        let s = 0;
        for (let k = 0; k < n; k++) {
          let uu = 0;
          for (let m = 0; m < n; m++) uu += U[m * n + i] * U[m * n + k];
          s += uu * h[k * n + j];
        }
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    assert.ok(worst < 1e-8, `n ${n}: |U^T U H - I| = ${worst}`);
  }
  assert.is(upperCholeskyOfInverse(Float64Array.from([1, 2, 2, 1]), 2), null);
});

const CONFIGS: GptqOptions[] = [];
for (const bits of [3, 4, 8] as UniformBits[]) {
  for (const groupSize of [0, 32]) {
    for (const actOrder of [false, true]) CONFIGS.push({ bits, groupSize, actOrder, sym: bits === 4 && actOrder });
  }
}
CONFIGS.push({ bits: 4, groupSize: 32, actOrder: true, staticGroups: true }, { bits: 3, groupSize: 48, blockSize: 20 });

test('an identity Hessian gives exactly RTN (no error is propagated), every configuration', () => {
  const rng = new Rng(2);
  const [rows, cols] = [12, 100];
  const w = rng.normals(rows * cols);
  const eye = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) eye[i * cols + i] = 1;
  for (const o of CONFIGS) {
    const g = gptqQuantize('w', w, rows, cols, eye, o).record;
    const r = rtnQuantize('w', w, rows, cols, o);
    validateRecord(g);
    assert.equal(g, r, JSON.stringify(o));
  }
});

test('huge damping tends to RTN', () => {
  const rng = new Rng(3);
  const [rows, cols, n] = [16, 64, 256];
  const x = inputs(rng, n, cols);
  const w = rng.normals(rows * cols);
  const h = hessianOf(x, n, cols);
  for (const o of [{ bits: 4, groupSize: 32 }, { bits: 3, actOrder: true }] as GptqOptions[]) {
    const g = gptqQuantize('w', w, rows, cols, h, { ...o, damp: 1e9 }).matrix.q;
    const r = rtnMatrix(w, rows, cols, o).q;
    let same = 0;
    for (let i = 0; i < g.length; i++) same += g[i] === r[i] ? 1 : 0;
    assert.ok(same >= g.length * 0.999, `${same} of ${g.length} levels equal RTN's`);
  }
});

test('GPTQ output error is below RTN on random correlated layers (seeds, 3/4 bits, groups, actOrder, static groups)', () => {
  const [rows, cols, n] = [24, 96, 384];
  const lines: string[] = [];
  for (const seed of [11, 12, 13]) {
    const rng = new Rng(seed);
    const x = inputs(rng, n, cols);
    const w = rng.normals(rows * cols, 0.1);
    const h = hessianOf(x, n, cols);
    for (const bits of [3, 4] as const) {
      for (const o of [{}, { groupSize: 32 }, { actOrder: true }, { actOrder: true, groupSize: 32 }, { actOrder: true, groupSize: 32, staticGroups: true }, { groupSize: 64, sym: true }] as Partial<GptqOptions>[]) {
        const opts = { bits, ...o };
        const g = gptqQuantize('w', w, rows, cols, h, opts);
        const eg = outErr(x, n, w, dequantize(g.record), rows, cols);
        const er = outErr(x, n, w, rtnMatrix(w, rows, cols, opts).dequantized(), rows, cols);
        assert.ok(eg < er, `seed ${seed} ${JSON.stringify(opts)}: GPTQ ${eg} >= RTN ${er}`);
        if (seed === 11) lines.push(`${bits}-bit ${JSON.stringify(o)}: GPTQ/RTN error ${(eg / er).toFixed(3)}`);
      }
    }
  }
  console.log(`  ${lines.join('\n  ')}`);
});

test('dead columns (no input) are zeroed and cost nothing; static groups take RTN parameters', () => {
  const rng = new Rng(5);
  const [rows, cols, n] = [8, 64, 200];
  const x = inputs(rng, n, cols);
  for (let t = 0; t < n; t++) x[t * cols + 9] = 0;
  const w = rng.normals(rows * cols);
  const h = hessianOf(x, n, cols);
  for (const sym of [false, true]) {
    const r = gptqQuantize('w', w, rows, cols, h, { bits: 4, groupSize: 32, actOrder: true, sym });
    assert.is(r.dead, 1);
    const wh = dequantize(r.record);
    for (let i = 0; i < rows; i++) assert.is(wh[i * cols + 9], 0);
    assert.ok(Number.isFinite(r.loss));
  }
  // static groups: the parameters of RTN on the (dead-zeroed) original weights
  const x2 = inputs(rng, n, cols);
  const s = gptqQuantize('w', w, rows, cols, hessianOf(x2, n, cols), { bits: 3, groupSize: 32, actOrder: true, staticGroups: true }).record;
  const r = rtnQuantize('w', w, rows, cols, { bits: 3, groupSize: 32 });
  assert.equal(s.scales, r.scales);
  assert.equal(s.zeros, r.zeros);
});

test('deterministic, and bad input is reported', () => {
  const rng = new Rng(6);
  const [rows, cols, n] = [6, 40, 80];
  const x = inputs(rng, n, cols);
  const w = rng.normals(rows * cols);
  const h = hessianOf(x, n, cols);
  const o: GptqOptions = { bits: 4, groupSize: 32, actOrder: true };
  assert.equal(gptqQuantize('w', w, rows, cols, h, o).record, gptqQuantize('w', w, rows, cols, h, o).record);
  assert.throws(() => gptqQuantize('w', w, rows, cols, h, { ...o, damp: -1 }), (e: unknown) => e instanceof UsageError);
  assert.throws(() => gptqQuantize('w', w, rows, cols, h.subarray(1), o), (e: unknown) => e instanceof RangeError);
  const notPd = new Float64Array(cols * cols).fill(1); // rank one, no damping
  assert.throws(() => gptqQuantize('w', w, rows, cols, notPd, { ...o, damp: 0 }), (e: unknown) => e instanceof UsageError && /positive definite/.test((e as Error).message));
  assert.throws(() => new InputStats(3).hessian(), (e: unknown) => e instanceof UsageError);
});

test.run();
