// The package as a user gets it: `npm pack` (prepack builds), then `npm install <tarball>` into an
// empty project in a temporary folder, where nothing of the checkout is reachable but the
// TypeScript compiler. There: `npx sqz --version`, `npx sqz synth` and `npx sqz run` work; a
// JavaScript file imports the runtime, loads the model and generates the greedy text the runtime
// run from sources generates, and quantizes it with the toolchain entry; a strict TypeScript file type-checks against the three entries'
// declarations, and one that misuses them does not (the types are real, not `any`). The tarball
// size is printed. Skips, saying why, only when npm cannot install the tarball (e.g. offline with
// an empty cache).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, skip } from '../helpers.ts';
import { greedyFromSources, MAX_TOKENS, PROMPT } from '../bundle/_greedy.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-package-'));
const app = join(tmp, 'app');
const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string;
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a command; the environment drops the variables `npm test` sets about the checkout's package, so the app's npm sees only its own. */
function sh(cmd: string, args: string[], cwd: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(package|lifecycle)_/i.test(k)));
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

// generates from the model, quantizes it with the toolchain entry (two threads: its worker bundle), generates from that
const JS_APP = `
import { loadModel, UsageError } from 'squeeze-edge';
import * as browser from 'squeeze-edge/browser';
import { quantize, squeezeEdge } from 'squeeze-edge/toolchain';
if (typeof browser.loadModel !== 'function' || typeof squeezeEdge !== 'function') throw new Error('an entry is missing its exports');
async function greedy(file) {
  const model = await loadModel(file);
  let text = '';
  for await (const piece of model.generate(${JSON.stringify(PROMPT)}, { temperature: 0, maxTokens: ${MAX_TOKENS} })) text += piece;
  await model.close();
  return text;
}
const text = await greedy(process.argv[2]);
await quantize(process.argv[2], { output: 'q4.sqz', bits: 4, threads: 2 });
const quantized = await greedy('q4.sqz');
const bad = await loadModel(process.argv[2], { backend: 'nope' }).catch((e) => e);
process.stdout.write(JSON.stringify({ text, quantized, usageError: bad instanceof UsageError }));
`;

const TS_APP = `
/// <reference types="squeeze-edge/model" />
import { loadModel, type GenerateOptions, type LoadOptions, type Model } from 'squeeze-edge';
import model from 'squeeze-edge:model'; // what the build-time plugin provides (type only here: tsc does not run it)
// the browser bundle is a bundle of its own: its Model is its own class, and typed as such
import { loadModel as loadInBrowser, type Model as BrowserModel } from 'squeeze-edge/browser';
import { prepareModel, quantize, squeezeEdge, type QuantizeResult } from 'squeeze-edge/toolchain';

const load: LoadOptions = { backend: 'wasm', threads: 1, ctx: 64 };
const gen: GenerateOptions = { temperature: 0, maxTokens: 8, stop: ['.'], topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, seed: 1, signal: new AbortController().signal };
export async function run(bytes: Uint8Array): Promise<string> {
  const model: Model = await loadModel(bytes, load);
  const r = await model.complete('Once', gen);
  await model.close();
  return r.text + r.finishReason;
}
export const fromUrl = (u: URL): Promise<BrowserModel> => loadInBrowser(u, { threads: 1 });
export const q: Promise<QuantizeResult> = quantize('ckpt', { output: 'm.sqz', bits: 4, calib: 'calib.txt' });
export const plugin: { name: string } = squeezeEdge({ checkpoint: 'ckpt', bits: 3 });
export const fromPlugin: Promise<Model> = loadModel(model);
export const prepared = prepareModel({ checkpoint: 'ckpt', bits: 4 }).then((m) => m.cacheHit && m.path.length);
`;

// each line misuses the types; tsc must report every one
const TS_BAD = `
import { loadModel } from 'squeeze-edge';
import { quantize } from 'squeeze-edge/toolchain';
loadModel(42);
loadModel('m.sqz', { backend: 'gpu' });
quantize('ckpt', { output: 'm.sqz', bits: 5 });
`;

