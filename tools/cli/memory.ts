// Peak memory of a command, for --verbose: resident set size sampled every 50 ms and at the end.
export function watchPeakMemory(): () => { rssMiB: number; heapMiB: number } {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed + m.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  timer.unref();
  return () => {
    sample();
    clearInterval(timer);
    return { rssMiB: rss / 2 ** 20, heapMiB: heap / 2 ** 20 };
  };
}
