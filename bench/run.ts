// `npm run bench`: every speed figure of docs/PERFORMANCE.md, rerun on whatever the tree holds.
//
//   npm run bench                    (node scripts/build.mjs && node --import tsx bench/run.ts)
//   node --import tsx bench/run.ts [--quick | --tiny] [--rounds N] [--only REGEX] [--no-browser]
//                                  [--no-kernels] [--out FILE.json] [--docs FILE.md | --no-docs] [--help]
//
// 1. The models (bench/_models.ts): seeded synthetic Llamas of ~15M, 134M and ~500M parameters
//    from `sqz synth`, quantized by `sqz quantize` (4-bit, 3-bit, 4-bit + 0.45% sparse; the exact
//    and --fast paths run the same file) and exported by `sqz export` (GGUF Q4_0, IQ4_NL, f32),
//    cached in .cache/bench (or $SQZ_BENCH_CACHE) and built only when missing.
// 2. The memory bandwidth (bench/_bandwidth.ts), at the start and at the end.
// 3. The kernel micro-benches (bench/kernels.ts, --quick), into bench/results/kernels.md.
// 4. End to end in Node (bench/_e2e.ts): our bundle against native llama.cpp (node-llama-cpp,
//    bench/peers), each run a fresh process, products interleaved round by round, medians.
// 5. In headless Chromium (bench/_browser.ts): our browser bundle against @wllama/wllama.
// 6. The profile of a decode step and of a 64-token prompt batch (bench/_profile.ts).
// Writes bench/results/<date>-<host>.json and the generated part of docs/PERFORMANCE.md.
// --quick: the 15M model only, one round, no kernel micro-benches: under 3 minutes once its
// files are built. A peer that is not installed (npm run peers:install) or a missing Chromium
// leaves its rows out and says so; nothing else is skipped.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureBandwidth } from './_bandwidth.ts';
import { type BrowserGroup, type BrowserProduct, findChromium, runBrowser, WLLAMA_DIR } from './_browser.ts';
import { type GroupResult, runGroup } from './_e2e.ts';
import { type FileKind, PRODUCTS, type Shape, SHAPES, ensureFiles, filePath, repoRoot, synthCommand } from './_models.ts';
import { type Profile, profileDecode } from './_profile.ts';
import { type BenchResults, renderPerformance, spliceGenerated } from './_report.ts';

const USAGE = `npm run bench [-- options]     (node scripts/build.mjs && node --import tsx bench/run.ts [options])
  --quick            the 15M model only, one round, no kernel micro-benches (under 3 minutes once built)
  --tiny             a 0.2M-parameter model, one round: the harness's own smoke test (test/bench/)
  --rounds N         rounds per group (default 5, 3 for the slow groups; 1 with --quick)
  --only REGEX       only the groups whose name matches ('m134, 1 thread', 'browser', 'profile', 'kernels')
  --no-browser       leave out the Chromium part
  --no-kernels       leave out bench/kernels.ts
  --out FILE.json    where the results go (default bench/results/<date>-<host>.json)
  --docs FILE.md     the page whose generated part is rewritten (default docs/PERFORMANCE.md)
  --no-docs          write no page
Models are built into .cache/bench ($SQZ_BENCH_CACHE) when missing; docs/PERFORMANCE.md says what is measured.`;

