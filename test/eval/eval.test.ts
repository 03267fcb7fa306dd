// The evaluation (tools/eval/, `sqz eval`, `sqz baseline`) on a tiny synthetic model: the rows,
// results.md and a well-formed results.svg; the same run twice writes byte-identical .sqz files;
// the baseline command's help and its usage errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/util/random.ts';
import { repoRoot } from '../helpers.ts';
import { type EvalMethod, type EvalOptions, type EvalResult, runEval } from '../../tools/eval/index.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { dequantize } from '../../src/format/kinds.ts';
import { decodeGgml, encodeGgml } from '../../tools/gguf/blocks.ts';
import { GT } from '../../tools/gguf/spec.ts';
import { niceTicks, resultsSvg } from '../../tools/eval/report.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-eval-'));
const model = join(tmp, 'tiny.sqz');
const calib = join(tmp, 'calib.txt');
const textFile = join(tmp, 'text.txt');

function words(seed: number, docs: number, n: number): string {
  const rng = new Rng(seed);
  const w = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'see', 'it', 'big', 'red', 'and', 'was'];
  return Array.from({ length: docs }, () => Array.from({ length: n }, () => w[rng.int(w.length)]).join(' ') + '.').join('\n<|endoftext|>\n');
}

test.before(async () => {
  await writeSyntheticModel(model, { dim: 32, hiddenDim: 80, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 1 });
  writeFileSync(calib, words(1, 6, 50));
  writeFileSync(textFile, words(2, 1, 80));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

const opts = (outDir: string): EvalOptions => ({
  calib,
  text: textFile,
  outDir,
  methods: ['rtn', 'squeezellm'],
  bits: [4],
  groups: [0, 16],
  samples: 4,
  seqLen: 32,
  ctx: 32,
  stride: 16,
  seed: 0,
});

let first: EvalResult;

test('eval rtn and squeezellm at 4 bits: rows, results.md, results.svg, results.json', async () => {
  const out = join(tmp, 'a');
  const seen = new Set<string>();
  first = await runEval(model, opts(out), (e) => seen.add(`${e.row}/${e.stage}`));
  assert.equal(
    first.rows.map((r) => [r.method, r.bits, r.group]),
    [
      ['f32', 32, null],
      ['rtn', 4, 0],
      ['rtn', 4, 16],
      ['squeezellm', 4, null],
    ],
  );
  assert.ok(seen.has('f32/ppl') && seen.has('squeezellm b4/quantize') && seen.has('rtn b4 g16/quantize'), [...seen].join(', '));
  assert.equal(readdirSync(out).filter((f) => f.endsWith('.sqz')).sort(), ['f32.sqz', 'rtn-b4-g16.sqz', 'rtn-b4-row.sqz', 'squeezellm-b4.sqz']);
  for (const r of first.rows) {
    assert.ok(Number.isFinite(r.perplexity) && r.perplexity > 1, `${r.method}: ppl ${r.perplexity}`);
    assert.ok(r.bytes > 0);
    assert.is(r.tokens, first.rows[0].tokens);
  }
  assert.is(first.rows[0].avgBits, 32);
  // 4-bit values plus f32 scale and zero per 16 columns: 4 + 64/16 bits, and a little packing
  assert.ok(first.rows[2].avgBits >= 8 && first.rows[2].avgBits < 8.5, `rtn g16 ${first.rows[2].avgBits}`);
  assert.ok(first.rows[1].avgBits > 4 && first.rows[1].avgBits < first.rows[2].avgBits);
  // a 16-entry f16 table per row is large next to 32- and 80-column rows
  assert.ok(first.rows[3].avgBits > 4 && first.rows[3].avgBits < 32, `squeezellm ${first.rows[3].avgBits}`);
  assert.ok(first.rows[2].bytes < first.rows[0].bytes);

  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(json.rows.map((r: { perplexity: number }) => r.perplexity), first.rows.map((r) => r.perplexity));
  assert.is(json.checkpoint, model);
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, '| method | bits | group | bits/weight | file KiB | perplexity | vs f32 |');
  const lines = md.split('\n').filter((l) => /^\| (f32|rtn|squeezellm) /.test(l));
  assert.is(lines.length, 4);
  assert.match(lines[0], /^\| f32 \| 32 \| – \| 32\.000 \|/);
  assert.match(lines[1], /^\| rtn \| 4 \| row \|/);
  assert.match(lines[2], /^\| rtn \| 4 \| 16 \| 8\.\d+ \|/);
  assert.match(lines[3], /^\| squeezellm \| 4 \| – \|/);
  assert.match(lines[3], /\(([+-])\d+\.\d%\) \|$/);

  const svg = readFileSync(join(out, 'results.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const series = [...svg.matchAll(/<g class="series" data-method="([^"]+)"[^>]*>([\s\S]*?)<\/g>/g)];
  assert.equal(series.map((s) => s[1]), ['rtn', 'squeezellm']);
  assert.is((series[0][2].match(/<polyline /g) ?? []).length, 0); // one bit width: nothing to join
  assert.is((series[0][2].match(/<circle /g) ?? []).length, 2);
  assert.is((series[1][2].match(/<circle /g) ?? []).length, 1);
  assert.is((svg.match(/<line class="f32"/g) ?? []).length, 1);
  assert.match(svg, 'average bits per weight');
  assert.match(svg, '>perplexity</text>');
  // balanced tags: every opened element closed or self-closed
  const open = (svg.match(/<(?!\/)[a-z]+[^>]*[^/]>/g) ?? []).length;
  const close = (svg.match(/<\/[a-z]+>/g) ?? []).length;
  assert.is(open, close);
  // coordinates are numbers inside the canvas
  for (const m of svg.matchAll(/ c[xy]="([^"]+)"/g)) assert.ok(Number(m[1]) >= 0 && Number(m[1]) <= 720, m[0]);
});

test('the same eval twice writes byte-identical .sqz files', async () => {
  const out = join(tmp, 'b');
  const second = await runEval(model, { ...opts(out), report: false });
  for (const f of readdirSync(join(tmp, 'a')).filter((f) => f.endsWith('.sqz'))) {
    assert.ok(readFileSync(join(tmp, 'a', f)).equals(readFileSync(join(out, f))), `${f} differs`);
  }
  assert.equal(second.rows.map((r) => r.perplexity), first.rows.map((r) => r.perplexity));
});

test('--jobs 2 (child processes) writes the same files and rows', async () => {
  const out = join(tmp, 'c');
  const seen: number[] = [];
  const third = await runEval(model, { ...opts(out), methods: ['squeezellm', 'rtn'], jobs: 2 }, (e) => e.row.endsWith('2 at a time') && seen.push(e.done));
  assert.equal(seen.slice(0, 1), [0]);
  assert.is(seen[seen.length - 1], 3);
  for (const f of readdirSync(join(tmp, 'a')).filter((f) => f.endsWith('.sqz'))) {
    assert.ok(readFileSync(join(tmp, 'a', f)).equals(readFileSync(join(out, f))), `${f} differs`);
  }
  const byName = (rows: EvalResult['rows']) => Object.fromEntries(rows.map((r) => [`${r.method} ${r.group}`, [r.avgBits, r.perplexity]]));
  assert.equal(byName(third.rows), byName(first.rows));
  assert.equal(third.rows.map((r) => r.method), ['f32', 'squeezellm', 'rtn', 'rtn']);
});

test('the ablations, --layer-bits and --sym: the same files in-process and from child processes; headers say what was done', async () => {
  const o = { ...opts(join(tmp, 'abl1')), methods: ['squeezellm-unweighted', 'gptq-act-order'] as EvalMethod[], groups: [16], layerBits: 'layers.0.mlp=f16', sym: true, report: false };
  const inProcess = await runEval(model, o);
  const children = await runEval(model, { ...o, outDir: join(tmp, 'abl2'), jobs: 2 });
  assert.equal(inProcess.rows.map((r) => r.file.split('/').pop()), ['f32.sqz', 'squeezellm-unweighted-b4.sqz', 'gptq-act-order-b4-g16.sqz']);
  for (const r of inProcess.rows) {
    const f = r.file.split('/').pop()!;
    assert.ok(readFileSync(r.file).equals(readFileSync(join(tmp, 'abl2', f))), `${f} differs`);
    if (r.method === 'f32') continue;
    const h = (await SqzReader.open(r.file)).header.quant;
    assert.is(h.layerBits, 'layers.0.mlp=f16', f);
    if (r.method === 'gptq-act-order') assert.equal([h.method, h.actOrder, h.groupSize, h.sym], ['gptq', true, 16, true]);
    else assert.equal([h.method, h.weighted, h.calibration], ['squeezellm', false, null]);
  }
  assert.equal(children.rows.map((r) => r.perplexity), inProcess.rows.map((r) => r.perplexity));
});

test("llama.cpp's formats: each matrix as our GGUF encoder stores it, read back; bits per weight from the block bytes; one labelled series", async () => {
  const out = join(tmp, 'gguf');
  const r = await runEval(model, { ...opts(out), methods: ['q4_0', 'q4_k_m'], jobs: 2 });
  assert.equal(r.rows.map((x) => [x.method, x.bits, x.group]), [['f32', 32, null], ['q4_0', 4, null], ['q4_k_m', 4, null]]);
  const src = new Map<string, Float32Array>();
  const orig = await SqzReader.open(model);
  for await (const rec of orig.records()) src.set(rec.name, dequantize(rec));
  await orig.close();
  // dim 32: q/k/v/o/gate/up are whole Q4_0 blocks (18 bytes per 32 weights); down's 80 columns are not, so F16
  const dim = 32;
  const hidden = 80;
  const kv = 16;
  const perLayer = { q4: dim * dim * 2 + dim * kv * 2 + 2 * hidden * dim, f16: dim * hidden };
  const want = (8 * ((perLayer.q4 / 32) * 18 + perLayer.f16 * 2)) / (perLayer.q4 + perLayer.f16);
  assert.ok(Math.abs(r.rows[1].avgBits - want) < 1e-9, `q4_0 ${r.rows[1].avgBits} vs ${want}`);
  const stored = await SqzReader.open(r.rows[1].file);
  for await (const rec of stored.records()) {
    const x = src.get(rec.name)!;
    const isLinear = /^layers\.\d+\.(attn|mlp)\./.test(rec.name);
    const t = /mlp\.down$/.test(rec.name) ? GT.F16 : GT.Q4_0;
    assert.equal(dequantize(rec), isLinear ? decodeGgml(t, encodeGgml(t, x), x.length) : x, rec.name);
  }
  await stored.close();
  // q4_k_m on 32-wide rows: every K-quant falls back (Q4_K -> Q5_0, Q6_K -> Q8_0), as llama.cpp's own quantizer
  assert.ok(r.rows[2].avgBits > r.rows[1].avgBits);
  const svg = readFileSync(join(out, 'results.svg'), 'utf8');
  const series = [...svg.matchAll(/<g class="series" data-method="([^"]+)"[^>]*>([\s\S]*?)<\/g>/g)];
  assert.equal(series.map((s) => s[1]), ['llama.cpp']);
  assert.match(series[0][2], />q4_0<\/text>/);
  assert.match(series[0][2], />q4_k_m<\/text>/);
  assert.is((series[0][2].match(/<polyline /g) ?? []).length, 0);
});

test('niceTicks and an svg of one point', () => {
  assert.equal(niceTicks(4.1, 7.9), [4, 5, 6, 7, 8]);
  assert.equal(niceTicks(0.3, 0.52), [0.3, 0.35, 0.4, 0.45, 0.5, 0.55]);
  const svg = resultsSvg([
    { method: 'f32', bits: 32, group: null, avgBits: 32, file: 'x', bytes: 1, perplexity: 10, tokens: 5, seconds: 0 },
    { method: 'gptq', bits: 4, group: 0, avgBits: 4.1, file: 'y', bytes: 1, perplexity: 10, tokens: 5, seconds: 0 },
  ]);
  assert.not.match(svg, /NaN|Infinity/);
  assert.is((svg.match(/<g class="series"/g) ?? []).length, 1);
  // a subtitle says which model and settings, escaped
  const titled = resultsSvg([{ method: 'f32', bits: 32, group: null, avgBits: 32, file: 'x', bytes: 1, perplexity: 10, tokens: 5, seconds: 0 }], 'm.bin, --layer-bits a<b');
  assert.match(titled, />m\.bin, --layer-bits a&lt;b<\/text>/);
});

function sqz(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('sqz baseline --help and its usage errors', () => {
  const h = sqz('baseline', '--help');
  assert.is(h.code, 0, h.stderr);
  assert.match(h.stdout, /^sqz baseline — /);
  for (const o of ['--method', '--bits', '--group', '--sym', '--calib', '--act-order', '--static-groups', '--damp', '-o, --output']) assert.match(h.stdout, o);
  const e = sqz('baseline', model, '--method', 'gptq', '--bits', '4', '-o', join(tmp, 'g.sqz'));
  assert.is(e.code, 1, e.stderr);
  assert.equal(e.stderr.trim().split('\n'), ['sqz: sqz baseline --method gptq needs --calib FILE (calibration text)']);
  const b = sqz('baseline', model, '--method', 'rtn', '--bits', '5', '-o', join(tmp, 'r.sqz'));
  assert.is(b.code, 1);
  assert.match(b.stderr, /^sqz: --bits must be 3, 4 or 8, got 5\n$/);
  const m = sqz('baseline', model, '--method', 'hqq', '--bits', '4', '-o', join(tmp, 'r.sqz'));
  assert.match(m.stderr, /^sqz: --method must be rtn, gptq or awq, got 'hqq'\n$/);
  assert.match(sqz('eval', '--help').stdout, /^sqz eval — /);
});

test('sqz baseline rtn writes a file; sqz eval usage errors', () => {
  const out = join(tmp, 'rtn.sqz');
  const r = sqz('baseline', model, '--method', 'rtn', '--bits', '4', '--group', '16', '-o', out);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*rtn\.sqz: .* KiB, 8\.\d+ bits per quantized weight/);
  const e = sqz('eval', model, '--text', textFile, '-o', join(tmp, 'e'));
  assert.is(e.code, 1);
  assert.match(e.stderr, /^sqz: sqz eval needs --calib FILE/);
  const m = sqz('eval', model, '--calib', calib, '--text', textFile, '--methods', 'rtn,bogus', '-o', join(tmp, 'e'));
  assert.match(m.stderr, /^sqz: --methods: unknown method 'bogus'/);
});

test.run();
