// Timing helpers shared by the benches (bench/threads.ts, bench/kernels.ts): every figure is taken
// in interleaved rounds beside its baseline, so a noisy neighbour on the shared VM slows them alike.
import { Worker } from 'node:worker_threads';

/** A clock in ms: wall time (the default), or cpuClock. */
export type Clock = () => number;

/**
 * This process's CPU time (user + system) in ms: on a machine shared with many busy processes the
 * time spent waiting for a core stays out of it (wall time at load 20 on 2 cores is mostly waiting).
 */
export const cpuClock: Clock = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Calls per timed round so one round takes about 25 ms. */
export function calibrate(fn: () => void, clock: Clock = () => performance.now()): number {
  fn();
  for (let reps = 1; ; reps *= 2) {
    const t0 = clock();
    for (let i = 0; i < reps; i++) fn();
    if (clock() - t0 > 25 || reps >= 1 << 20) return reps;
  }
}

/**
 * Times each of `fns` in interleaved rounds (at least 5, then until `budgetMs` has passed, at most
 * 150) and returns each one's ms per call, round by round. Each timed round follows one untimed
 * call: the function meets its own data in cache, as in steady decoding, although the previous
 * function's round has just evicted it. `clock` times the rounds (the budget is wall time).
 */
export function interleavedRounds(fns: (() => void)[], budgetMs: number, clock: Clock = () => performance.now()): number[][] {
  const reps = fns.map((f) => calibrate(f, clock));
  const samples: number[][] = fns.map(() => []);
  const end = performance.now() + budgetMs;
  for (let round = 0; round < 5 || (performance.now() < end && round < 150); round++) {
    for (let j = 0; j < fns.length; j++) {
      const k = (j + round) % fns.length;
      fns[k]();
      const t0 = clock();
      for (let i = 0; i < reps[k]; i++) fns[k]();
      samples[k].push((clock() - t0) / reps[k]);
    }
  }
  return samples;
}

export function median(a: number[]): number {
  return [...a].sort((x, y) => x - y)[a.length >> 1];
}

/** Median over rounds of base[r] / other[r]: the speed-up of `other` as a busy machine gives it. */
export function medianRatio(base: number[], other: number[]): number {
  return median(base.map((t, r) => t / other[r]));
}

export function fmtMs(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

/** Speed-up of two busy worker threads over one: how much parallel CPU this machine gives right now (2.0 on two idle cores). */
export async function parallelCapacity(): Promise<number> {
  const code = `const t = performance.now(); let x = 0; for (let i = 0; i < 1e8; i++) x = (x + i) % 1000003; require('node:worker_threads').parentPort.postMessage(x);`;
  const run = async (n: number) => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, () => new Promise((r) => new Worker(code, { eval: true }).once('message', r))));
    return performance.now() - t0;
  };
  const one = await run(1);
  const two = await run(2);
  return (2 * one) / two;
}
