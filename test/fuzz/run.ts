// The fuzz run: seeds written once, then case i = one seeded mutation (mutate.ts) of the seed of
// format i mod 9 (FORMATS), laid out in its own folder and run in a pool of reused child processes
// (worker.ts), each with a heap limit (--max-old-space-size), a resident-memory watchdog and a
// timeout. A worker that crashes, hangs or grows past the limit is killed, its case classed bad,
// and a fresh worker takes its place. The result is deterministic under the seed (which case gets
// which mutation does not depend on the scheduling).
import { type ChildProcess, fork } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/util/random.ts';
import { FORMATS, type Format, mutate } from './mutate.ts';
import { type CaseSpec, writeSeeds } from './seeds.ts';
import type { Probe, WorkerClass, WorkerReply, WorkerRequest } from './worker.ts';

export type CaseClass = WorkerClass | 'crash' | 'hang' | 'memory';
export const GOOD_CLASSES: readonly CaseClass[] = ['error', 'accepted'];
export const BAD_CLASSES: readonly CaseClass[] = ['exception', 'nan-logits', 'ids', 'crash', 'hang', 'memory'];

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Child processes run at once (default 2). */
  workers?: number;
  /** A case running longer is a hang (default 10 000 ms). */
  timeoutMs?: number;
  /** A worker resident past this is a memory failure (default 1024 MiB); also its V8 heap limit. */
  maxMemMb?: number;
  /** Only these formats (default all of FORMATS). */
  formats?: readonly Format[];
  /** Copy each bad case's folder here, with op.txt saying what was done. */
  keepBad?: string;
  onCase?: (done: number, total: number) => void;
}

export interface CaseResult {
  index: number;
  format: Format | 'probe';
  op: string;
  cls: CaseClass;
  detail: string;
}

export interface FuzzResult {
  /** counts[format][class]. */
  counts: Record<string, Partial<Record<CaseClass, number>>>;
  bad: CaseResult[];
  /** How many cases ended with each distinct error message (the typed refusals), most frequent first. */
  errors: Array<[string, number]>;
  ms: number;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** The per-case generator: a 32-bit mix of the run seed and the case index. */
export const caseRng = (seed: number, i: number) => new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);

/** Resident bytes of a process from /proc (Linux); undefined where there is no /proc. */
function residentBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Job {
  index: number;
  format: Format | 'probe';
  op: string;
  request: WorkerRequest;
  dir?: string;
}

/** One child process that runs jobs one at a time; kills itself (and reports) on a hang, a crash or too much memory. */
class Worker {
  private child!: ChildProcess;
  private stderr = '';
  private closed = false;
  /** Settles when the worker has loaded (its start-up does not count against a case's time). */
  private ready!: Promise<void>;

  constructor(private readonly o: Required<Pick<FuzzOptions, 'timeoutMs' | 'maxMemMb'>>) {
    this.spawn();
  }

  private spawn(): void {
    this.stderr = '';
    this.child = fork(WORKER, [], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${this.o.maxMemMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    // a send to a worker that just died is reported by its 'exit' (classed crash), not thrown
    this.child.on('error', () => {});
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    const child = this.child;
    this.ready = new Promise((resolve) => {
      const done = () => {
        child.off('message', onReady);
        child.off('exit', done);
        resolve();
      };
      const onReady = (m: { ready?: boolean }) => m.ready && done();
      child.on('message', onReady);
      child.on('exit', done);
    });
  }

  async run(job: Job): Promise<{ cls: CaseClass; detail: string }> {
    await this.ready;
    const limit = this.o.maxMemMb * 1024 * 1024;
    return new Promise((resolve) => {
      const child = this.child;
      let settled = false;
      const finish = (r: { cls: CaseClass; detail: string }, restart: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(watch);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (restart) {
          child.kill('SIGKILL');
          if (!this.closed) this.spawn();
        }
        resolve(r);
      };
      const onMessage = (m: WorkerReply) => {
        if (m.id !== job.request.id) return;
        if (m.maxRss > limit) finish({ cls: 'memory', detail: `peak resident ${(m.maxRss / 2 ** 20).toFixed(0)} MiB` }, true);
        else finish({ cls: m.cls, detail: m.detail }, false);
      };
      const onExit = (code: number | null, signal: string | null) => {
        const heap = /heap limit|out of memory/i.test(this.stderr);
        const tail = this.stderr.trim().split('\n').slice(-2).join(' | ');
        finish({ cls: heap ? 'memory' : 'crash', detail: `exit ${code ?? signal}${tail ? `: ${tail}` : ''}` }, true);
      };
      const timer = setTimeout(() => finish({ cls: 'hang', detail: `still running after ${this.o.timeoutMs} ms` }, true), this.o.timeoutMs);
      const watch = setInterval(() => {
        const rss = child.pid === undefined ? undefined : residentBytes(child.pid);
        if (rss !== undefined && rss > limit) finish({ cls: 'memory', detail: `resident ${(rss / 2 ** 20).toFixed(0)} MiB` }, true);
      }, 50);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send(job.request);
    });
  }

  close(): void {
    this.closed = true;
    this.child.kill('SIGKILL');
  }
}

/** Runs jobs 0..count-1 on `n` workers, each made (its files laid out) just before it runs. */
async function runJobs(count: number, makeJob: (i: number) => Job, n: number, o: Required<Pick<FuzzOptions, 'timeoutMs' | 'maxMemMb'>>, onDone: (r: CaseResult, job: Job) => void): Promise<void> {
  const workers = Array.from({ length: Math.max(1, Math.min(n, count)) }, () => new Worker(o));
  let next = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < count) {
          let job: Job;
          try {
            job = makeJob(next++);
          } catch (e) {
            next = count; // a harness bug: stop every worker, report it
            throw e;
          }
          const r = await w.run(job);
          onDone({ index: job.index, format: job.format, op: job.op, ...r }, job);
        }
      }),
    );
  } finally {
    for (const w of workers) w.close();
  }
}

