// Runs the uvu suites under tsx and ends with the plain closing line CI reads:
// "N passed, N failed, N skipped". uvu's own summary is kept above it. A test that finds at run
// time that it cannot run (test/helpers.ts skip()) returns early, which uvu counts as passed; each
// such skip is logged to SQZ_SKIP_LOG and moved here from passed to skipped.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const logDir = mkdtempSync(join(tmpdir(), 'sqz-test-skips-'));
const skipLog = join(logDir, 'skips.txt');
const args = ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', '\\.test\\.ts$', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SQZ_SKIP_LOG: skipLog } });
let out = '';
child.stdout.on('data', (d) => {
  out += d;
  process.stdout.write(d);
});
child.on('close', (code) => {
  let runtimeSkips = [];
  try {
    runtimeSkips = readFileSync(skipLog, 'utf8').split('\n').filter(Boolean);
  } catch {}
  rmSync(logDir, { recursive: true, force: true });
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
  const total = num('Total');
  const passed = num('Passed') - runtimeSkips.length;
  const skipped = num('Skipped') + runtimeSkips.length;
  const failed = code === 0 ? total - passed - runtimeSkips.length : Math.max(1, total - passed - runtimeSkips.length);
  if (runtimeSkips.length) {
    const counts = new Map();
    for (const r of runtimeSkips) counts.set(r, (counts.get(r) ?? 0) + 1);
    console.log(`skipped at run time:\n${[...counts].map(([r, n]) => `  ${n} × ${r}`).join('\n')}`);
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code ?? 1);
});
