// Packs the GPU checks for a machine that has a GPU and the CUDA driver but no network and maybe no
// Node (a lent cloud GPU, a locked-down lab box): cuda/build/offline/ then holds everything
// `npm run test:cuda` and `npm run bench:cuda` need there, built here (same x86-64 Linux):
//   test-cuda.mjs, bench-cuda.mjs   test/cuda/run.ts and bench/cuda.ts as single-file bundles
//                                   (WASM kernels inlined, no node_modules needed)
//   sqz_cuda.node                   the binding (npm run build:cuda; CUDA runtime linked statically)
//   shared/models/...               stories3M and tinystories-656k, from $SQZ_SHARED or ../shared
//   node.xz                         this Node binary, xz-compressed (unless --no-node)
//   run.sh                          the command to run there (docs/CUDA.md): finds or unpacks Node,
//                                   runs both with time limits, logs and JSON into $OUT (else /tmp)
//   node cuda/offline/pack.mjs [--no-node]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'cuda', 'build', 'offline');
const withNode = !process.argv.includes('--no-node');
if (process.argv.includes('--help')) {
  console.log('usage: node cuda/offline/pack.mjs [--no-node]   (writes cuda/build/offline/; docs/CUDA.md)');
  process.exit(0);
}

function stop(msg) {
  console.error(`offline pack: ${msg}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) stop(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

run(process.execPath, ['scripts/build.mjs']);
run(process.execPath, ['scripts/build-cuda.mjs']);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

for (const [src, name] of [
  ['test/cuda/run.ts', 'test-cuda.mjs'],
  ['bench/cuda.ts', 'bench-cuda.mjs'],
]) {
  await esbuild.build({
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    entryPoints: [join(root, src)],
    outfile: join(out, name),
    // msgpackr's optional native addon is loaded through require(); the binding too
    banner: { js: "import { createRequire as __sqzCreateRequire } from 'node:module'; const require = __sqzCreateRequire(import.meta.url);" },
  });
}
copyFileSync(join(root, 'cuda', 'build', 'Release', 'sqz_cuda.node'), join(out, 'sqz_cuda.node'));

const shared = process.env.SQZ_SHARED ?? join(root, '..', 'shared');
for (const m of ['stories3M', 'tinystories-656k']) {
  const src = join(shared, 'models', m);
  if (!existsSync(src)) stop(`${src} is absent (set SQZ_SHARED to the folder that holds models/)`);
  cpSync(src, join(out, 'shared', 'models', m), { recursive: true });
}

if (withNode) {
  const xz = spawnSync('xz', ['-T2', '-6', '-c', process.execPath], { maxBuffer: 1 << 30 });
  if (xz.status !== 0) stop('xz failed (install xz-utils, or pack with --no-node if the GPU machine has Node 20+)');
  writeFileSync(join(out, 'node.xz'), xz.stdout);
}

writeFileSync(
  join(out, 'run.sh'),
  `#!/usr/bin/env bash
# Runs the packed GPU checks (cuda/offline/pack.mjs) from the repository root: test:cuda, then
# bench:cuda; logs and bench-cuda.json go to $OUT (else /tmp). Exit status: test:cuda's, else bench's.
set -uo pipefail
d=cuda/build/offline
o=\${OUT:-/tmp}
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; then
  [ -f $d/node.xz ] || { echo "offline: no Node 20+ here and none packed (pack without --no-node)"; exit 1; }
  mkdir -p /tmp/sqz-node
  { xz -dc $d/node.xz 2>/dev/null || python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' $d/node.xz; } >/tmp/sqz-node/node
  chmod +x /tmp/sqz-node/node
  export PATH=/tmp/sqz-node:$PATH
  case "$(node --version 2>/dev/null)" in v*) ;; *) echo "offline: the packed Node does not unpack or run here (needs xz or python3)"; exit 1 ;; esac
fi
echo "node $(node --version); $(nvidia-smi -L 2>/dev/null | head -1)"
export SQZ_CUDA_ADDON=$PWD/$d/sqz_cuda.node SQZ_SHARED=$PWD/$d/shared
timeout \${SQZ_TEST_TIMEOUT:-300} node $d/test-cuda.mjs 2>&1 | tee $o/test-cuda.log
t=\${PIPESTATUS[0]}
timeout \${SQZ_BENCH_TIMEOUT:-240} node $d/bench-cuda.mjs --json $o/bench-cuda.json 2>&1 | tee $o/bench-cuda.log
b=\${PIPESTATUS[0]}
echo "offline: test:cuda exit $t, bench:cuda exit $b"
[ $t = 0 ] && exit $b || exit $t
`,
);
chmodSync(join(out, 'run.sh'), 0o755);

const du = spawnSync('du', ['-sm', out], { encoding: 'utf8' }).stdout.split('\t')[0];
console.log(`offline pack: ${out} (${du} MiB${withNode ? `, Node ${process.version} ${(statSync(join(out, 'node.xz')).size / 2 ** 20).toFixed(0)} MiB of it` : ''}); run it there as: bash cuda/build/offline/run.sh`);
