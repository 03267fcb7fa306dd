// The single-file runtime bundle (build/squeeze-edge.mjs) as a serverless function ships it: copied
// alone into an empty folder with no node_modules, it imports nothing but Node built-ins, loads
// a dense and a quantized .sqz, and generates the same greedy text as the runtime run from
// sources; with build/kernel-worker.mjs beside it, two threads give that text too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { quantizeBaseline } from '../../tools/baselines/index.ts';
import { quantize } from '../../tools/squeezellm/steps.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot } from '../helpers.ts';
import { greedyFromSources, MAX_TOKENS, PROMPT } from './_greedy.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-serverless-'));
const fn = join(tmp, 'function');
const bundle = join(repoRoot, 'build', 'squeeze-edge.mjs');

// What a user's handler does: import the bundle, load a model, generate greedily.
const HANDLER = `
const { loadModel } = await import('./squeeze-edge.mjs');
const model = await loadModel(process.argv[2], { threads: Number(process.argv[3]) });
let text = '';
for await (const piece of model.generate(${JSON.stringify(PROMPT)}, { temperature: 0, maxTokens: ${MAX_TOKENS} })) text += piece;
await model.close();
process.stdout.write(JSON.stringify(text));
`;

test.before(async () => {
  mkdirSync(fn);
  copyFileSync(bundle, join(fn, 'squeeze-edge.mjs'));
  writeFileSync(join(fn, 'handler.mjs'), HANDLER);
  const shape = { dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 9 };
  await writeSyntheticModel(join(fn, 'f32.sqz'), shape);
  await quantize(join(fn, 'f32.sqz'), join(fn, 'nuq.sqz'), { bits: 4 });
  await quantizeBaseline(join(fn, 'f32.sqz'), join(fn, 'rtn.sqz'), { method: 'rtn', bits: 4, groupSize: 32 });
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the bundle imports and requires only Node built-ins', () => {
  const src = readFileSync(bundle, 'utf8');
  const pattern = /(?:^|[\s;])(?:import|export)[^'"]*?from\s*["']([^"']+)["']|(?:import|require)\(\s*["']([^"']+)["']\s*\)/gm;
  const specifiers = [...src.matchAll(pattern)].map((m) => m[1] ?? m[2]);
  assert.ok(specifiers.length > 0, 'found the bundle imports');
  for (const s of specifiers) assert.ok(isBuiltin(s), `bundle imports '${s}'`);
});

function fromBundle(file: string, threads: number): string {
  const r = spawnSync(process.execPath, ['handler.mjs', file, String(threads)], { cwd: fn, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('alone in a folder, the bundle generates what the sources generate (f32, nuq, uniform)', async () => {
  for (const f of ['f32.sqz', 'nuq.sqz', 'rtn.sqz']) {
    const want = await greedyFromSources(join(fn, f));
    assert.ok(want.length > 0, f);
    assert.is(fromBundle(f, 1), want, f);
  }
});

test('two threads need kernel-worker.mjs beside the bundle: without it a clear error, with it the same text', async () => {
  const r = spawnSync(process.execPath, ['handler.mjs', 'nuq.sqz', '2'], { cwd: fn, encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /kernel-worker\.mjs is missing/);
  copyFileSync(join(repoRoot, 'build', 'kernel-worker.mjs'), join(fn, 'kernel-worker.mjs'));
  assert.is(fromBundle('nuq.sqz', 2), await greedyFromSources(join(fn, 'nuq.sqz')));
});

test.run();
