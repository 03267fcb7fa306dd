// npm run build:cuda — builds the optional CUDA binding (cuda/binding.gyp) with node-gyp and nvcc
// into cuda/build/Release/sqz_cuda.node, where src/backend/cuda/addon.ts looks for it. Not part of
// `npm install`: nvcc takes a minute or two and most machines have no GPU (docs/CUDA.md).
//   node scripts/build-cuda.mjs            build (exit 1 with one line when nvcc or node-gyp is missing)
//   SQZ_CUDA_ARCH="80 90 100"              the SM architectures to compile for (default "80 90")
//   CUDA_HOME=/opt/cuda                    the toolkit (default $CUDA_PATH, else /usr/local/cuda)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
const jobs = String(Math.max(1, availableParallelism()));
const args = [...gyp.slice(1), 'rebuild', `--directory=${join(root, 'cuda')}`, ...nodedir, '--jobs', jobs];
const t0 = performance.now();
const r = spawnSync(gyp[0], args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CUDA_HOME: cudaHome } });
if (r.status !== 0) stop(`node-gyp failed (exit ${r.status ?? r.signal}); see the output above`);
console.log(`build:cuda: cuda/build/Release/sqz_cuda.node built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
