// npm run build:cuda — builds the optional CUDA binding (cuda/binding.gyp) with node-gyp and nvcc
// into cuda/build/Release/sqz_cuda.node, where src/backend/cuda/addon.ts looks for it. Not part of
// `npm install`: nvcc takes a minute or two and most machines have no GPU (docs/CUDA.md).
//   node scripts/build-cuda.mjs            build (exit 1 with one line when nvcc or node-gyp is missing);
//                                          nothing to do when the sources, architectures, toolkit and
//                                          Node are those of the last build (a stamp beside the addon)
//   node scripts/build-cuda.mjs --force    rebuild regardless
//   SQZ_CUDA_ARCH="80 90 100"              the SM architectures to compile for (default "80 90")
//   SQZ_CUDA_JOBS=1                        parallel compiles (default: the number of cores)
//   CUDA_HOME=/opt/cuda                    the toolkit (default $CUDA_PATH, else /usr/local/cuda)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda';
const nvcc = join(cudaHome, 'bin', 'nvcc');

function stop(msg) {
  console.error(`build:cuda: ${msg}`);
  process.exit(1);
}

if (process.argv.includes('--help')) {
  console.log('usage: node scripts/build-cuda.mjs [--force]   (npm run build:cuda; env SQZ_CUDA_ARCH, SQZ_CUDA_JOBS, CUDA_HOME; docs/CUDA.md)');
  process.exit(0);
}
const addon = join(root, 'cuda', 'build', 'Release', 'sqz_cuda.node');
const stampPath = `${addon}.stamp`;
const stamp = buildStamp();
if (!process.argv.includes('--force') && existsSync(addon) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
  console.log('build:cuda: cuda/build/Release/sqz_cuda.node is up to date (--force rebuilds)');
  process.exit(0);
}

if (!existsSync(nvcc)) stop(`nvcc not found at ${nvcc} (install the CUDA toolkit or set CUDA_HOME); the wasm backend needs none of this`);
try {
  await import('node-addon-api');
} catch {
  stop('node-addon-api is not installed (npm install node-addon-api)');
}
// node-gyp: npm puts its bundled copy on PATH for scripts; otherwise the one inside npm's folder
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status === 0 ? ['node-gyp'] : existsSync(bundled) ? [process.execPath, bundled] : null;
if (!gyp) stop('node-gyp not found (run this as `npm run build:cuda`, or npm install -g node-gyp)');

// Node's own headers when the installation has them (no download needed)
const prefix = join(dirname(process.execPath), '..');
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const jobs = String(Math.max(1, Number(process.env.SQZ_CUDA_JOBS) || availableParallelism()));
const args = [...gyp.slice(1), 'rebuild', '--loglevel=warn', `--directory=${join(root, 'cuda')}`, ...nodedir, '--jobs', jobs];
const t0 = performance.now();
const r = spawnSync(gyp[0], args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CUDA_HOME: cudaHome } });
if (r.status !== 0) stop(`node-gyp failed (exit ${r.status ?? r.signal}); see the output above`);
writeFileSync(stampPath, stamp);
console.log(`build:cuda: cuda/build/Release/sqz_cuda.node built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

/** What the build depends on: the addon's sources (cuda/ but build/ and check/), the architectures, the toolkit, Node's ABI. */
function buildStamp() {
  const h = createHash('sha256');
  h.update(JSON.stringify([process.env.SQZ_CUDA_ARCH || '80 90', cudaHome, process.versions.modules, process.platform, process.arch]));
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'build' && e.name !== 'check') walk(p);
      } else if (/\.(cu|cuh|h|cc|gyp)$/.test(e.name)) {
        h.update(p.slice(root.length) + '\0');
        h.update(readFileSync(p));
      }
    }
  };
  walk(join(root, 'cuda'));
  return h.digest('hex');
}
