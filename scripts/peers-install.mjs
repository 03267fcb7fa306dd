// Installs the peers the comparison tests and `npm run bench` check against into bench/peers/
// (git-ignored), never as a dependency of squeeze-edge: node-llama-cpp (llama.cpp's Node binding) at
// a pinned version, with its prebuilt CPU binary from the npm registry, and @wllama/wllama (llama.cpp
// compiled to WebAssembly, its .wasm inside the npm package; bench/browser.ts serves it to Chromium). Nothing is downloaded from anywhere else and
// nothing is compiled: install scripts are skipped (node-llama-cpp's postinstall would fetch and
// build llama.cpp from GitHub when no prebuilt binary fits), NODE_LLAMA_CPP_SKIP_DOWNLOAD is set,
// and the check below loads the binding with build: 'never'.
//
//   npm run peers:install        (or: node scripts/peers-install.mjs)
//
// On Linux x64/arm64 only the CPU binary package is installed (--omit=optional plus the one
// platform package), about 85 MB instead of ~725 MB with the CUDA and Vulkan variants.
// Exit code 0: installed (or already there) and loads; 1: it failed, and the tests that need it skip.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_LLAMA_CPP_VERSION = '3.22.1';
export const WLLAMA_VERSION = '3.13.0';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const peers = join(root, 'bench', 'peers');
const pkgDir = join(peers, 'node_modules', 'node-llama-cpp');
const wllamaDir = join(peers, 'node_modules', '@wllama', 'wllama');

/** The platform package holding the prebuilt CPU binary, where node-llama-cpp publishes one. */
function cpuPackage() {
  const key = `${process.platform}-${process.arch}`;
  const known = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'linux-arm': 'linux-armv7l', 'darwin-x64': 'mac-x64', 'darwin-arm64': 'mac-arm64-metal', 'win32-x64': 'win-x64', 'win32-arm64': 'win-arm64' };
  return known[key] ? `@node-llama-cpp/${known[key]}` : undefined;
}

function installedVersion(dir = pkgDir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function duBytes(dir) {
  let total = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p).size;
    }
  };
  if (existsSync(dir)) walk(dir);
  return total;
}

/** Loads the binding in a child process without building or downloading anything. */
function check() {
  const code = `
    const { getLlama, LlamaLogLevel } = await import(${JSON.stringify(join(pkgDir, 'dist', 'index.js'))});
    const llama = await getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: LlamaLogLevel.error });
    console.log('node-llama-cpp loads: llama.cpp ' + llama.llamaCppRelease.release + ', ' + llama.buildType + ' binary, gpu ' + llama.gpu);
    await llama.dispose();`;
  // a file, not --eval: node-llama-cpp tests its binary in a child that inherits process.execArgv
  const file = join(peers, 'check-node-llama-cpp.mjs');
  writeFileSync(file, code.trim() + '\n');
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' }, timeout: 120_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function main() {
  const t0 = performance.now();
  const wllamaOk = installedVersion(wllamaDir) === WLLAMA_VERSION && existsSync(join(wllamaDir, 'esm', 'wasm', 'wllama.wasm'));
  if (installedVersion() === NODE_LLAMA_CPP_VERSION && wllamaOk) {
    const c = check();
    if (c.ok) {
      console.log(`peers: node-llama-cpp ${NODE_LLAMA_CPP_VERSION} and @wllama/wllama ${WLLAMA_VERSION} are already in bench/peers. ${c.out}`);
      return 0;
    }
    console.log(`peers: the installed node-llama-cpp does not load (${c.out.split('\n').pop()}); reinstalling`);
  }
  mkdirSync(peers, { recursive: true });
  // its own package.json, so npm never walks up to squeeze-edge's
  const pj = join(peers, 'package.json');
  if (!existsSync(pj)) writeFileSync(pj, JSON.stringify({ name: 'squeeze-edge-peers', private: true, description: 'peers for comparison tests; installed by scripts/peers-install.mjs' }, null, 2) + '\n');
  const platformPkg = cpuPackage();
  const args = ['install', '--prefix', peers, '--no-audit', '--no-fund', '--ignore-scripts', '--no-save', '--loglevel=error'];
  const wanted = [`node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@wllama/wllama@${WLLAMA_VERSION}`];
  // Linux: only the CPU binary (the CUDA/Vulkan variants are optional dependencies, ~640 MB)
  if (platformPkg && process.platform === 'linux') {
    args.push('--omit=optional');
    wanted.push(`${platformPkg}@${NODE_LLAMA_CPP_VERSION}`);
  }
  console.log(`peers: npm ${args.join(' ')} ${wanted.join(' ')}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, [...args, ...wanted], { stdio: 'inherit', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' }, timeout: 600_000 });
  if (r.status !== 0) {
    console.error(`peers: npm install failed (${r.error?.message ?? `exit code ${r.status}`}); the llama.cpp comparison tests will skip`);
    return 1;
  }
  const c = check();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const mb = (duBytes(join(peers, 'node_modules')) / 1e6).toFixed(0);
  if (!c.ok) {
    console.error(`peers: node-llama-cpp installed but does not load without building llama.cpp:\n${c.out}\nthe llama.cpp comparison tests will skip`);
    return 1;
  }
  console.log(`peers: installed node-llama-cpp ${NODE_LLAMA_CPP_VERSION} and @wllama/wllama ${WLLAMA_VERSION} in ${secs} s, ${mb} MB in bench/peers/node_modules. ${c.out}`);
  return 0;
}

process.exitCode = main();
