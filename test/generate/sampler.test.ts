import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { argmax, Sampler, type SamplerOptions } from '../../src/generate/sampler.ts';
import { UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';

const logits = new Float32Array([0.5, 2.0, -1.0, 1.5, 0.0]);

test('temperature 0 is argmax', () => {
  assert.is(new Sampler({ temperature: 0 }).sample(logits), 1);
  assert.is(argmax([3, 9, 9, 1]), 1);
});

test('top-k 1 is greedy at any temperature', () => {
  const s = new Sampler({ temperature: 5, topK: 1, seed: 3 });
  for (let i = 0; i < 50; i++) assert.is(s.sample(logits), 1);
});

test('the same seed gives the same draws; another seed other draws', () => {
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1, topP: 1, seed });
    return Array.from({ length: 40 }, () => s.sample(logits));
  };
  assert.equal(draw(42), draw(42));
  assert.not.equal(draw(42), draw(43));
});

test('draw frequencies follow softmax(logits / T) (top-p 1)', () => {
  const T = 0.8;
  const s = new Sampler({ temperature: T, topP: 1, seed: 9 });
  const n = 40000;
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[s.sample(logits)]++;
  const e = Array.from(logits, (l) => Math.exp(l / T));
  const z = e.reduce((a, b) => a + b, 0);
  e.forEach((v, i) => {
    const p = v / z;
    const sd = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(counts[i] / n - p) < 5 * sd + 1e-4, `token ${i}: ${counts[i] / n} vs ${p}`);
  });
});

test('top-p keeps the smallest set reaching the mass', () => {
  // probabilities at T=1: token 1 ~0.48, token 3 ~0.29, the rest ~0.23 together
  const s = new Sampler({ temperature: 1, topP: 0.7, seed: 5 });
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) seen.add(s.sample(logits));
  assert.equal([...seen].sort(), [1, 3]);
});

test('top-p (and top-k then top-p) draw exactly from the nucleus a brute-force sort gives', () => {
  const rng = new Rng(12);
  for (const [topK, topP] of [[0, 0.8], [0, 0.3], [10, 0.8], [5, 1]] as const) {
    const l = Float32Array.from({ length: 60 }, () => rng.normal() * 2);
    const T = 0.9;
    const order = Array.from(l.keys()).sort((a, b) => l[b] - l[a]);
    const pool = topK ? order.slice(0, topK) : order;
    const w = pool.map((i) => Math.exp(l[i] / T));
    const z = w.reduce((a, b) => a + b, 0);
    const nucleus = new Set<number>();
    let mass = 0;
    for (let j = 0; j < pool.length && mass < topP; j++) {
      nucleus.add(pool[j]);
      mass += w[j] / z;
    }
    const s = new Sampler({ temperature: T, topK, topP, seed: 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 4000; i++) seen.add(s.sample(l));
    for (const t of seen) assert.ok(nucleus.has(t), `token ${t} outside the nucleus (k=${topK}, p=${topP})`);
    for (const t of nucleus) if (Math.exp(l[t] / T) / z > 0.01) assert.ok(seen.has(t), `token ${t} of the nucleus never drawn`);
  }
});

/**
 * The filtered, renormalised distribution by brute force: every token sorted, each step as its
 * definition says (penalty, temperature, top-k, top-p over what top-k left, min-p against the
 * most likely), no shortcuts.
 */
function reference(logits: Float32Array, o: Required<Omit<SamplerOptions, 'seed'>>, history: number[]): Map<number, number> {
  const l = Array.from(logits);
  // penalised logits stay f32, as the logits are
  for (const id of new Set(history.slice(-o.repetitionWindow))) l[id] = Math.fround(l[id] > 0 ? l[id] / o.repetitionPenalty : l[id] * o.repetitionPenalty);
  const w = l.map((x) => Math.exp(x / o.temperature));
  let pool = Array.from(w.keys()).sort((a, b) => w[b] - w[a] || a - b);
  if (o.topK > 0) pool = pool.slice(0, o.topK);
  const z = pool.reduce((a, i) => a + w[i], 0);
  const nucleus: number[] = [];
  let mass = 0;
  for (const i of pool) {
    if (mass >= o.topP * z) break;
    nucleus.push(i);
    mass += w[i];
  }
  const top = w[pool[0]];
  const kept = nucleus.filter((i) => w[i] >= o.minP * top);
  const zk = kept.reduce((a, i) => a + w[i], 0);
  return new Map(kept.map((i) => [i, w[i] / zk]));
}

test('the candidates and their probabilities equal the brute-force distribution, for every mix of options', () => {
  const rng = new Rng(21);
  for (let trial = 0; trial < 300; trial++) {
    const V = 2 + rng.int(80);
    const l = Float32Array.from({ length: V }, () => rng.normal() * (0.5 + 3 * rng.next()));
    const o = {
      temperature: [0.3, 0.8, 1, 1.7][rng.int(4)],
      topK: [0, 1, 3, 10, 200][rng.int(5)],
      topP: [1, 0.95, 0.7, 0.3, 0.05][rng.int(5)],
      minP: [0, 0.02, 0.1, 0.5][rng.int(4)],
      repetitionPenalty: [1, 1.3, 0.8][rng.int(3)],
      repetitionWindow: [1, 4, 64][rng.int(3)],
    };
    const history = Array.from({ length: rng.int(10) }, () => rng.int(V));
    const s = new Sampler({ ...o, seed: 1 });
    const c = s.candidates(s.penalised(l, history));
    const want = reference(l, o, history);
    const label = JSON.stringify({ V, ...o, history });
    assert.equal([...c.ids].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), label);
    c.ids.forEach((id, j) => assert.ok(Math.abs(c.probs[j] - want.get(id)!) < 1e-9, `${label}: p(${id}) ${c.probs[j]} vs ${want.get(id)}`));
  }
});