const options = {
  quick: { type: 'boolean' },
  tiny: { type: 'boolean' },
  rounds: { type: 'string' },
  only: { type: 'string' },
  'no-browser': { type: 'boolean' },
  'no-kernels': { type: 'boolean' },
  out: { type: 'string' },
  docs: { type: 'string' },
  'no-docs': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
let argv: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
try {
  argv = parseArgs({ options }).values;
  if (argv.rounds !== undefined && !(Number.isInteger(Number(argv.rounds)) && Number(argv.rounds) >= 1)) throw new Error(`--rounds must be a whole number from 1, got '${argv.rounds}'`);
} catch (e) {
  console.error(`bench/run.ts: ${(e as Error).message} (see --help)`);
  process.exit(1);
}
if (argv.help) {
  console.log(USAGE);
  process.exit(0);
}
const t0 = performance.now();
const log = (s: string) => console.error(s);
const mode = argv.tiny ? 'tiny' : argv.quick ? 'quick' : 'full';
const rounds = (full: number) => Number(argv.rounds ?? (mode === 'full' ? full : 1));
const wanted = (name: string) => !argv.only || new RegExp(argv.only).test(name);

interface NativePlan {
  shape: Shape;
  products: string[];
  threads: number;
  prompt: number;
  gen: number;
  rounds: number;
}

const ALL = ['q4_0', 'q4-fast', 'iq4_nl', 'q4', 'gguf-f32', 'q3-fast', 'q3', 'q4s-fast', 'f32'];
const S = SHAPES;
const groupName = (g: NativePlan) => `${g.shape.id}, ${g.threads} thread${g.threads > 1 ? 's' : ''}, position ${g.prompt}`;
const plans: NativePlan[] =
  mode === 'full'
    ? [
        { shape: S.m134, products: ALL, threads: 1, prompt: 64, gen: 32, rounds: rounds(5) },
        { shape: S.m134, products: ['q4_0', 'q4-fast', 'q4', 'q3-fast', 'q4s-fast'], threads: 2, prompt: 64, gen: 32, rounds: rounds(5) },
        { shape: S.m134, products: ['q4_0', 'q4-fast', 'q4'], threads: 1, prompt: 512, gen: 32, rounds: rounds(5) },
        { shape: S.m134, products: ['q4_0', 'q4-fast', 'q4'], threads: 1, prompt: 2048, gen: 16, rounds: rounds(3) },
        { shape: S.s15, products: ['q4_0', 'q4-fast', 'q4', 'q3-fast', 'gguf-f32', 'f32'], threads: 1, prompt: 64, gen: 64, rounds: rounds(5) },
        { shape: S.m500, products: ['q4_0', 'q4-fast', 'q4'], threads: 1, prompt: 64, gen: 16, rounds: rounds(3) },
      ]
    : mode === 'quick'
      ? [{ shape: S.s15, products: ['q4_0', 'q4-fast', 'q4', 'f32'], threads: 1, prompt: 64, gen: 32, rounds: rounds(1) }]
      : [{ shape: S.tiny, products: ['q4_0', 'q4-fast'], threads: 1, prompt: 16, gen: 8, rounds: rounds(1) }];
const native = plans.filter((g) => wanted(groupName(g)));

/** The browser products: our bundle (one thread) and wllama (1 and 2 threads), as [product, engine, threads]. */
const BROWSER: [string, 'sqz' | 'wllama', number][] =
  mode === 'full'
    ? [['q4-fast', 'sqz', 1], ['q4_0', 'wllama', 1], ['q4', 'sqz', 1], ['q4_0', 'wllama', 2], ['gguf-f32', 'wllama', 1]]
    : [['q4-fast', 'sqz', 1], ['q4_0', 'wllama', 1]];
const browserShape = mode === 'full' ? S.m134 : mode === 'quick' ? S.s15 : S.tiny;
function browserProducts(files: Map<FileKind, string>): BrowserProduct[] {
  return BROWSER.map(([key, engine, threads]) => {
    const p = PRODUCTS[key];
    const label = engine === 'sqz' ? p.label : `wllama ${p.label.replace('llama.cpp ', '')}, ${threads} thread${threads > 1 ? 's' : ''}`;
    return { key: `${engine} ${key} ${threads}`, label, engine, file: files.get(p.file)!, threads, fast: p.fast };
  });
}

interface ProfilePlan {
  kind: FileKind;
  fast: boolean;
  threads: number;
  position: number;
  /** Tokens per profiled step (default 1: decode). */
  batch?: number;
}
const profileShape = mode === 'full' ? S.m134 : mode === 'quick' ? S.s15 : S.tiny;
const profiles: ProfilePlan[] =
  mode === 'full'
    ? [
        { kind: 'q4', fast: true, threads: 1, position: 64 },
        { kind: 'q4', fast: false, threads: 1, position: 64 },
        { kind: 'q3', fast: true, threads: 1, position: 64 },
        { kind: 'q4s', fast: true, threads: 1, position: 64 },
        { kind: 'f32', fast: false, threads: 1, position: 64 },
        { kind: 'q4', fast: true, threads: 1, position: 2048 },
        { kind: 'q4', fast: true, threads: 2, position: 64 },
        { kind: 'q4', fast: true, threads: 1, position: 0, batch: 64 },
        { kind: 'q4', fast: false, threads: 1, position: 0, batch: 64 },
      ]
    : [
        { kind: 'q4', fast: true, threads: 1, position: 64 },
        { kind: 'q4', fast: true, threads: 1, position: 0, batch: 16 },
      ];

// --- 1. the models, each built when the first part that runs it comes (so measuring starts early)
const filesByShape = new Map<string, Map<FileKind, string>>();
let buildMs = 0;
const need = (shape: Shape, kinds: FileKind[]) => {
  const b0 = performance.now();
  const have = filesByShape.get(shape.id) ?? new Map<FileKind, string>();
  for (const [k, v] of ensureFiles(shape, kinds, log)) have.set(k, v);
  filesByShape.set(shape.id, have);
  buildMs += performance.now() - b0;
  return have;
};

// --- 2. bandwidth, before
log('memory bandwidth');
const [bandwidthMiB, passes] = mode === 'tiny' ? [32, 3] : [256, 7];
const bandwidthBefore = await measureBandwidth(bandwidthMiB, passes);

// --- 3. kernel micro-benches
let kernels: BenchResults['kernels'];
if (mode === 'full' && !argv['no-kernels'] && wanted('kernels')) {
  log('kernel micro-benches: node --import tsx bench/kernels.ts --quick');
  const k0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'kernels.ts'), '--quick'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  kernels = { command: 'node --import tsx bench/kernels.ts --quick', file: 'bench/results/kernels.md', ok: r.status === 0, seconds: (performance.now() - k0) / 1000 };
}

