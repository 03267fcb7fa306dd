// One progress bar helper for every long command (cli-progress), drawn on stderr and only when
// stderr is a terminal, so piped output and CI logs stay clean.
import cliProgress from 'cli-progress';

export interface Progress {
  /** `what` (a step, a tensor) is shown after the counts. */
  update(done: number, total?: number, what?: string): void;
  stop(): void;
}

export function progressBar(label: string): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} {what}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, what) {
      if (!started) {
        bar.start(total ?? 1, 0, { what: what ?? '' });
        started = true;
      } else if (total !== undefined) bar.setTotal(total);
      bar.update(done, { what: what ?? '' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