test('draw frequencies follow the brute-force distribution (penalty, top-k, top-p and min-p together)', () => {
  const rng = new Rng(5);
  const l = Float32Array.from({ length: 40 }, () => rng.normal() * 2);
  const o = { temperature: 0.9, topK: 12, topP: 0.9, minP: 0.05, repetitionPenalty: 1.5, repetitionWindow: 3 };
  const history = [argmax(l), 7, 3, 3];
  const want = reference(l, o, history);
  const s = new Sampler({ ...o, seed: 17 });
  const n = 30000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = s.sample(l, history);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const t of counts.keys()) assert.ok(want.has(t), `token ${t} drawn but outside the distribution`);
  for (const [t, p] of want) {
    const f = (counts.get(t) ?? 0) / n;
    assert.ok(Math.abs(f - p) < 5 * Math.sqrt((p * (1 - p)) / n) + 1e-4, `token ${t}: ${f} vs ${p}`);
  }
});

test('the repetition penalty steers greedy decoding off recent tokens, and only within its window', () => {
  const l = new Float32Array([1.0, 3.0, 2.5, -1]);
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1.5 }).sample(l, [1]), 2); // 3.0 / 1.5 = 2 < 2.5
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1.5, repetitionWindow: 1 }).sample(l, [1, 0]), 1); // token 1 left the window
  assert.equal(Array.from(new Sampler({ repetitionPenalty: 2 }).penalised(l, [3, 3])), [1, 3, 2.5, -2]); // negative: multiplied, once
});

test('bad options are rejected with a usage error naming them', () => {
  const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test((e as Error).message);
  assert.throws(() => new Sampler({ temperature: -1 }), usage(/temperature/));
  assert.throws(() => new Sampler({ topP: 0 }), usage(/top-p/));
  assert.throws(() => new Sampler({ topP: 1.01 }), usage(/top-p/));
  assert.throws(() => new Sampler({ topK: 1.5 }), usage(/top-k/));
  assert.throws(() => new Sampler({ minP: 1 }), usage(/min-p/));
  assert.throws(() => new Sampler({ repetitionPenalty: 0 }), usage(/penalty/));
  assert.throws(() => new Sampler({ repetitionWindow: 0 }), usage(/window/));
  assert.throws(() => new Sampler({ seed: 0.5 }), usage(/seed/));
});

test.run();
