// Bad input at the command line: one line on stderr naming the problem, exit code 1, no stack.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot, sharedFiles } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-cli-'));

function sqz(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneLineError(args: string[], pattern: RegExp) {
  const r = sqz(...args);
  assert.is(r.code, 1, `exit code for sqz ${args.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^sqz: /);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.match(lines[0], pattern);
}

test('a missing file', () => {
  expectOneLineError(['run', join(tmp, 'nope.bin')], /no such file/);
});

test('a directory without config.json', () => {
  const d = join(tmp, 'empty');
  mkdirSync(d);
  expectOneLineError(['convert', d, '-o', join(tmp, 'x.sqz')], /config\.json/);
});

test('an unsupported model_type', () => {
  const d = join(tmp, 'gpt2');
  mkdirSync(d);
  writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 8 }));
  expectOneLineError(['run', d], /gpt2/);
});

test('a llama2.c checkpoint whose size does not match its header', () => {
  const f = join(tmp, 'short.bin');
  const header = new Int32Array([64, 172, 5, 8, 4, 512, 512]);
  writeFileSync(f, Buffer.concat([Buffer.from(header.buffer), Buffer.alloc(1000)]));
  expectOneLineError(['convert', f, '-o', join(tmp, 'y.sqz')], /truncated|does not match/);
});

test('--bits other than 3 or 4', () => {
  expectOneLineError(['nuq', tmp, '--bits', '5', '-o', join(tmp, 'lut')], /--bits must be 3 or 4, got 5/);
  expectOneLineError(['quantize', join(tmp, 'm.bin'), '--bits', '5', '--no-fisher', '-o', join(tmp, 'q.sqz')], /--bits must be 3 or 4/);
});

test('unknown options and commands', () => {
  expectOneLineError(['run', 'x', '--bogus'], /bogus/);
  const r = sqz('frobnicate');
  assert.is(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('a prompt longer than the context, and a truncated .sqz', () => {
  const found = sharedFiles('models/stories260K.bin', 'models/tok512.bin');
  if (!found) return;
  const [model, tok] = found;
  expectOneLineError(['run', model, '--tokenizer', tok, '--ctx', '8', '-p', 'Once upon a time there was a very long prompt'], /context/);
  const out = join(tmp, 'm.sqz');
  assert.is(sqz('convert', model, '--tokenizer', tok, '-o', out).code, 0);
  const bytes = readFileSync(out);
  writeFileSync(out, bytes.subarray(0, bytes.length - 100));
  expectOneLineError(['run', out], /truncated/);
});

test('sqz info: the header in words, per tensor, and as JSON; bad --layer-bits and a file that is not a .sqz fail cleanly', async () => {
  const f = join(tmp, 'info.sqz');
  await writeSyntheticModel(f, { dim: 16, hiddenDim: 32, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 260, maxSeqLen: 16 });
  expectOneLineError(['baseline', f, '--method', 'rtn', '--bits', '4', '--layer-bits', 'layers.0', '-o', join(tmp, 'z.sqz')], /'layers\.0' is not PATTERN=VALUE/);
  writeFileSync(join(tmp, 'junk.sqz'), 'not a model');
  expectOneLineError(['info', join(tmp, 'junk.sqz')], /junk\.sqz/);
  const q = join(tmp, 'info-rtn.sqz');
  assert.is(sqz('baseline', f, '--method', 'rtn', '--bits', '4', '--layer-bits', 'layers.0.mlp=8,embed=f16', '-o', q).code, 0);
  const r = sqz('info', q, '--tensors');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /quant\.layerBits: layers\.0\.mlp=8,embed=f16/);
  assert.match(r.stdout, /embed\s+f16\s+260x16/);
  assert.match(r.stdout, /layers\.0\.mlp\.down\s+uniform\s+16x32/);
  const j = JSON.parse(sqz('info', q, '--json').stdout);
  assert.is(j.quant.method, 'rtn');
  assert.is(j.tensors.length, 1 + 9 + 1);
});

test('--help on every command', () => {
  for (const c of ['demo', 'run', 'ppl', 'info', 'convert', 'export', 'quantize', 'baseline', 'eval', 'gradients', 'chunk', 'outliers', 'nuq', 'tune', 'pack', 'selfcheck']) {
    const r = sqz(c, '--help');
    assert.is(r.code, 0);
    assert.match(r.stdout, new RegExp(`usage: sqz ${c}`));
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
