// The browser bundle (build/squeeze-edge.browser.mjs) in a real headless Chromium: a page served
// from a plain folder fetches three models by URL (f32, SqueezeLLM, RTN), generates greedily, and
// posts the text back; it must equal what the runtime run from sources generates. threads > 1 must
// be refused with a clear error. Skips, saying why, when no Chromium is installed (.ci/run
// installs Debian's).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeBaseline } from '../../tools/baselines/index.ts';
import { quantize } from '../../tools/squeezellm/steps.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { findChromium } from '../../bench/_browser.ts';
import { repoRoot, skip } from '../helpers.ts';
import { greedyFromSources, MAX_TOKENS, PROMPT } from './_greedy.ts';

const MODELS = ['f32.sqz', 'nuq.sqz', 'rtn.sqz'];

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
const report = (o) => fetch('/result', { method: 'POST', body: JSON.stringify(o) });
try {
  const { loadModel } = await import('./squeeze-edge.browser.mjs');
  const texts = {};
  for (const name of ${JSON.stringify(MODELS)}) {
    const model = await loadModel('./' + name);
    let text = '';
    for await (const p of model.generate(${JSON.stringify(PROMPT)}, { temperature: 0, maxTokens: ${MAX_TOKENS} })) text += p;
    texts[name] = text;
  }
  let threads = 'accepted';
  try { await loadModel('./f32.sqz', { threads: 2 }); } catch (e) { threads = e.message; }
  await report({ texts, threads });
} catch (e) { await report({ error: String((e && e.stack) || e) }); }
</script>`;

const chromium = findChromium();

const tmp = mkdtempSync(join(tmpdir(), 'sqz-browser-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Serves `dir` to a headless Chromium and resolves with the JSON the page posts to /result. */
function runPage(dir: string, browser: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let chrome: ChildProcess | undefined;
    const done = (err: Error | null, v?: Record<string, unknown>) => {
      clearTimeout(timer);
      server.close();
      const settle = () => (err ? reject(err) : resolve(v!));
      // wait for Chromium to exit, so its profile folder is complete before it is removed
      if (!chrome || chrome.exitCode !== null || chrome.signalCode !== null) return settle();
      chrome.once('exit', settle);
      chrome.kill();
    };
    const server = createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          res.end();
          done(null, JSON.parse(body));
        });
        return;
      }
      const file = req.url === '/' ? 'index.html' : decodeURIComponent(req.url!.slice(1));
      let data: Buffer;
      try {
        data = readFileSync(join(dir, file));
      } catch {
        res.writeHead(404).end();
        return;
      }
      const type = file.endsWith('.html') ? 'text/html' : file.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(data);
    });
    const timer = setTimeout(() => done(new Error('the page did not report within 60 s')), 60_000);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
      chrome = spawn(browser, ['--headless=new', '--no-sandbox', '--disable-gpu', `--user-data-dir=${join(tmp, 'profile')}`, url], { stdio: 'ignore' });
      chrome.on('error', (e) => done(e));
    });
  });
}

test('in headless Chromium, the browser bundle generates what the sources generate (f32, nuq, uniform), on one thread only', async () => {
  if (!chromium) return skip('no Chromium found (chromium, chromium-browser, google-chrome or $SQZ_CHROMIUM); the browser bundle is not tested');
  const site = join(tmp, 'site');
  mkdirSync(site);
  copyFileSync(join(repoRoot, 'build', 'squeeze-edge.browser.mjs'), join(site, 'squeeze-edge.browser.mjs'));
  writeFileSync(join(site, 'index.html'), PAGE);
  await writeSyntheticModel(join(site, 'f32.sqz'), { dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, seed: 11 });
  await quantize(join(site, 'f32.sqz'), join(site, 'nuq.sqz'), { bits: 3 });
  await quantizeBaseline(join(site, 'f32.sqz'), join(site, 'rtn.sqz'), { method: 'rtn', bits: 4, groupSize: 32 });
  const got = await runPage(site, chromium);
  assert.is(got.error, undefined, String(got.error));
  const texts = got.texts as Record<string, string>;
  for (const name of MODELS) {
    const want = await greedyFromSources(join(site, name));
    assert.ok(want.length > 0, name);
    assert.is(texts[name], want, name);
  }
  assert.match(String(got.threads), /in a browser the runtime runs on one thread/);
});

test.run();
