// The package's three entries as a user imports them (by the package's own name, through its
// `exports` map, so the built bundles and declarations are what is tested): the runtime bundles
// take nothing from the toolchain (esbuild's metafile lists their inputs), every option in the
// declarations is documented, and the toolchain entry's wrappers drive the same code as
// the CLI: the separate SqueezeLLM steps give the model quantize() gives, convert/baseline/export
// write what their commands write.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as runtime from 'squeeze-edge';
import * as browser from 'squeeze-edge/browser';
import * as toolchain from 'squeeze-edge/toolchain';
import { rejects, repoRoot } from '../helpers.ts';
import { greedyFromSources } from '../bundle/_greedy.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-entries-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the entries resolve to the built bundles through exports', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  for (const [entry, file] of [['.', 'squeeze-edge'], ['./browser', 'squeeze-edge.browser'], ['./toolchain', 'toolchain']]) {
    assert.equal(pkg.exports[entry], { types: `./build/${file}.d.mts`, import: `./build/${file}.mjs`, default: `./build/${file}.mjs` }, entry);
  }
  assert.is(import.meta.resolve('squeeze-edge'), new URL('build/squeeze-edge.mjs', `file://${repoRoot}/`).href);
  assert.type(runtime.loadModel, 'function');
  assert.type(browser.loadModel, 'function');
  assert.is.not(browser.loadModel, runtime.loadModel, 'the browser entry has its own loadModel (no threads, no files)');
  for (const f of ['quantize', 'baseline', 'convert', 'exportGguf', 'gradients', 'chunk', 'outliers', 'nuq', 'pack', 'synthesize', 'prepareModel', 'squeezeEdge'] as const) {
    assert.type(toolchain[f], 'function', f);
  }
});

test('the runtime bundles (Node and browser) take no input from tools/', () => {
  for (const meta of ['squeeze-edge.meta.json', 'squeeze-edge.browser.meta.json']) {
    const inputs = Object.keys(JSON.parse(readFileSync(join(repoRoot, 'build', meta), 'utf8')).inputs);
    assert.ok(inputs.includes('src/index.ts') && inputs.some((p) => p.startsWith('src/model/')), `${meta} lists the runtime's sources`);
    assert.equal(inputs.filter((p) => p.startsWith('tools/')), [], meta);
  }
});

/** The property names of each `interface <Name>Options` in a declaration file that have no TSDoc comment right above them. */
function undocumentedOptions(dts: string): { checked: number; missing: string[] } {
  const missing: string[] = [];
  let checked = 0;
  for (const m of dts.matchAll(/^(?:export )?interface (\w+Options)\b[^{]*\{\n([\s\S]*?)^\}/gm)) {
    const lines = m[2].split('\n');
    let depth = 0;
    lines.forEach((line, i) => {
      const prop = depth === 0 ? /^\t(?:readonly )?(\w+)\??[:(]/.exec(line) : null;
      if (prop) {
        checked++;
        if (!/\*\/\s*$/.test(lines[i - 1] ?? '')) missing.push(`${m[1]}.${prop[1]}`);
      }
      depth += (line.match(/[{(]/g) ?? []).length - (line.match(/[})]/g) ?? []).length;
    });
  }
  return { checked, missing };
}

test('every option of the three entries is documented in their declarations', () => {
  for (const file of ['squeeze-edge.d.mts', 'squeeze-edge.browser.d.mts', 'toolchain.d.mts']) {
    const { checked, missing } = undocumentedOptions(readFileSync(join(repoRoot, 'build', file), 'utf8'));
    assert.ok(checked >= 20, `${file}: ${checked} options found`);
    assert.equal(missing, [], file);
  }
  // the check itself finds an undocumented option
  assert.equal(undocumentedOptions('export interface XOptions {\n\t/** a */\n\ta?: number;\n\tb: string;\n}\n').missing, ['XOptions.b']);
});

test('toolchain: the separate steps give the model quantize() gives; convert, baseline and exportGguf write loadable files', async () => {
  const ckpt = join(tmp, 'f32.sqz');
  await toolchain.synthesize({ output: ckpt, dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 4 });
  const whole = join(tmp, 'whole.sqz');
  const r = await toolchain.quantize(ckpt, { output: whole, bits: 4, outlierPercent: 0.5 });
  assert.ok(r.avgBits > 4, `${r.avgBits} bits: indices, tables and the sparse part`);
  // two threads: the bundle finds its worker entry (build/tool-worker.mjs beside it), and the file is the same
  await toolchain.quantize(ckpt, { output: join(tmp, 'threads.sqz'), bits: 4, outlierPercent: 0.5, threads: 2 });
  assert.ok(readFileSync(join(tmp, 'threads.sqz')).equals(readFileSync(whole)), 'threads 2 writes the same bytes');

  const weights = join(tmp, 'weights');
  await toolchain.chunk(ckpt, { output: weights });
  const outlierConfig = await toolchain.outliers(weights, { rule: { percent: 0.5 }, output: tmp });
  const sparse = await toolchain.nuq(weights, { output: join(tmp, 'lut'), bits: 4, outlierConfig });
  assert.ok(sparse.nnz > 0, 'outliers went to the sparse part');
  const stepwise = join(tmp, 'steps.sqz');
  await toolchain.pack(ckpt, { output: stepwise, folder: join(tmp, 'lut'), bits: 4, includeSparse: true });
  assert.is(await greedyFromSources(stepwise), await greedyFromSources(whole));

  await toolchain.convert(ckpt, { output: join(tmp, 'f16.sqz'), dtype: 'f16' });
  const rtn = await toolchain.baseline(ckpt, { output: join(tmp, 'rtn.sqz'), method: 'rtn', bits: 4, groupSize: 32 });
  assert.ok(rtn.avgBits > 4, `${rtn.avgBits}`);
  for (const f of ['f16.sqz', 'rtn.sqz']) assert.ok((await greedyFromSources(join(tmp, f))).length > 0, f);
  const gguf = await toolchain.exportGguf(whole, { output: join(tmp, 'm.gguf'), type: 'q8_0' });
  assert.is(readFileSync(join(tmp, 'm.gguf')).subarray(0, 4).toString(), 'GGUF');
  assert.ok(gguf.tensors.some((t) => t.type.toLowerCase() === 'q8_0'), JSON.stringify(gguf.tensors.slice(0, 3)));
  await rejects(toolchain.quantize(ckpt, { output: join(tmp, 'no-such-folder', 'x.sqz'), bits: 4 }), toolchain.UsageError, /no-such-folder does not exist/);
});

test.run();