function tally(results: CaseResult[], ms: number, root: string): FuzzResult {
  const counts: FuzzResult['counts'] = {};
  const errors = new Map<string, number>();
  for (const r of results) {
    const c = (counts[r.format] ??= {});
    c[r.cls] = (c[r.cls] ?? 0) + 1;
    // the message without the case's folder and its numbers, so one refusal counts once
    if (r.cls === 'error') {
      const key = r.detail.replaceAll(root, '').replace(/\bcases\/\d+\//g, '').replace(/-?\b\d+(\.\d+)?(e[+-]?\d+)?\b/g, 'N');
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
  }
  const bad = results.filter((r) => BAD_CLASSES.includes(r.cls)).sort((a, b) => a.index - b.index);
  for (const b of bad) b.detail = b.detail.replaceAll(root, '');
  return { counts, bad, errors: [...errors].sort((a, b) => b[1] - a[1]), ms };
}

/** The fuzz run of issue 11: `cases` mutations over the formats, classified. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const t0 = performance.now();
  const formats = opts.formats ?? FORMATS;
  const root = mkdtempSync(join(tmpdir(), 'sqz-fuzz-'));
  try {
    const seeds = await writeSeeds(join(root, 'seeds'));
    const seedBytes = new Map(formats.map((f) => [f, new Uint8Array(readFileSync(seeds[f].file))]));
    const makeJob = (i: number): Job => {
      const format = formats[i % formats.length];
      const m = mutate(format, seedBytes.get(format)!, caseRng(opts.seed, i));
      const dir = join(root, 'cases', String(i));
      mkdirSync(dir, { recursive: true });
      const spec: CaseSpec = seeds[format].place(dir, m.bytes);
      return { index: i, format, op: m.op, request: { id: i, spec }, dir };
    };
    const results: CaseResult[] = [];
    await runJobs(opts.cases, makeJob, opts.workers ?? 2, { timeoutMs: opts.timeoutMs ?? 10_000, maxMemMb: opts.maxMemMb ?? 1024 }, (r, job) => {
      results.push(r);
      if (opts.keepBad && BAD_CLASSES.includes(r.cls) && job.dir) {
        const keep = join(opts.keepBad, `case-${r.index}-${r.format}`);
        cpSync(job.dir, keep, { recursive: true });
        writeFileSync(join(keep, 'op.txt'), `seed ${opts.seed} case ${r.index} ${r.format}: ${r.op}\n${r.cls}: ${r.detail}\n`);
      }
      if (job.dir) rmSync(job.dir, { recursive: true, force: true });
      opts.onCase?.(results.length, opts.cases);
    });
    return tally(results, performance.now() - t0, root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs one probe per kind of misbehaviour, to check the harness classes each as bad. */
export async function runProbes(probes: readonly Probe[], o: { timeoutMs: number; maxMemMb: number }): Promise<CaseResult[]> {
  const jobs: Job[] = probes.map((probe, i) => ({ index: i, format: 'probe', op: probe, request: { id: i, probe } }));
  const results: CaseResult[] = [];
  await runJobs(jobs.length, (i) => jobs[i], 2, o, (r) => results.push(r));
  return results.sort((a, b) => a.index - b.index);
}

/** The counts as a table: one row per format, one column per class that occurred, then the bad cases. */
export function formatResult(r: FuzzResult, opts: { cases: number; seed: number }): string {
  const classes = [...GOOD_CLASSES, ...BAD_CLASSES].filter((c) => Object.values(r.counts).some((x) => x[c]));
  const rows = Object.entries(r.counts);
  const total = (row: Partial<Record<CaseClass, number>>) => Object.values(row).reduce((a, b) => a + (b ?? 0), 0);
  const w = Math.max(6, ...rows.map(([f]) => f.length));
  const line = (name: string, cells: Array<string | number>) => name.padEnd(w) + cells.map((c) => String(c).padStart(11)).join('');
  const out = [
    `fuzz: ${opts.cases} cases, seed ${opts.seed}, ${(r.ms / 1000).toFixed(1)} s`,
    line('format', ['cases', ...classes, 'bad']),
  ];
  const sums: Partial<Record<CaseClass, number>> = {};
  for (const [f, row] of rows) {
    out.push(line(f, [total(row), ...classes.map((c) => row[c] ?? 0), BAD_CLASSES.reduce((a, c) => a + (row[c] ?? 0), 0)]));
    for (const c of classes) sums[c] = (sums[c] ?? 0) + (row[c] ?? 0);
  }
  out.push(line('total', [total(sums), ...classes.map((c) => sums[c] ?? 0), r.bad.length]));
  if (r.bad.length) {
    out.push('', `bad cases (${r.bad.length}):`);
    for (const b of r.bad.slice(0, 40)) out.push(`  #${b.index} ${b.format} [${b.op}]: ${b.cls} ${b.detail}`);
  }
  return out.join('\n');
}
