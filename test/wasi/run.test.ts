// build/sqz-run.wasm (issue 15) under Node's node:wasi against the JS runtime: the greedy text of
// real checkpoints, converted to .sqz here, is byte for byte what `sqz run --exact` prints; usage
// and input errors are one line on stderr with the CLI's exit codes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot, sharedFiles, skip } from '../helpers.ts';

const wasm = join(repoRoot, 'build', 'sqz-run.wasm');
const tmp = mkdtempSync(join(tmpdir(), 'sqz-wasi-'));
// One small host script: the module with `tmp` preopened as /m, its stdout and stderr passed through.
const host = join(tmp, 'host.mjs');
writeFileSync(
  host,
  `import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
const [wasm, dir, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['sqz-run', ...args], preopens: { '/m': dir }, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(wasm), wasi.getImportObject());
process.exitCode = wasi.start(instance);
`,
);

function sqz(args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function sqzRun(args: string[]) {
  const r = spawnSync(process.execPath, ['--no-warnings', host, wasm, tmp, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const models: { name: string; files: string[] | null; steps: number }[] = [
  { name: 'stories260K', files: sharedFiles('models/stories260K.bin', 'models/tok512.bin'), steps: 40 },
  { name: 'stories3M', files: sharedFiles('models/stories3M/stories3M-q80.bin', 'models/stories3M/tok4096.bin'), steps: 40 },
];

if (!existsSync(wasm)) skip('build/sqz-run.wasm is missing: run npm run build');
else {
  for (const m of models) {
    if (!m.files) {
      skip(`${m.name}: ../shared/models has no ${m.name} checkpoint`);
      continue;
    }
    test(`${m.name} f32: sqz-run.wasm under node:wasi prints the JS runtime's greedy text`, () => {
      const out = join(tmp, `${m.name}.sqz`);
      const conv = sqz(['convert', m.files![0], '--tokenizer', m.files![1], '-o', out]);
      assert.is(conv.code, 0, conv.stderr);
      const want = sqz(['run', out, '-p', 'Once upon a time', '-n', String(m.steps), '-t', '0', '--exact']);
      assert.is(want.code, 0, want.stderr);
      const got = sqzRun([`/m/${m.name}.sqz`, '-p', 'Once upon a time', '-n', String(m.steps), '-t', '0']);
      assert.is(got.code, 0, got.stderr);
      assert.ok(want.stdout.length > 'Once upon a time'.length + 20, 'the JS run printed a story');
      assert.is(got.stdout, want.stdout);
    });
  }

  test('errors: a missing model and a bad option are one line on stderr, exit 1 and 2', () => {
    const missing = sqzRun(['/m/none.sqz', '-n', '4']);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /none\.sqz/);
    assert.is(missing.stderr.trim().split('\n').length, 1);
    const bad = sqzRun(['/m/none.sqz', '-n', 'abc']);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /-n|--steps/);
    assert.is(bad.stderr.trim().split('\n').length, 1);
  });
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
