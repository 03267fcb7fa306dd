// A seeded 200-case run of the fuzz suite (`npm run fuzz` runs as many as asked): every mutated
// file of every format must end in a typed error or load with finite logits and in-range ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FORMATS } from './mutate.ts';
import { formatResult, runFuzz } from './run.ts';

test('fuzz smoke: 200 cases over the nine seeds, none bad', async () => {
  const cases = 200;
  const r = await runFuzz({ cases, seed: 1, workers: 2 });
  const report = formatResult(r, { cases, seed: 1 });
  assert.is(r.bad.length, 0, report);
  for (const f of FORMATS) {
    const n = Object.values(r.counts[f]).reduce((a, b) => a + (b ?? 0), 0);
    assert.ok(n === Math.floor(cases / FORMATS.length) || n === Math.ceil(cases / FORMATS.length), `${f}: ${report}`);
  }
  // the mutations reach past the first check: some files still load, most are refused
  const total = (c: 'error' | 'accepted') => Object.values(r.counts).reduce((a, row) => a + (row[c] ?? 0), 0);
  assert.ok(total('accepted') > 0 && total('error') > cases / 2, report);
});

test.run();
