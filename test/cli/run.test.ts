// sqz run / ppl at the command line: every option checked before anything is printed, the prompt
// from a file or standard input, --json, --stop, and sqz --version.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../../src/index.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-run-'));
const model = join(tmp, 'm.sqz');

function sqz(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8', input });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test.before(async () => {
  await writeSyntheticModel(model, { seed: 2, maxSeqLen: 64 });
});

test('a bad option is one line on stderr, exit 1, and nothing on stdout (the prompt is not echoed first)', () => {
  const cases: [string[], RegExp][] = [
    [['-n', 'abc'], /--steps expects an integer, got 'abc'/],
    [['-n', '-5'], /--steps must be at least 0, got -5/],
    [['-t', '-1'], /--temperature must be at least 0, got -1/],
    [['--temperature', '-0.5'], /--temperature must be at least 0/],
    [['--top-p', '0'], /--top-p must be in \(0, 1\], got 0/],
    [['--top-p', '1.5'], /--top-p must be in \(0, 1\]/],
    [['--min-p', '1'], /--min-p must be in \[0, 1\)/],
    [['--repeat-penalty', '0'], /--repeat-penalty must be greater than 0/],
    [['-k', '-3'], /--top-k must be at least 0/],
    [['--stop', ''], /--stop needs a non-empty text/],
    [['-p', 'x', '-f', join(tmp, 'p.txt')], /--prompt or --file, not both/],
    [['-f', join(tmp, 'missing.txt')], /no such file/],
  ];
  for (const [args, want] of cases) {
    const r = sqz(['run', model, ...args]);
    const label = `sqz run ${args.join(' ')}: ${r.stderr}`;
    assert.is(r.code, 1, label);
    assert.is(r.stdout, '', label);
    assert.is(r.stderr.trim().split('\n').length, 1, label);
    assert.match(r.stderr, want, label);
  }
  const r = sqz(['ppl', model, '--text', join(tmp, 'none.txt'), '--ctx', '-4']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--ctx must be at least 2, got -4/);
});

test('--json gives the text, figures and finish reason; -f - reads the prompt from stdin; --stop cuts the text', async () => {
  const prompt = 'the cat sat on';
  const r = sqz(['run', model, '-f', '-', '-t', '0', '-n', '30', '--json'], prompt);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const m = await loadModel(model);
  const alone = await m.complete(prompt, { temperature: 0, maxTokens: 30 });
  assert.is(out.prompt, prompt);
  assert.is(out.text, alone.text);
  assert.is(out.finishReason, alone.finishReason);
  assert.is(out.generatedTokens, alone.generatedTokens);
  assert.is(out.promptTokens, alone.promptTokens);
  assert.ok(out.generateTokensPerSecond > 0);

  const file = join(tmp, 'p.txt');
  writeFileSync(file, prompt);
  const stop = alone.text.slice(5, 8);
  const s = sqz(['run', model, '-f', file, '-t', '0', '-n', '30', '--stop', 'never-there', '--stop', stop]);
  assert.is(s.code, 0, s.stderr);
  assert.is(s.stdout, prompt + alone.text.slice(0, alone.text.indexOf(stop)) + '\n');
  assert.match(s.stderr, /stopped at/);
  await m.close();
});

test('ppl --json equals the API', async () => {
  const text = join(tmp, 't.txt');
  writeFileSync(text, 'the cat sat on the mat and the dog ran to see it. '.repeat(3));
  const r = sqz(['ppl', model, '--text', text, '--ctx', '32', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const m = await loadModel(model, { ctx: 32 });
  const want = await m.perplexity(readFileSync(text, 'utf8'), { ctx: 32 });
  assert.ok(Math.abs(out.perplexity - want.perplexity) < 1e-9 * want.perplexity, `${out.perplexity} vs ${want.perplexity}`);
  assert.is(out.tokens, want.tokens);
  assert.ok(out.tokensPerSecond > 0);
  await m.close();
});

test('Ctrl-C stops sqz run: the figures are still printed, and the exit status is 130 (SIGINT), with or without --json', async () => {
  const long = join(tmp, 'long.sqz');
  await writeSyntheticModel(long, { seed: 3, dim: 128, hiddenDim: 344, nLayers: 4, maxSeqLen: 4096 });
  for (const json of [false, true]) {
    // 4000 greedy tokens on the plain TypeScript backend take seconds; the signal goes after the first output
    const args = ['run', long, '-t', '0', '-n', '4000', '--backend', 'js', ...(json ? ['--json'] : [])];
    const child = spawn(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const interrupt = () => {
      if (!signalled) child.kill('SIGINT'); // once: a second Ctrl-C ends the process at once
      signalled = true;
    };
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!json && stdout.length > 'Once upon a time'.length) interrupt();
    });
    // --json prints nothing until the end: signal once the model is surely loaded and generating
    // (the 4000 tokens take some 20 s of CPU on this backend)
    if (json) setTimeout(interrupt, 5000);
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.is(code, 130, `${args.join(' ')}: ${stderr}`);
    if (json) {
      assert.ok(stdout !== '', `no JSON: the signal came before the generation began? ${stderr}`);
      const out = JSON.parse(stdout);
      assert.is(out.finishReason, 'aborted');
      assert.ok(out.generatedTokens < 4000, `${out.generatedTokens} tokens`);
    } else assert.match(stderr, /generation: \d+ tokens.*stopped by Ctrl-C/);
  }
});

test('sqz --version prints the package version', () => {
  const r = sqz(['--version']);
  assert.is(r.code, 0);
  assert.is(r.stdout.trim(), JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