const TSCONFIG = { compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], noEmit: true, skipLibCheck: false } };

test('npm pack, then npm install <tarball> in an empty project: the CLI, JavaScript and TypeScript work there', async () => {
  const packed = sh('npm', ['pack', '--pack-destination', tmp, '--json'], repoRoot);
  assert.is(packed.code, 0, packed.err);
  const [info] = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  const tarball = join(tmp, info.filename);
  console.log(`  tarball ${info.filename}: ${(statSync(tarball).size / 1024).toFixed(1)} KiB packed, ${(info.unpackedSize / 1024).toFixed(1)} KiB unpacked, ${info.files.length} files`);
  const paths = info.files.map((f) => f.path);
  for (const want of ['build/squeeze-edge.mjs', 'build/squeeze-edge.d.mts', 'build/toolchain.d.mts', 'types/model.d.ts', 'build/squeeze-edge.browser.mjs', 'build/sqz.mjs', 'build/kernels.wasm', 'bin/sqz.mjs', 'LICENSE', 'README.md']) assert.ok(paths.includes(want), `${want} is packed`);
  assert.equal(paths.filter((p) => /\.map$|^(src|tools|test|assembly|bench|docs)\//.test(p)), [], 'no sources or source maps');

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const installed = sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], app);
  if (installed.code !== 0) return skip(`npm cannot install the tarball here: ${installed.err.trim().split('\n').pop()}`);
  assert.equal(readdirSync(join(app, 'node_modules', 'squeeze-edge', 'build')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.mts')), []);

  const v = sh('npx', ['--no-install', 'sqz', '--version'], app);
  assert.is(v.code, 0, v.err);
  assert.is(v.out.trim(), version);
  const synth = sh('npx', ['--no-install', 'sqz', 'synth', '-o', 'm.sqz', '--dim', '64', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--ffn', '160', '--vocab', '300', '--ctx', '64', '--seed', '5'], app);
  assert.is(synth.code, 0, synth.err);
  const model = join(app, 'm.sqz');
  const want = await greedyFromSources(model);
  assert.ok(want.length > 0);

  const run = sh('npx', ['--no-install', 'sqz', 'run', 'm.sqz', '-p', PROMPT, '-t', '0', '-n', String(MAX_TOKENS), '--json'], app);
  assert.is(run.code, 0, run.err);
  assert.is(JSON.parse(run.out).text, want, 'sqz run in the app');

  writeFileSync(join(app, 'app.mjs'), JS_APP);
  const js = sh(process.execPath, ['app.mjs', 'm.sqz'], app);
  assert.is(js.code, 0, js.err);
  assert.equal(JSON.parse(js.out), { text: want, quantized: await greedyFromSources(join(app, 'q4.sqz')), usageError: true });

  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, files: ['app.ts'] }));
  writeFileSync(join(app, 'app.ts'), TS_APP);
  const ok = sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  assert.is(ok.code, 0, `tsc on a correct app: ${ok.out}${ok.err}`);
  // TypeScript's older resolution ignores exports: types and typesVersions lead it to the same files
  const old = { compilerOptions: { ...TSCONFIG.compilerOptions, module: 'esnext', moduleResolution: 'node10', ignoreDeprecations: '5.0' }, files: ['app.ts'] };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(old));
  const ok10 = sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  assert.is(ok10.code, 0, `tsc (moduleResolution node10) on a correct app: ${ok10.out}${ok10.err}`);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, files: ['bad.ts'] }));
  writeFileSync(join(app, 'bad.ts'), TS_BAD);
  const bad = sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  assert.is.not(bad.code, 0);
  for (const line of [4, 5, 6]) assert.match(bad.out, new RegExp(`bad\\.ts\\(${line},`), `tsc reports line ${line}: ${bad.out}`);
});

test.run();
