// Output paths: a missing folder or a folder given as the output is one line and exit 1 for every
// writing command; temporaries of a dead process are swept by the next write to the folder; Ctrl-C
// leaves no temporary behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputFile, sweepStaleTemps } from '../../src/format/outpath.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { UsageError } from '../../src/util/errors.ts';
import { syntheticModel, writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot, writeCalibrationText } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-out-'));
const model = join(tmp, 'm.sqz');
const SHAPE = { dim: 16, hiddenDim: 32, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 260, maxSeqLen: 16 };

function sqz(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** A pid that surely is not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test.before(async () => {
  await writeSyntheticModel(model, SHAPE);
});

test('checkOutputFile: a missing folder and a folder are UsageErrors naming the path', () => {
  assert.throws(() => checkOutputFile(join(tmp, 'no', 'such', 'x.sqz')), (e: Error) => e instanceof UsageError && /folder .*no.* does not exist/.test(e.message));
  assert.throws(() => checkOutputFile(tmp), (e: Error) => e instanceof UsageError && e.message.includes(tmp) && /is a folder/.test(e.message));
  assert.throws(() => checkOutputFile(join(model, 'x.sqz')), (e: Error) => e instanceof UsageError && /is not a folder/.test(e.message));
  checkOutputFile(join(tmp, 'fine.sqz'));
});

test('every writing command: missing output folder or a folder as output is one line, exit 1', () => {
  const missing = join(tmp, 'nope', 'deeper', 'out');
  const cases: string[][] = [
    ['convert', model, '-o', `${missing}.sqz`],
    ['convert', model, '-o', tmp],
    ['quantize', model, '--bits', '4', '--no-fisher', '-o', `${missing}.sqz`],
    ['quantize', model, '--bits', '4', '--no-fisher', '-o', tmp],
    ['baseline', model, '--method', 'rtn', '--bits', '4', '-o', `${missing}.sqz`],
    ['baseline', model, '--method', 'rtn', '--bits', '4', '-o', tmp],
    ['export', model, '--gguf', `${missing}.gguf`],
    ['export', model, '--gguf', tmp + '/'],
  ];
  for (const args of cases) {
    const r = sqz(...args);
    assert.is(r.code, 1, `sqz ${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /^sqz: (cannot write .*does not exist|output .* is a folder)/);
  }
  assert.not.ok(existsSync(join(tmp, 'nope')), 'no folder was created');
});

test('sqz eval -o creates at most one folder', () => {
  const text = join(tmp, 'text.txt');
  writeCalibrationText(text, 2);
  const r = sqz('eval', model, '--calib', text, '--text', text, '--methods', 'rtn', '--bits', '4', '-o', join(tmp, 'a', 'b', 'c'));
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /the folder .*a[\\/]b does not exist/);
  assert.not.ok(existsSync(join(tmp, 'a')));
});

test('a write sweeps the temporaries of dead processes beside it, and keeps those of live ones', async () => {
  const dir = join(tmp, 'sweep');
  mkdirSync(dir);
  const dead = deadPid();
  const stale = [`x.sqz.${dead}.tmp`, `x.sqz.${dead}.body.tmp`, `y.gguf.${dead}.tmp`];
  for (const f of stale) writeFileSync(join(dir, f), 'left by a killed write');
  mkdirSync(join(dir, `.sqz-quantize-${dead}-aB3xYz`));
  writeFileSync(join(dir, `.sqz-quantize-${dead}-aB3xYz`, 'lut.sqz'), 'x');
  const live = [`z.sqz.${process.pid}.tmp`, `keep.${dead}.txt`, 'notes.tmp'];
  for (const f of live) writeFileSync(join(dir, f), 'keep');
  mkdirSync(join(dir, `.sqz-quantize-${process.pid}-Qq1234`));
  const m = syntheticModel(SHAPE);
  await writeSqz(join(dir, 'new.sqz'), { config: m.config, tokenizer: m.tokenizer, quant: { method: 'f32' } }, m.records);
  const left = readdirSync(dir).sort();
  assert.equal(left, [...live, `.sqz-quantize-${process.pid}-Qq1234`, 'new.sqz'].sort());
  assert.equal(sweepStaleTemps(join(tmp, 'no-such-folder')), []);
});

test('Ctrl-C during sqz quantize leaves no temporary file or folder', async () => {
  const big = join(tmp, 'big.sqz');
  await writeSyntheticModel(big, { dim: 128, hiddenDim: 344, nLayers: 4, nHeads: 4, nKvHeads: 4, vocabSize: 512, maxSeqLen: 64 });
  const calib = join(tmp, 'calib.txt');
  writeCalibrationText(calib, 40);
  const dir = join(tmp, 'sigint');
  mkdirSync(dir);
  const child = spawn(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), 'quantize', big, '--bits', '3', '--calib', calib, '--samples', '16', '--seq-len', '64', '-o', join(dir, 'q.sqz')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let sawWork = false;
  for (let i = 0; i < 3000 && child.exitCode === null; i++) {
    if (readdirSync(dir).some((n) => n.startsWith('.sqz-quantize-'))) {
      sawWork = true;
      await new Promise((r) => setTimeout(r, 150));
      child.kill('SIGINT');
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const code = await exited;
  assert.ok(sawWork, `the work folder never appeared (exit ${code}): ${stderr}`);
  assert.is(code, 130, stderr);
  assert.equal(readdirSync(dir), [], 'nothing left in the output folder');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
