// The demo end to end on tiny settings: the synthetic fallback when the download fails (and with
// --offline), deterministic for a seed; and `sqz demo --model URL` against a local server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoOptions, type DemoResult, runDemo } from '../../tools/demo.ts';
import { cachePath } from '../../tools/download.ts';
import { formatTable } from '../../tools/cli/commands/demo.ts';
import { absent, repoRoot, sharedFile, skip } from '../helpers.ts';
import { startServer, type TestServer } from './_server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-demo-test-'));
let server: TestServer;
const model = sharedFile('models/stories260K.bin');
const tok = sharedFile('models/tok512.bin');

test.before(async () => {
  server = await startServer(model && tok ? { '/m/stories260K.bin': readFileSync(model), '/m/tok512.bin': readFileSync(tok) } : {});
});
test.after(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const tiny: DemoOptions = {
  synthetic: { dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 320, maxSeqLen: 64 },
  calibSequences: 6,
  evalSequences: 3,
  seqLen: 32,
  samples: 4,
  speedTokens: 8,
  sampleTokens: 8,
  minSpeedMs: 20,
  seed: 5,
};

function checkTable(r: DemoResult) {
  assert.equal(r.rows.map((x) => x.name), ['f32', 'SqueezeLLM 4-bit', 'SqueezeLLM 3-bit']);
  for (const row of r.rows) {
    assert.ok(Number.isFinite(row.perplexity) && row.perplexity >= 1, `${row.name}: perplexity ${row.perplexity}`);
    assert.ok(Number.isFinite(row.pplRatio) && row.tokensPerSecond > 0, row.name);
    assert.type(row.sample, 'string');
  }
  const [f32, q4, q3] = r.rows;
  assert.ok(f32.fileBytes > q4.fileBytes && q4.fileBytes > q3.fileBytes, `sizes ${r.rows.map((x) => x.fileBytes)}`);
  assert.ok(f32.avgBits === 32 && q4.avgBits > q3.avgBits && q3.avgBits > 3, `bits ${r.rows.map((x) => x.avgBits)}`);
  assert.is(f32.pplRatio, 1);
}

test('a failed download falls back to a synthetic model and says why; --offline gives the same, seeded, result', async () => {
  const notes: string[] = [];
  const stages: string[] = [];
  const url = `${server.url}/m/missing.bin`;
  const a = await runDemo({ ...tiny, modelUrl: url, cacheDir: join(tmp, 'c1') }, { note: (l) => notes.push(l), stage: (s) => stages.push(s) });
  checkTable(a);
  assert.is(a.model.source, 'synthetic');
  assert.match(a.model.reason!, /HTTP 404/);
  assert.ok(a.model.reason!.includes(url));
  assert.match(notes.join('\n'), /synthetic .*\n\s+because download of .*missing\.bin failed: HTTP 404/);
  assert.match(notes.join('\n'), /perplexity on text sampled from the f32 model/);
  assert.equal(a.calibration.source, 'sampled');
  assert.ok(stages.some((s) => /Fisher/.test(s)) && stages.some((s) => /3-bit: nuq/.test(s)), stages.join(', '));
  assert.match(formatTable(a), /\| SqueezeLLM 3-bit \|/);

  const b = await runDemo({ ...tiny, offline: true });
  assert.match(b.model.reason!, /offline/);
  assert.equal(b.rows.map((x) => [x.fileBytes, x.avgBits, x.perplexity, x.sample]), a.rows.map((x) => [x.fileBytes, x.avgBits, x.perplexity, x.sample]));
});

test('--calib and --text files are used instead of sampled text; --out-dir keeps the models', async () => {
  const dir = join(tmp, 'out');
  const a = await runDemo({ ...tiny, offline: true, outDir: dir });
  assert.ok(['model-f32.sqz', 'model-q4.sqz', 'model-q3.sqz', 'calib.txt', 'eval.txt'].every((f) => existsSync(join(dir, f))));
  const b = await runDemo({ ...tiny, offline: true, calib: join(dir, 'calib.txt'), text: join(dir, 'eval.txt') });
  assert.is(b.calibration.source, 'file');
  assert.is(b.evaluation.source, 'file');
  checkTable(b);
  assert.is(b.rows[0].sample, a.rows[0].sample);
});

function sqz(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('sqz demo --model URL --tokenizer URL: downloads stories260K into the cache and prints the table', async () => {
  if (!model || !tok) return skip(absent(model ? 'models/tok512.bin' : 'models/stories260K.bin'));
  const cache = join(tmp, 'c2');
  const m = `${server.url}/m/stories260K.bin`;
  const t = `${server.url}/m/tok512.bin`;
  const small = ['--calib-sequences', '6', '--eval-sequences', '3', '--seq-len', '48', '--samples', '4', '-n', '16'];
  const r = await sqz(['demo', '--model', m, '--tokenizer', t, '--cache', cache, ...small]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: stories260K \(dim 64, 5 layers.*downloaded into/);
  assert.not.match(r.stdout, /to run the demo on a real model/, 'the hint is for the synthetic fallback only');
  const rows = r.stdout.split('\n').filter((l) => /^\| (f32|SqueezeLLM [34]-bit) /.test(l));
  assert.is(rows.length, 3, r.stdout);
  for (const row of rows) assert.ok(Number.isFinite(Number(row.split('|')[4])), row);
  assert.match(r.stdout, /f32 \(greedy\):\n {2}Once upon a time, there was a little girl named Lily/);
  assert.ok(readFileSync(cachePath(m, cache)).equals(readFileSync(model)));
  assert.ok(existsSync(cachePath(t, cache)));
  assert.is(server.requests.get('/m/stories260K.bin'), 1);
  // a bad URL given with --model is an error, not a fallback
  const bad = await sqz(['demo', '--model', `${server.url}/m/nope.bin`, '--cache', cache]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /^sqz: download of http:\/\/127\.0\.0\.1:\d+\/m\/nope\.bin failed: HTTP 404/);
});

test('sqz demo --offline ends with one line saying how to run it on a local checkpoint', async () => {
  const r = await sqz(['demo', '--offline', '--calib-sequences', '2', '--eval-sequences', '1', '--seq-len', '16', '--samples', '2', '-n', '4']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: synthetic/);
  const last = r.stdout.trimEnd().split('\n').at(-1)!;
  assert.match(last, /^to run the demo on a real model: sqz demo --model DIR_OR_FILE \(/);
});

test('sqz demo --help', async () => {
  const r = await sqz(['demo', '--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /usage: sqz demo/);
  assert.match(r.stdout, /--offline/);
});

test.run();
