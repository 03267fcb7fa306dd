// What a loaded model costs in memory: for each .sqz file, a fresh Node process loads it with the
// single-file bundle's loadModel (one thread, wasm backend), collects garbage and reports the WASM memory's size, the
// bytes its heap placed, the process RSS and the ArrayBuffers the JS side still holds; then the time
// per generated token (greedy, after a 16-token prompt). One process per file, so no model's
// leftovers count against the next.
//
//   node scripts/build.mjs && node --import tsx bench/memory.ts [--out FILE] [--tokens N] [--bundle FILE] [FILE.sqz ...]
//
// --bundle: another build of build/squeeze-edge.mjs (to compare two versions of the runtime).
//
// Without files it measures stories15M-shaped synthetic models (dim 288, hidden 768, 6 layers,
// vocab 32000), built once into a cache folder with the commands docs/SERVERLESS.md lists: f32,
// f16 (`sqz convert --dtype f16`), SqueezeLLM 4-bit (`sqz quantize --bits 4 --no-fisher`) and 4-bit
// with an f16 embedding (`--layer-bits embed=f16`). Writes a markdown table to
// bench/results/memory.md (or --out) and prints it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: argv, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, tokens: { type: 'string' }, bundle: { type: 'string' } } });
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tokens = Number(argv.tokens ?? 64);
const MiB = 2 ** 20;

interface Measure {
  /** RSS after importing the bundle, before loading. */
  rss0: number;
  wasmMemory: number;
  heapUsed: number;
  rss: number;
  arrayBuffers: number;
  jsHeap: number;
  msPerToken: number;
}

const files = positionals.length ? positionals : syntheticFiles();
const bundle = argv.bundle ?? join(root, 'build', 'squeeze-edge.mjs');
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs first`);
const rows = files.map((file) => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child(bundle, file)], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file}: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as Measure;
  const line = `| ${basename(file)} | ${(statSync(file).size / 1e6).toFixed(1)} MB | ${mib(m.wasmMemory)} | ${mib(m.heapUsed)} | ${mib(m.rss)} (+${mib(m.rss - m.rss0)}) | ${mib(m.arrayBuffers)} | ${mib(m.jsHeap)} | ${m.msPerToken.toFixed(2)} ms |`;
  console.error(line);
  return line;
});
const text =
  `Command: \`node --import tsx bench/memory.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`\n\n` +
  `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(2)} at the end\n\n` +
  `After loadModel and two garbage collections, one thread. WASM memory: the shared memory's size; placed: the bytes its heap handed out; ` +
  `RSS: the whole process running the single-file bundle build/squeeze-edge.mjs (in brackets: its growth from before the load); ArrayBuffers and JS heap: what the JS side still holds. ` +
  `Per token: the mean of ${tokens} greedy tokens after a 16-token prompt (one run, not interleaved: bench/kernels.ts compares speeds).\n\n` +
  `| file | size | WASM memory | placed | RSS | ArrayBuffers | JS heap | per token |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}\n`;
const out = argv.out ?? join(root, 'bench', 'results', 'memory.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(text);

/** The child process's script: load one model with the bundle and print a Measure as one JSON line. */
function child(bundle: string, file: string): string {
  return `
    const { loadModel } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
    gc();
    const rss0 = process.memoryUsage().rss;
    const model = await loadModel(${JSON.stringify(file)});
    gc();
    gc();
    const heap = model.backend.heap;
    const mem = process.memoryUsage();
    const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
    const prompt = Array.from({ length: 16 }, (_, i) => (i * 31 + 3) % model.config.vocabSize);
    let next = model.forward(prompt, 0);
    const t0 = performance.now();
    for (let pos = prompt.length; pos < prompt.length + ${tokens}; pos++) next = model.forward([argmax(next)], pos);
    const msPerToken = (performance.now() - t0) / ${tokens};
    await model.close();
    console.log(JSON.stringify({ rss0, wasmMemory: heap.memory.buffer.byteLength, heapUsed: heap.used, rss: mem.rss, arrayBuffers: mem.arrayBuffers, jsHeap: mem.heapUsed, msPerToken }));
  `;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** The four stories15M-shaped files, built with the CLI into a cache folder unless already there. */
function syntheticFiles(): string[] {
  const dir = join(tmpdir(), 'squeeze-edge-bench-memory');
  mkdirSync(dir, { recursive: true });
  const f32 = join(dir, 's15.sqz');
  const shape = '{ dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, maxSeqLen: 256, seed: 1 }';
  const steps: [string, string[]][] = [
    [f32, ['--import', 'tsx', '-e', `import('./tools/synthetic.ts').then((m) => m.writeSyntheticModel(${JSON.stringify(f32)}, ${shape}))`]],
    [join(dir, 's15h.sqz'), ['bin/sqz.mjs', 'convert', f32, '--dtype', 'f16', '-o', join(dir, 's15h.sqz')]],
    [join(dir, 'q.sqz'), ['bin/sqz.mjs', 'quantize', f32, '--bits', '4', '--no-fisher', '-o', join(dir, 'q.sqz')]],
    [join(dir, 'qh.sqz'), ['bin/sqz.mjs', 'quantize', f32, '--bits', '4', '--no-fisher', '--layer-bits', 'embed=f16', '-o', join(dir, 'qh.sqz')]],
  ];
  for (const [file, args] of steps) {
    if (existsSync(file)) continue;
    console.error(`building ${file}`);
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`building ${file} failed`);
  }
  return steps.map(([file]) => file);
}
