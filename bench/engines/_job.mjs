// The Node side of an engine script: the job it was given (one JSON argument) and the one JSON
// line it prints. Plain JavaScript, no tsx, so the process's peak RSS is the engine's and Node's alone.

import { readFileSync } from 'node:fs';

/** { file, threads, prompt (tokens), gen (tokens), ctx, round, vocab, fast?, bundle?, peer? } */
export const job = JSON.parse(process.argv[2]);

/**
 * The process's peak RSS in bytes: Linux's VmHWM, which starts afresh at exec (getrusage's maxRSS
 * can carry the RSS of the parent that forked this process); elsewhere maxRSS (KiB).
 */
function peakRss() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Prints the engine's figures and the peak RSS as one JSON line. */
export function report(figures) {
  console.log(JSON.stringify({ ...figures, peakRss: peakRss() }));
}
