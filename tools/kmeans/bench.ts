// Timings of the k-means methods on synthetic heavy-tailed rows with log-normal Fisher weights
// (10% zeros). Usage: node --import tsx tools/kmeans/bench.ts [cols... | RxC... | 7b [threads]]
//   cols: per row, best of 3 passes over 64 rows: exact (TS), exact (WASM), Lloyd (default 4096)
//   RxC:  clusterRows on an R x C matrix at 4 bits, 1 and 2 threads (and TS), best of 7 calls
//   7b:   nuq's default fit (one table per matrix, row scales: fitSharedTables) of one LLaMA-7B
//         block's seven matrices at 3 and 4 bits, one matrix at a time, on `threads` (default 2)
import { Rng } from '../../src/util/random.ts';
import { quantizeRows, type KMeansMethod, type RowsOptions } from './index.ts';
import { closePools, clusterRows } from './parallel.ts';
import { wasmExact } from './wasm.ts';
import { fitSharedTables } from '../squeezellm/shared.ts';

function data(rows: number, cols: number): { W: Float32Array; F: Float32Array } {
  const rng = new Rng(1);
  const W = new Float32Array(rows * cols);
  const F = new Float32Array(rows * cols);
  for (let i = 0; i < W.length; i++) {
    let v = rng.normal() * 0.02 * Math.exp(0.7 * rng.normal());
    if (rng.next() < 0.01) v *= 20;
    W[i] = v;
    F[i] = rng.next() < 0.1 ? 0 : Math.exp(2 * rng.normal());
  }
  return { W, F };
}

const args = process.argv.slice(2);
if (args[0] === '7b') {
  const threads = Number(args[1] ?? 2);
  // q, k, v, o: 4096 x 4096; gate, up: 11008 x 4096; down: 4096 x 11008 ([out, in])
  const shapes: [string, number, number][] = [['q', 4096, 4096], ['k', 4096, 4096], ['v', 4096, 4096], ['o', 4096, 4096], ['gate', 11008, 4096], ['up', 11008, 4096], ['down', 4096, 11008]];
  await fitSharedTables(new Float32Array(64), new Float32Array(64).fill(1), 8, 8, { bits: 4, tableRows: 8, rowScale: true, lutType: 'f16', threads }); // start the workers
  for (const bits of [3, 4] as const) {
    let total = 0;
    const parts: string[] = [];
    for (const [name, R, C] of shapes) {
      const { W, F } = data(R, C);
      const t0 = performance.now();
      await fitSharedTables(W, F, R, C, { bits, tableRows: R, rowScale: true, lutType: 'f16', threads });
      const ms = performance.now() - t0;
      total += ms;
      parts.push(`${name} ${(ms / 1000).toFixed(2)}`);
    }
    const rss = process.memoryUsage().rss / 2 ** 20;
    console.log(`7B block, ${bits} bits, ${threads} threads: ${(total / 1000).toFixed(2)} s (${parts.join(', ')} s), rss ${rss.toFixed(0)} MiB`);
  }
  await closePools();
  process.exit(0);
}
const colsList = args.map(Number).filter((v) => v > 0);
const matrices = args.filter((a) => /^\d+x\d+$/.test(a)).map((a) => a.split('x').map(Number));
if (!matrices.length && !colsList.length) colsList.push(4096);

const rows = 64;
for (const cols of colsList) {
  const { W, F } = data(rows, cols);
  for (const bits of [3, 4]) {
    const runs: [string, RowsOptions][] = [
      ['exact', { method: 'exact' }],
      ['exact-wasm', { method: 'exact', solver: wasmExact() }],
      ['lloyd', { method: 'lloyd' as KMeansMethod }],
    ];
    for (const [name, opts] of runs) {
      quantizeRows(W, F, rows, cols, bits, { ...opts, rowEnd: 16 }); // warm up
      let ms = Infinity;
      let r = quantizeRows(W, F, rows, cols, bits, opts);
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        r = quantizeRows(W, F, rows, cols, bits, opts);
        ms = Math.min(ms, (performance.now() - t0) / rows);
      }
      const obj = r.objectives.reduce((a, b) => a + b, 0);
      console.log(`n=${cols} k=${1 << bits} ${name.padEnd(10)} ${ms.toFixed(3)} ms/row  objective sum ${obj.toPrecision(6)}`);
    }
  }
}

for (const [R, C] of matrices) {
  const { W, F } = data(R, C);
  const time = async (f: () => unknown): Promise<number> => {
    let best = Infinity;
    for (let rep = 0; rep < 7; rep++) {
      const t0 = performance.now();
      await f();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const ts = await time(() => quantizeRows(W, F, R, C, 4));
  const t1 = await time(() => clusterRows(W, F, R, C, 4, { threads: 1 }));
  await clusterRows(W, F, R, C, 4, { threads: 2 }); // start the workers
  const t2 = await time(() => clusterRows(W, F, R, C, 4, { threads: 2 }));
  console.log(`${R}x${C} 4 bits exact: TS ${ts.toFixed(1)} ms, WASM 1 thread ${t1.toFixed(1)} ms, 2 threads ${t2.toFixed(1)} ms (x${(t1 / t2).toFixed(2)})`);
}
await closePools();
