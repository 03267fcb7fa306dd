// sqz serve as a user starts it: it prints its address, answers, and stops on SIGINT; a bad
// --port is one line and exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-serve-'));
const sqz = join(repoRoot, 'bin/sqz.mjs');

test('sqz serve listens on 127.0.0.1, answers, and exits 0 on SIGINT', async () => {
  const model = join(tmp, 'm.sqz');
  await writeSyntheticModel(model, { seed: 2, maxSeqLen: 64 });
  const child = spawn(process.execPath, [sqz, 'serve', model, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30000); // bounded
  try {
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        err += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'the cat', max_tokens: 3, temperature: 0 }) });
    assert.is(r.status, 200);
    assert.is((await r.json()).usage.completion_tokens, 3);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    assert.is(await exited, 0);
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
});

test('a bad --port is one line, exit 1', () => {
  const r = spawnSync(process.execPath, [sqz, 'serve', join(tmp, 'm.sqz'), '--port', '70000'], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^sqz: --port must be at most 65535, got 70000\n$/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
