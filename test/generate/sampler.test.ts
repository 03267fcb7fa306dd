import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { argmax, Sampler } from '../../src/generate/sampler.ts';
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

test('bad options are rejected', () => {
  assert.throws(() => new Sampler({ temperature: -1 }), /temperature/);
  assert.throws(() => new Sampler({ topP: 0 }), /top-p/);
  assert.throws(() => new Sampler({ topK: 1.5 }), /top-k/);
});

test.run();
