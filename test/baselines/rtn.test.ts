// RTN and the shared uniform quantizer (tools/baselines/rtn.ts): hand-computed cases for every
// convention (asymmetric, symmetric, 3/4/8 bits, all-zero and short groups, ties to even), the
// record's layout, and the invariant |w - w_hat| <= scale / 2 on random matrices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize, validateRecord } from '../../src/format/kinds.ts';
import { unpackIndices } from '../../src/format/packing.ts';
import { Rng } from '../../src/util/random.ts';
import { UsageError } from '../../src/util/errors.ts';
import { quantParams, roundHalfEven, rtnMatrix, rtnQuantize, type UniformBits } from '../../tools/baselines/rtn.ts';

function rtn1(row: number[], bits: UniformBits, sym: boolean, groupSize = 0) {
  const m = rtnMatrix(Float32Array.from(row), 1, row.length, { bits, sym, groupSize });
  return { q: Array.from(m.q), scales: Array.from(m.scales), zeros: Array.from(m.zeros), w: Array.from(m.dequantized()) };
}

test('round half to even, as torch.round', () => {
  assert.equal([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, 3, -3]);
});

test('asymmetric 4-bit by hand: scale (hi - lo) / 15 with 0 in the range, integer zero', () => {
  // lo = -1, hi = 2.75: scale 0.25, zero round(4) = 4; 0.6 / 0.25 = 2.4 -> 2 -> q 6 -> 0.5
  assert.equal(rtn1([-1, 0, 0.6, 2.75], 4, false), { q: [0, 4, 6, 15], scales: [0.25], zeros: [4], w: [-1, 0, 0.5, 2.75] });
  // all positive: lo = 0 (the range holds 0), 3-bit: scale 3.5 / 7 = 0.5, zero 0
  assert.equal(rtn1([0.5, 1, 3.5], 3, false), { q: [1, 2, 7], scales: [0.5], zeros: [0], w: [0.5, 1, 3.5] });
  // an all-zero group: range [-1, 1], scale 2/15 rounded to f32 (0.13333334, just above 2/15), so
  // -lo / scale = 7.4999996 and zero = 7; 0 stays exactly 0
  const z = rtn1([0, 0, 0], 4, false);
  assert.equal(z.q, [7, 7, 7]);
  assert.equal(z.zeros, [7]);
  assert.equal(z.w, [0, 0, 0]);
  assert.is(z.scales[0], Math.fround(2 / 15));
});

test('symmetric by hand: scale 2 max|w| / (2^b - 1), zero 2^(b-1), ends within half a step', () => {
  // m = 3.75: scale 0.5, zero 8. -3.75 / 0.5 = -7.5 -> -8 (to even) -> q 0 -> -4; 2 -> 4 -> 12
  assert.equal(rtn1([-3.75, 1, 0.9, 2], 4, true), { q: [0, 10, 10, 12], scales: [0.5], zeros: [8], w: [-4, 1, 1, 2] });
  // 8-bit: m = 127.5 -> scale 1, zero 128; 127.5 -> 128 -> 256 clamps to 255 -> 127; -127.5 -> -128 -> 0 -> -128
  assert.equal(rtn1([127.5, -127.5, 3.2], 8, true), { q: [255, 0, 131], scales: [1], zeros: [128], w: [127, -128, 3] });
  // all positive with sym: the range is still mirrored (GPTQ's code would clip the top half here)
  // (1.75 / 0.5 = 3.5 -> 4 -> q 8, clamped to 7 -> 1.5: off by exactly half a step)
  assert.equal(rtn1([0.5, 1.75], 3, true), { q: [5, 7], scales: [0.5], zeros: [4], w: [0.5, 1.5] });
  assert.equal(quantParams(0, 1.75, 3, true), { scale: 0.5, zero: 4 });
});

test('groups: groupSize columns each, the last one short, groupSize >= cols = one per row', () => {
  const row = [-1, 2.75, 0, 0.5, 4];
  const g = rtn1(row, 4, false, 2);
  // groups [-1, 2.75], [0, 0.5], [4]
  assert.equal(g.scales, [0.25, Math.fround(0.5 / 15), Math.fround(4 / 15)]);
  assert.equal(g.zeros, [4, 0, 0]);
  assert.is(g.w[4], Math.fround(Math.fround(4 / 15) * 15));
  const rec = rtnQuantize('t', Float32Array.from(row), 1, 5, { bits: 4, groupSize: 2 });
  assert.is(rec.groupSize, 2);
  assert.is(rtnQuantize('t', Float32Array.from(row), 1, 5, { bits: 4, groupSize: 128 }).groupSize, 5);
  assert.is(rtnQuantize('t', Float32Array.from(row), 1, 5, { bits: 4 }).groupSize, 5);
});

test('the record is a valid uniform tensor whose dequantization is the quantized matrix', () => {
  const rng = new Rng(3);
  for (const bits of [3, 4, 8] as const) {
    for (const [rows, cols, gs] of [[7, 100, 32], [3, 64, 64], [5, 33, 0], [4, 300, 128]]) {
      const w = rng.normals(rows * cols);
      const m = rtnMatrix(w, rows, cols, { bits, groupSize: gs });
      const rec = m.toRecord('x');
      validateRecord(rec);
      assert.equal(unpackIndices(rec.values, rows, cols, bits), m.q);
      assert.equal(dequantize(rec), m.dequantized());
    }
  }
});

test('invariant: |w - w_hat| <= scale / 2 everywhere; levels in range; asymmetric zeros are integers in 0..maxq', () => {
  const rng = new Rng(9);
  for (const bits of [3, 4, 8] as const) {
    for (const sym of [false, true]) {
      for (const gs of [32, 64, 128, 0]) {
        const [rows, cols] = [6, 200];
        const w = rng.normals(rows * cols);
        for (let i = 0; i < w.length; i += 17) w[i] *= 6; // some large values
        if (sym === false) for (let c = 0; c < cols; c++) w[c] = Math.abs(w[c]) + 0.5; // an all-positive row
        const m = rtnMatrix(w, rows, cols, { bits, sym, groupSize: gs });
        const wh = m.dequantized();
        const maxq = (1 << bits) - 1;
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const k = r * m.nGroups + Math.floor(c / m.gs);
            const s = m.scales[k];
            const e = Math.abs(w[r * cols + c] - wh[r * cols + c]);
            if (!(e <= (s / 2) * (1 + 1e-4))) assert.unreachable(`${bits}-bit sym=${sym} g${gs} (${r}, ${c}): error ${e} > scale/2 = ${s / 2}`);
            assert.ok(m.q[r * cols + c] <= maxq);
          }
        }
        for (const z of m.zeros) assert.ok(Number.isInteger(z) && z >= 0 && z <= maxq, `zero ${z}`);
      }
    }
  }
});

test('bad options are usage errors', () => {
  const w = new Float32Array(8);
  assert.throws(() => rtnQuantize('t', w, 2, 4, { bits: 5 as UniformBits }), (e: unknown) => e instanceof UsageError && /3, 4 or 8/.test((e as Error).message));
  assert.throws(() => rtnQuantize('t', w, 2, 4, { bits: 4, groupSize: -1 }), (e: unknown) => e instanceof UsageError);
  assert.throws(() => rtnQuantize('t', w, 3, 4, { bits: 4 }), (e: unknown) => e instanceof RangeError);
});

test.run();
