// Per-row timing of the k-means methods on synthetic heavy-tailed rows with log-normal Fisher
// weights (10% zeros), best of 3 passes over 64 rows. Usage: node --import tsx tools/kmeans/bench.ts [cols...] (default 4096)
import { Rng } from '../../src/util/random.ts';
import { quantizeRows, type KMeansMethod } from './index.ts';

const colsList = process.argv.slice(2).map(Number).filter((v) => v > 0);
const rows = 64;
for (const cols of colsList.length ? colsList : [4096]) {
  const rng = new Rng(1);
  const W = new Float32Array(rows * cols);
  const F = new Float32Array(rows * cols);
  for (let i = 0; i < W.length; i++) {
    let v = rng.normal() * 0.02 * Math.exp(0.7 * rng.normal());
    if (rng.next() < 0.01) v *= 20;
    W[i] = v;
    F[i] = rng.next() < 0.1 ? 0 : Math.exp(2 * rng.normal());
  }
  for (const bits of [3, 4]) {
    for (const method of ['exact', 'lloyd'] as KMeansMethod[]) {
      quantizeRows(W, F, rows, cols, bits, { method, rowEnd: 16 }); // warm up
      let ms = Infinity;
      let r = quantizeRows(W, F, rows, cols, bits, { method });
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        r = quantizeRows(W, F, rows, cols, bits, { method });
        ms = Math.min(ms, (performance.now() - t0) / rows);
      }
      const obj = r.objectives.reduce((a, b) => a + b, 0);
      console.log(
        `n=${cols} k=${1 << bits} ${method.padEnd(5)} ${ms.toFixed(3)} ms/row  objective sum ${obj.toPrecision(6)}`,
      );
    }
  }
}
