// One profile (bench/_profile.ts) on its own, printed as the table docs/PERFORMANCE.md carries:
//
//   node --import tsx bench/profile.ts FILE.sqz [--fast] [--batch N] [--position P] [--steps S] [--threads T]
//
// --batch 64 --position 0 profiles a 64-token prompt; the default (--batch 1) a decode step.
import { parseArgs } from 'node:util';
import { measureBandwidth } from './_bandwidth.ts';
import { profileDecode } from './_profile.ts';
import { profileTable } from './_report.ts';

const USAGE = `node --import tsx bench/profile.ts FILE.sqz [options]
  --fast           the int8 fast path (default: exact)
  --batch N        tokens per profiled step: 1 (default) a decode step, N > 1 a prompt batch
  --position P     the position the steps start at, after a prompt that fills the cache (default 64)
  --steps S        profiled steps; figures are medians over them (default 24, 8 with --batch)
  --threads T      threads (default 1)
Prints the profile's table (where the step's time goes) and the one-core memory bandwidth it divides by.`;

const options = {
  fast: { type: 'boolean' },
  batch: { type: 'string' },
  position: { type: 'string' },
  steps: { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function count(name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number from ${min}, got '${v}'`);
  return n;
}

let opts: { file: string; fast: boolean; batch: number; position: number; steps: number; threads: number };
try {
  const { values, positionals } = parseArgs({ options, allowPositionals: true });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) throw new Error(`one model file expected, got ${positionals.length}`);
  const batch = count('batch', values.batch, 1, 1);
  opts = {
    file: positionals[0],
    fast: values.fast ?? false,
    batch,
    position: count('position', values.position, 64, 0),
    steps: count('steps', values.steps, batch > 1 ? 8 : 24, 1),
    threads: count('threads', values.threads, 1, 1),
  };
} catch (e) {
  console.error(`bench/profile.ts: ${(e as Error).message} (see --help)`);
  process.exit(1);
}
const bw = await measureBandwidth(128, 5);
const bps = bw.wasmReadBps;
const p = await profileDecode(opts.file, opts);
console.log(`One-core WASM read bandwidth: ${(bps / 1e9).toFixed(1)} GB/s.\n`);
console.log(profileTable(p, bps));
