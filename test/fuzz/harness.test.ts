// The fuzz harness itself: every kind of misbehaviour a case can show (hang, crash, memory, a
// non-project exception, NaN logits) is classed bad, and the mutations are fixed by the seed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FORMATS, mutate } from './mutate.ts';
import { caseRng, runProbes } from './run.ts';
import { writeSeeds } from './seeds.ts';

test('probes: a hang, a crash, runaway memory, a TypeError and NaN logits are each classed bad', async () => {
  // a small memory limit and a short timeout, so the probes cost little
  const r = await runProbes(['hang', 'crash', 'memory', 'throw', 'nan'], { timeoutMs: 3000, maxMemMb: 400 });
  assert.equal(r.map((x) => x.cls), ['hang', 'crash', 'memory', 'exception', 'nan-logits'], JSON.stringify(r));
  assert.match(r[3].detail, /TypeError/);
});

test('mutations never throw and are fixed by (seed, case), with several kinds per format', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqz-fuzz-test-'));
  try {
    const seeds = await writeSeeds(dir);
    for (const f of FORMATS) {
      const seed = new Uint8Array(readFileSync(seeds[f].file));
      // every mutator on many cases: none may throw (a throw would end a long run)
      for (let i = 0; i < 400; i++) mutate(f, seed, caseRng(3, i));
      for (let i = 0; i < 20; i++) {
        const a = mutate(f, seed, caseRng(7, i));
        const b = mutate(f, seed, caseRng(7, i));
        assert.is(a.op, b.op, `${f} case ${i}`);
        assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `${f} case ${i}: same bytes`);
      }
      const ops = new Set(Array.from({ length: 40 }, (_, i) => mutate(f, seed, caseRng(7, i)).op.split(' ')[0]));
      assert.ok(ops.size >= 3, `${f}: only ${[...ops]} ops`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
