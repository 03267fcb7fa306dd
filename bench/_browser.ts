// The same-platform peer: our browser bundle (build/squeeze-edge.browser.mjs) and llama.cpp compiled
// to WebAssembly (@wllama/wllama in bench/peers) in one headless Chromium page, on our GGUF export
// of the same weights. A node:http server on 127.0.0.1 serves the page, both runtimes and the model
// files; the page loads every product once, runs them interleaved over the rounds (A B A B …) and
// posts its figures to /result. Nothing is fetched from outside the machine.
//
// Why a page that posts back rather than a driver (CDP or playwright-core): the page needs nothing
// from the outside but its URL, so there is no protocol to keep in step with Chromium's version
// and no dependency; the test of the bundle (test/bundle/browser.test.ts) drives Chromium the same way.
//
// The server sends COOP/COEP headers (cross-origin isolation) on every response: wllama's
// multi-thread build needs SharedArrayBuffer for its pthreads; our bundle runs either way.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { basename, extname, join, normalize } from 'node:path';
import { fileBytes, repoRoot } from './_models.ts';
import { median } from './_timing.ts';

export const WLLAMA_DIR = join(repoRoot, 'bench', 'peers', 'node_modules', '@wllama', 'wllama');

/** One product in the page: our bundle on a .sqz, or wllama on a .gguf with n_threads. */
export interface BrowserProduct {
  key: string;
  label: string;
  engine: 'sqz' | 'wllama';
  file: string;
  threads: number;
  fast?: boolean;
}

export interface BrowserResult {
  key: string;
  label: string;
  engine: string;
  threads: number;
  fileBytes: number;
  promptTokPerS: number;
  genTokPerS: number;
  loadMs: number;
  /** Each round's times; for wllama also the token counts llama.cpp reports (its prompt is text). */
  runs: { promptMs: number; genMs: number; prompted?: number; generated?: number }[];
  /** What wllama says it runs (its libllama version, multi-thread or not). */
  info?: string;
}

export interface BrowserGroup {
  name: string;
  chromium: string;
  prompt: number;
  gen: number;
  rounds: number;
  loadBefore: number[];
  loadAfter: number[];
  results: BrowserResult[];
}

