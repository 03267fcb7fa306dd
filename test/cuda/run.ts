// npm run test:cuda: the CUDA kernels and backend on a GPU (docs/CUDA.md). Builds nothing itself
// (the npm script builds the binding and the WASM first); needs a GPU, so it is not part of npm test.
//   1. every kernel against its TypeScript reference on random and ragged shapes (test/cuda/kernels.ts)
//   2. whole models, quantized here, against the WASM backend (test/cuda/models.ts; the checkpoints
//      come from $SQZ_SHARED, else ./shared, else ../shared: a models/ folder as in ../shared)
// One line per check ("ok" or "FAIL", the figure and its bound), then a summary; exit 1 on any
// failure, or with one line when no GPU can run (nothing checked).
//   node --import tsx test/cuda/run.ts [--kernels | --models] [--emulate]
//   --emulate   on the host stand-in of the binding (test/backend/_cuda-emulator.ts, every launcher
//               the reference itself): checks this harness, not the CUDA code, and needs no GPU
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CudaAddon } from '../../src/backend/cuda/addon.ts';
import { CudaBackend } from '../../src/backend/cuda/index.ts';
import { maxRelErr } from '../../src/util/compare.ts';
import { EMULATED_DEVICE, EmulatedCuda } from '../backend/_cuda-emulator.ts';
import { repoRoot } from '../helpers.ts';
import { openDevice } from './device.ts';
import { runKernelChecks } from './kernels.ts';
import { runModelChecks } from './models.ts';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log('usage: node --import tsx test/cuda/run.ts [--kernels | --models] [--emulate]   (npm run test:cuda; docs/CUDA.md)');
  process.exit(0);
}
const unknown = args.find((a) => !['--kernels', '--models', '--emulate'].includes(a));
if (unknown) {
  console.error(`test:cuda: unknown option ${unknown} (see --help)`);
  process.exit(1);
}
const emulate = args.includes('--emulate');
const only = args.includes('--kernels') ? 'kernels' : args.includes('--models') ? 'models' : 'all';

const { addon, device } = emulate ? { addon: new EmulatedCuda() as CudaAddon, device: EMULATED_DEVICE } : openDevice('test:cuda');
console.log(`test:cuda on ${device.name} (compute capability ${device.computeCapability}, ${device.multiprocessors} SMs, ${(device.memoryBytes / 2 ** 30).toFixed(0)} GiB)`);

let passed = 0;
const failed: string[] = [];
const skipped: string[] = [];
const line = (ok: boolean, name: string, detail: string) => {
  if (ok) passed++;
  else failed.push(name);
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}  ${detail}`);
};
const t0 = performance.now();

if (only !== 'models') {
  console.log('\n# kernels against src/kernels/reference.ts (maxRelErr: largest difference / largest reference value)');
  runKernelChecks(addon, (name, got, want, tol) => {
    const err = maxRelErr(got, want);
    line(err <= tol, name, `err ${err.toExponential(1)} (<= ${tol})`);
  });
}

if (only !== 'kernels') {
  const shared = [process.env.SQZ_SHARED, join(repoRoot, 'shared'), join(repoRoot, '..', 'shared')].find((d) => d && existsSync(join(d, 'models'))) ?? join(repoRoot, '..', 'shared');
  console.log(`\n# models on cuda against the wasm backend (checkpoints from ${shared})`);
  const report = {
    check: (name: string, ok: boolean, detail: string) => line(ok, name, detail),
    skip: (name: string, why: string) => {
      skipped.push(name);
      console.log(`skip  ${name}  ${why}`);
    },
    note: (text: string) => console.log(`## ${text}`),
  };
  await runModelChecks(shared, report, emulate ? () => CudaBackend.fromAddon(addon, device) : undefined);
}

const secs = ((performance.now() - t0) / 1000).toFixed(0);
const tail = skipped.length ? `, ${skipped.length} skipped (${skipped.join(', ')})` : '';
console.log(`\ntest:cuda: ${passed} passed, ${failed.length} failed${tail} on ${device.name} in ${secs} s`);
if (failed.length) {
  console.log(`failed: ${failed.join('; ')}`);
  process.exit(1);
}
