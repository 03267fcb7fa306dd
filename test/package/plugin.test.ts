// Build-time packing: a tiny app that does `import model from 'squeeze-edge:model'` is bundled with
// esbuild and the squeezeEdge() plugin of squeeze-edge/toolchain. The first build quantizes (the
// emitted .sqz is byte for byte what quantize() writes with the same options), the second finds
// it in the cache (the plugin says so, and the cached file is not rewritten), other options miss
// the cache, `inline: true` puts the bytes in the bundle; each built app runs and generates the
// greedy text of the model quantized directly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { type PreparedModel, quantize, squeezeEdge, type SqueezeEdgePluginOptions } from 'squeeze-edge/toolchain';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot, writeCalibrationText } from '../helpers.ts';
import { greedyFromSources, MAX_TOKENS, PROMPT } from '../bundle/_greedy.ts';

const app = mkdtempSync(join(tmpdir(), 'sqz-plugin-'));
const cacheDir = join(app, 'cache');
test.after(() => rmSync(app, { recursive: true, force: true }));

const APP = `
import { loadModel } from 'squeeze-edge';
import model from 'squeeze-edge:model';
const m = await loadModel(model);
let text = '';
for await (const piece of m.generate(${JSON.stringify(PROMPT)}, { temperature: 0, maxTokens: ${MAX_TOKENS} })) text += piece;
await m.close();
process.stdout.write(JSON.stringify({ text, inline: model instanceof Uint8Array }));
`;

const OPTIONS = { checkpoint: 'ckpt.sqz', bits: 4, calib: 'calib.txt', samples: 4, seqLen: 32, sensitivity: 0.5, cacheDir: 'cache' } as const;

/** Bundles the app with the plugin; returns what the plugin reported. */
async function build(out: { outdir: string } | { outfile: string }, extra: Partial<SqueezeEdgePluginOptions> = {}): Promise<PreparedModel> {
  let prepared: PreparedModel | undefined;
  await esbuild.build({
    absWorkingDir: app,
    entryPoints: ['app.mjs'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20', // inline bytes use esbuild's binary loader, which decodes them as the target allows
    logLevel: 'silent', // failures reach the test as the thrown error
    ...out,
    // the app's import of the runtime, as installed it would resolve to this bundle
    alias: { 'squeeze-edge': join(repoRoot, 'build', 'squeeze-edge.mjs') },
    plugins: [squeezeEdge({ ...OPTIONS, ...extra, onPrepared: (m) => (prepared = m) })],
  });
  assert.ok(prepared, 'the plugin ran');
  return prepared!;
}

function runApp(file: string): { text: string; inline: boolean } {
  const r = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr.slice(-2000));
  return JSON.parse(r.stdout);
}

test.before(async () => {
  await writeSyntheticModel(join(app, 'ckpt.sqz'), { dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 6 });
  writeCalibrationText(join(app, 'calib.txt'), 8);
  writeFileSync(join(app, 'app.mjs'), APP);
});

test('build twice: quantized once, then from the cache; the emitted model is what quantize() writes, and the app runs', async () => {
  const direct = join(app, 'direct.sqz');
  const { checkpoint, cacheDir: _, ...qopts } = OPTIONS;
  await quantize(join(app, checkpoint), { ...qopts, calib: join(app, 'calib.txt'), output: direct });
  const want = await greedyFromSources(direct);

  const first = await build({ outdir: join(app, 'dist') });
  assert.is(first.cacheHit, false);
  assert.ok(first.quantized && first.quantized.seconds.gradients !== undefined, 'the calibration text was used (Fisher step ran)');
  const emitted = join(app, 'dist', 'model.sqz');
  assert.ok(readFileSync(emitted).equals(readFileSync(direct)), 'the emitted .sqz equals quantize() with the same options');
  assert.equal(readdirSync(cacheDir), [`${first.hash}.sqz`]);
  const cachedAt = statSync(first.path).mtimeMs;
  assert.equal(runApp('dist/app.js'), { text: want, inline: false });

  rmSync(join(app, 'dist'), { recursive: true });
  const second = await build({ outdir: join(app, 'dist') });
  assert.is(second.cacheHit, true, 'the second build reuses the cache');
  assert.is(second.quantized, undefined, 'nothing was quantized');
  assert.is(second.hash, first.hash);
  assert.is(statSync(second.path).mtimeMs, cachedAt, 'the cached file was not rewritten');
  assert.equal(runApp('dist/app.js'), { text: want, inline: false });
});

test('other options or other calibration bytes miss the cache, other threads hit it; inline: true bundles the bytes and writes no file', async () => {
  const before = readdirSync(cacheDir).length;
  const threeBits = await build({ outfile: join(app, 'dist3', 'app.mjs') }, { bits: 3 });
  assert.is(threeBits.cacheHit, false);
  writeCalibrationText(join(app, 'calib2.txt'), 8, 2);
  const otherCalib = await build({ outfile: join(app, 'dist4', 'app.mjs') }, { calib: 'calib2.txt' });
  assert.is(otherCalib.cacheHit, false);
  assert.is(readdirSync(cacheDir).length, before + 2);

  // threads change the speed, not the bytes: the same entry
  const inline = await build({ outfile: join(app, 'inline', 'app.mjs') }, { inline: true, threads: 2 });
  assert.is(inline.cacheHit, true);
  assert.equal(readdirSync(join(app, 'inline')), ['app.mjs']);
  const bundled = runApp('inline/app.mjs');
  assert.is(bundled.inline, true);
  assert.is(bundled.text, await greedyFromSources(inline.path));
  assert.ok(!existsSync(join(app, 'inline', 'model.sqz')));
});

test('a missing checkpoint is one clear error from the build', async () => {
  mkdirSync(join(app, 'distx'), { recursive: true });
  try {
    await build({ outdir: join(app, 'distx') }, { checkpoint: 'missing.bin' });
    assert.unreachable('the build should fail');
  } catch (e) {
    assert.match((e as Error).message, /no such file or folder: .*missing\.bin/);
  }
});

test.run();
