// The bench harness (bench/run.ts), never its timings: the bandwidth kernel sums what a plain loop
// sums; the generated part of docs/PERFORMANCE.md is replaced between its markers and the hand-written
// rest kept; and a --tiny run (a 0.2M-parameter model built into a temporary cache, one round, no
// browser) goes end to end: the JSON names every product with finite figures, file sizes as on
// disk, the profile's head reads the bytes its shape implies, the prompt-batch profile has one
// batched product per matrix and layer, and the markdown has a row per product.
// Takes ~10 s; the llama.cpp rows are there when bench/peers has node-llama-cpp, else reported as left out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { sumKernel } from '../../bench/_bandwidth.ts';
import { LLAMA_CPP_PEER } from '../../bench/_e2e.ts';
import { PRODUCTS, SHAPES } from '../../bench/_models.ts';
import { BEGIN, END, type BenchResults, spliceGenerated } from '../../bench/_report.ts';
import { repoRoot } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-bench-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the bandwidth kernel returns lane 0 of the i32x4 sum: the wrapping sum of every fourth i32', async () => {
  const bytes = 64 * 1000;
  const { sum, memory } = await sumKernel(bytes);
  const v = new Int32Array(memory.buffer, 65536, bytes / 4);
  for (let i = 0; i < v.length; i++) v[i] = ((i * 2654435761) ^ (i >>> 3)) | 0;
  let want = 0;
  for (let i = 0; i < v.length; i += 4) want = (want + v[i]) | 0;
  assert.is(sum(65536, bytes), want);
  // a shorter range stops where it is told
  let part = 0;
  for (let i = 0; i < 64; i += 4) part = (part + v[i]) | 0;
  assert.is(sum(65536, 256), part);
});

test('spliceGenerated replaces only the text between the markers, or appends them once', () => {
  const doc = `# Title\n\nhand-written\n\n${BEGIN}\nold table\n${END}\n\nmore by hand\n`;
  const out = spliceGenerated(doc, 'new table');
  assert.is(out, `# Title\n\nhand-written\n\n${BEGIN}\nnew table\n${END}\n\nmore by hand\n`);
  assert.is(spliceGenerated(out, 'new table'), out);
  const fresh = spliceGenerated('# Title\n', 'x');
  assert.is(fresh, `# Title\n\n${BEGIN}\nx\n${END}\n`);
  assert.is(spliceGenerated('', 'x'), `${BEGIN}\nx\n${END}\n`);
});

test('bench/run.ts --tiny runs end to end and writes the JSON and the markdown it describes', () => {
  const json = join(tmp, 'r.json');
  const md = join(tmp, 'PERFORMANCE.md');
  writeFileSync(md, '# Speed\n\nkept by hand\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'run.ts'), '--tiny', '--no-browser', '--out', json, '--docs', md], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, SQZ_BENCH_CACHE: join(tmp, 'cache') },
    timeout: 120_000,
  });
  assert.is(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
  assert.is(res.mode, 'tiny');
  assert.is(res.groups.length, 1);
  const g = res.groups[0];
  const labels = g.results.map((p) => p.label);
  assert.ok(labels.includes('sqz 4-bit --fast'), labels.join());
  if (existsSync(LLAMA_CPP_PEER)) assert.ok(labels.includes('llama.cpp Q4_0'), labels.join());
  else assert.match(g.skipped.map((s) => s.why).join(), /peers:install/);
  for (const p of g.results) {
    assert.ok(Number.isFinite(p.promptTokPerS) && p.promptTokPerS > 0, `${p.label} prompt`);
    assert.ok(Number.isFinite(p.genTokPerS) && p.genTokPerS > 0, `${p.label} generation`);
    assert.ok(p.peakRss > 2 ** 20, `${p.label} peak RSS ${p.peakRss}`);
    assert.is(p.runs.length, 1);
  }
  for (const p of g.results) {
    const file = res.models.tiny.files[PRODUCTS[p.product].file];
    assert.is(p.fileBytes, statSync(isAbsolute(file) ? file : join(repoRoot, file)).size, p.label);
  }
  // the profile: the head of a 4-bit file reads vocab x dim half-bytes per step
  const prof = res.profiles[0];
  const head = prof.ops.find((o) => o.op === 'matmul head');
  assert.ok(head, prof.ops.map((o) => o.op).join());
  assert.is(head!.weightBytes, (SHAPES.tiny.vocab * SHAPES.tiny.dim) / 2);
  assert.is(head!.callsPerStep, 1);
  assert.is(prof.ops.find((o) => o.op === 'matmul mlp.up')!.callsPerStep, SHAPES.tiny.layers);
  // the prompt batch's profile: one batched product per matrix and layer, the head for its last token only
  const batch = res.profiles.find((p) => p.batch > 1);
  assert.ok(batch, 'a prompt-batch profile');
  assert.is(batch!.batch, 16);
  assert.is(batch!.ops.find((o) => o.op === 'matmul mlp.up')!.callsPerStep, SHAPES.tiny.layers);
  assert.is(batch!.ops.find((o) => o.op === 'matmul head')!.callsPerStep, 1);
  const text = readFileSync(md, 'utf8');
  assert.ok(text.startsWith('# Speed\n\nkept by hand\n'), 'the hand-written part is kept');
  assert.ok(text.includes(BEGIN) && text.includes(END));
  for (const l of labels) assert.ok(text.includes(`| ${l} |`), `a row for ${l}`);
});

test.run();
