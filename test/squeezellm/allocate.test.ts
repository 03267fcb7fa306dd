// Sensitivity-driven 3/4-bit allocation (tools/squeezellm/allocate.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/util/random.ts';
import { allocateBits, allocationSpec, type BitCosts } from '../../tools/squeezellm/allocate.ts';

function randomCosts(rng: Rng, n: number, sameSize: boolean): BitCosts[] {
  return Array.from({ length: n }, (_, i) => {
    const weights = sameSize ? 4096 : 1024 * (1 + rng.int(8));
    const err4 = rng.next();
    return { name: `m${i}`, weights, bytes3: (weights * 3.25) / 8, bytes4: (weights * 4.25) / 8, err3: err4 + 10 * rng.next(), err4 };
  });
}

const bitsOf = (costs: BitCosts[], four: Set<string>) => (8 * costs.reduce((s, c) => s + (four.has(c.name) ? c.bytes4 : c.bytes3), 0)) / costs.reduce((s, c) => s + c.weights, 0);
const lossOf = (costs: BitCosts[], four: Set<string>) => costs.reduce((s, c) => s + (four.has(c.name) ? c.err4 : c.err3), 0);

test('the budget holds, and no 3-bit matrix left out would still fit', () => {
  const rng = new Rng(1);
  for (let trial = 0; trial < 50; trial++) {
    const costs = randomCosts(rng, 12, false);
    const target = 3.25 + rng.next();
    const a = allocateBits(costs, target);
    assert.ok(a.avgBits <= target + 1e-12, `${a.avgBits} > ${target}`);
    assert.ok(Math.abs(a.avgBits - bitsOf(costs, a.four)) < 1e-9);
    for (const c of costs) if (!a.four.has(c.name)) assert.ok(bitsOf(costs, new Set([...a.four, c.name])) > target, `${c.name} still fits`);
  }
});

test('with matrices of one size the choice is optimal (brute force over every subset)', () => {
  const rng = new Rng(2);
  for (let trial = 0; trial < 30; trial++) {
    const costs = randomCosts(rng, 10, true);
    const target = 3.25 + rng.next();
    const a = allocateBits(costs, target);
    let best = Infinity;
    for (let m = 0; m < 1 << costs.length; m++) {
      const four = new Set(costs.filter((_, i) => (m >> i) & 1).map((c) => c.name));
      if (bitsOf(costs, four) <= target + 1e-12) best = Math.min(best, lossOf(costs, four));
    }
    assert.ok(Math.abs(lossOf(costs, a.four) - best) <= 1e-9 * best, `trial ${trial}: ${lossOf(costs, a.four)} vs optimum ${best}`);
  }
});

test('extremes: below all-3-bit nothing gets 4 bits, above all-4-bit everything does; the spec names the 4-bit matrices', () => {
  const costs = randomCosts(new Rng(3), 5, false);
  assert.is(allocateBits(costs, 3).four.size, 0);
  assert.is(allocateBits(costs, 5).four.size, 5);
  const a = allocateBits(costs, 3.8);
  assert.equal(allocationSpec(a).split(',').sort(), [...a.four].map((n) => `${n}=4`).sort());
  assert.throws(() => allocateBits(costs, 0), /positive/);
});

test.run();