/** The first Chromium that answers --version: $SQZ_CHROMIUM, chromium, chromium-browser or google-chrome (test/bundle uses it too). */
export function findChromium(): string | null {
  for (const c of [process.env.SQZ_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean) as string[]) {
    if (spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0) return c;
  }
  return null;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** The page: load every product, then the interleaved rounds; progress to /log, figures to /result. */
function page(config: object): string {
  return `<!doctype html><meta charset="utf-8"><script type="module">
const config = ${JSON.stringify(config)};
const post = (path, o) => fetch(path, { method: 'POST', body: JSON.stringify(o) });
const log = (s) => post('/log', { line: s });
try {
  const { loadModel } = await import('/sqz/squeeze-edge.browser.mjs');
  const { Wllama } = await import('/wllama/esm/index.js');
  const { promptTokens, timeSqzModel } = await import('/engines/_common.mjs');
  const loaded = [];
  for (const p of config.products) {
    const t0 = performance.now();
    if (p.engine === 'sqz') {
      const model = await loadModel('/models/' + p.file, { fast: !!p.fast, ctx: config.ctx });
      loaded.push({ p, loadMs: performance.now() - t0, run: async (round) => timeSqzModel(model, config.prompt, config.gen, round) });
    } else {
      const w = new Wllama({ default: '/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true, allowOffline: true });
      const blob = await (await fetch('/models/' + p.file)).blob();
      await w.loadModel([blob], { n_threads: p.threads, n_ctx: config.ctx, n_batch: 512, n_gpu_layers: 0, seed: 1 });
      const info = 'wllama ' + Wllama.getLibllamaVersion() + ', ' + (w.isMultithread() ? 'multi' : 'single') + '-thread, ' + w.getNumThreads() + ' thread(s)';
      loaded.push({ p, info, loadMs: performance.now() - t0, run: async (round) => {
        // wllama takes the prompt as text only: words that are one token each in the Llama 2
        // vocabulary, a different order each round; llama.cpp's timings count the tokens it ran
        const words = [' the', ' cat', ' sat', ' on', ' a', ' mat', ' and', ' dog'];
        const prompt = promptTokens(config.prompt - 1, words.length, round).map((i) => words[i % words.length]).join('');
        const r = await w.createCompletion({ prompt, max_tokens: config.gen, temperature: 0, ignore_eos: true, cache_prompt: false });
        const t = r.timings;
        return { promptMs: t.prompt_ms, genMs: t.predicted_ms, prompted: t.prompt_n, generated: t.predicted_n };
      } });
    }
    log('loaded ' + p.label + ' in ' + (performance.now() - t0).toFixed(0) + ' ms' + (loaded.at(-1).info ? ' (' + loaded.at(-1).info + ')' : ''));
  }
  const runs = loaded.map(() => []);
  for (let round = 0; round < config.rounds; round++) {
    for (let j = 0; j < loaded.length; j++) {
      const k = (j + round) % loaded.length;
      const f = await loaded[k].run(round);
      runs[k].push(f);
      log('round ' + (round + 1) + '/' + config.rounds + ': ' + loaded[k].p.label + ': prompt ' + ((f.prompted ?? config.prompt) * 1000 / f.promptMs).toFixed(1) + ' tok/s, generation ' + ((f.generated ?? config.gen) * 1000 / f.genMs).toFixed(1) + ' tok/s' + (f.prompted ? ' (' + f.prompted + ' prompt tokens)' : ''));
    }
  }
  await post('/result', { products: loaded.map((l, k) => ({ key: l.p.key, loadMs: l.loadMs, info: l.info, runs: runs[k] })) });
} catch (e) { await post('/result', { error: String((e && e.stack) || e) }); }
</script>`;
}

export interface BrowserSpec {
  products: BrowserProduct[];
  prompt: number;
  gen: number;
  rounds: number;
  vocab: number;
  timeoutMs: number;
}

/** Runs the page in headless Chromium and returns its figures. */
export async function runBrowser(spec: BrowserSpec, chromium: string, log: (s: string) => void = console.error): Promise<BrowserGroup> {
  if (!existsSync(join(WLLAMA_DIR, 'esm', 'wasm', 'wllama.wasm'))) throw new Error(`${WLLAMA_DIR} is missing: run npm run peers:install`);
  const bundle = join(repoRoot, 'build', 'squeeze-edge.browser.mjs');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs first`);
  const models = new Map(spec.products.map((p) => [basename(p.file), p.file]));
  const roots: Record<string, string> = { sqz: join(repoRoot, 'build'), engines: join(repoRoot, 'bench', 'engines'), wllama: WLLAMA_DIR };
  const config = { products: spec.products.map((p) => ({ ...p, file: basename(p.file) })), prompt: spec.prompt, gen: spec.gen, rounds: spec.rounds, vocab: spec.vocab, ctx: spec.prompt + spec.gen + 8 };
  const html = page(config);
  const profile = mkdtempSync(join(tmpdir(), 'sqz-bench-chromium-'));
  const loadBefore = loadavg();
  let chrome: ChildProcess | undefined;
  try {
    const posted = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the page did not report within ${spec.timeoutMs / 1000} s`)), spec.timeoutMs);
      const server = createServer((req, res) => {
        res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
        const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
        if (req.method === 'POST') {
          let body = '';
          req.on('data', (d) => (body += d));
          req.on('end', () => {
            res.end();
            const o = JSON.parse(body);
            if (url === '/log') log(`  browser: ${o.line}`);
            else {
              clearTimeout(timer);
              server.close();
              resolve(o);
            }
          });
          return;
        }
        if (url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(html);
        const [, top, ...rest] = url.split('/');
        const file = top === 'models' ? models.get(rest.join('/')) : roots[top] && join(roots[top], normalize(rest.join('/')).replace(/^(\.\.[/\\])+/, ''));
        if (!file || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
        createReadStream(file).pipe(res);
      });
      server.listen(0, '127.0.0.1', () => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; the rest keep a
        // headless page from being throttled as a background tab
        chrome = spawn(chromium, ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows', `--user-data-dir=${profile}`, url], { stdio: 'ignore' });
        chrome.on('error', reject);
      });
    });
    if (posted.error) throw new Error(`the browser page failed: ${posted.error}`);
    const byKey = new Map((posted.products as { key: string; loadMs: number; info?: string; runs: BrowserResult['runs'] }[]).map((p) => [p.key, p]));
    const results = spec.products.map((p): BrowserResult => {
      const got = byKey.get(p.key)!;
      return {
        key: p.key,
        label: p.label,
        engine: p.engine,
        threads: p.threads,
        fileBytes: fileBytes(p.file),
        promptTokPerS: median(got.runs.map((r) => ((r.prompted ?? spec.prompt) * 1000) / r.promptMs)),
        genTokPerS: median(got.runs.map((r) => ((r.generated ?? spec.gen) * 1000) / r.genMs)),
        loadMs: got.loadMs,
        runs: got.runs,
        info: got.info,
      };
    });
    const version = spawnSync(chromium, ['--version'], { encoding: 'utf8' }).stdout.trim();
    return { name: 'browser', chromium: version, prompt: spec.prompt, gen: spec.gen, rounds: spec.rounds, loadBefore, loadAfter: loadavg(), results };
  } finally {
    await new Promise<void>((r) => {
      if (!chrome || chrome.exitCode !== null || chrome.signalCode !== null) return r();
      chrome.once('exit', () => r());
      chrome.kill();
    });
    rmSync(profile, { recursive: true, force: true });
  }
}
