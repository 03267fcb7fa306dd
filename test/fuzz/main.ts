// `npm run fuzz -- [--cases N] [--seed S] [--workers W] [--formats a,b] [--keep-bad DIR]`: the
// project's fuzz suite (run.ts). Prints the counts per format and class and exits 1 on any bad case.
import { parseArgs } from 'node:util';
import { FORMATS, type Format } from './mutate.ts';
import { formatResult, runFuzz } from './run.ts';

const USAGE = `npm run fuzz -- [options]
  --cases N        mutated files to try (default 2000; issue 11's target run is 50000)
  --seed S         seed of the mutations (default 1): a run is the same under the same seed
  --workers W      child processes at once (default 2)
  --formats LIST   comma-separated subset of ${FORMATS.join(', ')}
  --timeout-ms T   a case running longer is a hang (default 10000)
  --max-mem-mb M   a worker resident past M MiB is a memory failure (default 1024)
  --keep-bad DIR   copy each bad case's files to DIR (with op.txt: what was changed, what happened)
Each case is one mutation of a small valid model (byte flips, truncation, length/offset/count
fields set to 0/huge/negative/misaligned, retyped and duplicated tensors, JSON edits, NaN/Inf
weights), opened in a worker as \`sqz run\` would. Classes: error (a typed one-line refusal) and
accepted (finite logits, ids in range) are fine; crash, hang, memory, exception (not a SqzError),
nan-logits and ids (out of range) are bad. Exit 1 when any case is bad.`;

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' }, seed: { type: 'string' }, workers: { type: 'string' }, formats: { type: 'string' },
      'timeout-ms': { type: 'string' }, 'max-mem-mb': { type: 'string' }, 'keep-bad': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const formats = values.formats?.split(',').map((f) => {
    if (!(FORMATS as readonly string[]).includes(f)) throw new Error(`--formats: unknown format '${f}' (known: ${FORMATS.join(', ')})`);
    return f as Format;
  });
  const cases = int(values.cases, 'cases', 2000);
  const seed = int(values.seed, 'seed', 1);
  let last = 0;
  const r = await runFuzz({
    cases, seed, formats,
    workers: Math.max(1, int(values.workers, 'workers', 2)),
    timeoutMs: int(values['timeout-ms'], 'timeout-ms', 10_000),
    maxMemMb: int(values['max-mem-mb'], 'max-mem-mb', 1024),
    keepBad: values['keep-bad'],
    onCase: (done, total) => {
      if (process.stderr.isTTY && (done - last >= 100 || done === total)) {
        last = done;
        process.stderr.write(`\r${done}/${total}`);
      }
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(formatResult(r, { cases, seed }));
  return r.bad.length ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`fuzz: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