// --- 4. end to end in Node
const groups: GroupResult[] = [];
for (const g of native) {
  log(`end to end: ${groupName(g)} (${g.rounds} round${g.rounds > 1 ? 's' : ''})`);
  const files = need(g.shape, g.products.map((k) => PRODUCTS[k].file));
  groups.push(runGroup({ ...g, name: groupName(g), files }, log));
}

// --- 5. the browser
let browser: BrowserGroup | { skipped: string } | undefined;
if (!argv['no-browser'] && wanted('browser')) {
  const browserFiles = need(browserShape, BROWSER.map(([key]) => PRODUCTS[key].file));
  const chromium = findChromium();
  if (!chromium) browser = { skipped: 'no Chromium found (chromium, chromium-browser, google-chrome or $SQZ_CHROMIUM)' };
  else {
    log(`browser: ${browserShape.id} in headless Chromium`);
    try {
      const spec = { products: browserProducts(browserFiles), prompt: 64, gen: 32, rounds: rounds(5), vocab: browserShape.vocab, timeoutMs: 600_000 };
      if (mode === 'tiny') Object.assign(spec, { prompt: 16, gen: 8 });
      browser = await runBrowser(spec, chromium, log);
    } catch (e) {
      browser = { skipped: String(e).includes(WLLAMA_DIR) ? '@wllama/wllama is not installed in bench/peers (npm run peers:install)' : `the page failed: ${(e as Error).message}` };
      log(`browser: ${browser.skipped}`);
    }
  }
}

// --- 6. the profile
const profileResults: Profile[] = [];
if (wanted('profile')) {
  for (const p of profiles) {
    log(`profile: ${profileShape.id} ${p.kind}${p.fast ? ' --fast' : ''}, ${p.threads} thread(s), position ${p.position}${p.batch ? `, batch ${p.batch}` : ''}`);
    need(profileShape, [p.kind]);
    try {
      profileResults.push(await profileDecode(filePath(profileShape, p.kind), { fast: p.fast, threads: p.threads, position: p.position, batch: p.batch, steps: (p.batch ? { full: 8, quick: 4, tiny: 2 } : { full: 24, quick: 8, tiny: 4 })[mode] }));
    } catch (e) {
      log(`profile failed: ${(e as Error).stack}`);
      process.exitCode = 1;
    }
  }
}

const bandwidthAfter = await measureBandwidth(bandwidthMiB, passes);

// --- the results
const date = new Date().toISOString();
const out = argv.out ?? join(repoRoot, 'bench', 'results', `${date.slice(0, 10)}-${hostname()}.json`);
const results: BenchResults = {
  date,
  mode,
  command: `node --import tsx bench/run.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
  resultsFile: out.replace(repoRoot + '/', ''),
  machine: { host: hostname(), cpu: cpus()[0]?.model ?? 'unknown CPU', cores: cpus().length, memoryBytes: totalmem(), node: process.version, platform: `${process.platform}-${process.arch}` },
  loadAverageEnd: loadavg(),
  seconds: (performance.now() - t0) / 1000,
  buildSeconds: buildMs / 1000,
  models: Object.fromEntries([...filesByShape].map(([id, files]) => [id, { shape: SHAPES[id as keyof typeof SHAPES], synth: `sqz ${synthCommand(SHAPES[id as keyof typeof SHAPES], '<cache>/' + id + '-f32.sqz').join(' ').replace(repoRoot + '/', '')}`, files: Object.fromEntries([...files].map(([k, f]) => [k, f.replace(repoRoot + '/', '')])) }])),
  bandwidth: { before: bandwidthBefore, after: bandwidthAfter },
  kernels,
  groups,
  browser,
  profiles: profileResults,
};
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out + '.tmp', JSON.stringify(results, null, 1) + '\n');
renameSync(out + '.tmp', out);
log(`wrote ${out}`);
if (!argv['no-docs']) {
  const docs = argv.docs ?? join(repoRoot, 'docs', 'PERFORMANCE.md');
  let text = '';
  try {
    text = readFileSync(docs, 'utf8');
  } catch {
    // a new file: the generated part alone
  }
  writeFileSync(docs + '.tmp', spliceGenerated(text, renderPerformance(results)));
  renameSync(docs + '.tmp', docs);
  log(`wrote the generated part of ${docs}`);
}
log(`bench done in ${results.seconds.toFixed(0)} s, of which ${results.buildSeconds.toFixed(0)} s building models`);
