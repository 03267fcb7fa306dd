// Speed of the uniform matvec kernel beside the dense f32 and LUT kernels, measured in the same run
// on one thread: `node --import tsx tools/baselines/bench.ts [rows] [cols]` (default 4096 x 4096).
// Prints the fastest of several timed runs of each kernel and its ratio to matvecF32.
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import { packIndices, type PackedBits } from '../../src/format/packing.ts';
import { uniformGroupCount } from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';

const rows = Number(process.argv[2] ?? 4096);
const cols = Number(process.argv[3] ?? 4096);
const { exports: k, heap } = await createKernelInstance(1 << 26);
const rng = new Rng(1);

function time(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  // the fastest of 15 runs: on a shared machine other processes only ever add time
  let best = Infinity;
  for (let rep = 0; rep < 15; rep++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const px = heap.place(rng.normals(cols));
const po = heap.alloc(rows * 4);
const pw = heap.place(rng.normals(rows * cols));
const f32 = time(() => k.matvecF32(po, pw, px, cols, 0, rows));
const results: [string, number][] = [['matvecF32', f32]];

for (const bits of [4, 3] as const) {
  const idx = new Uint8Array(rows * cols).map(() => rng.int(1 << bits));
  const pl = heap.place(rng.normals(rows << bits));
  const pi = heap.place(packIndices(idx, rows, cols, bits));
  results.push([`matvecLut${bits}`, time(() => (bits === 4 ? k.matvecLut4 : k.matvecLut3)(po, pl, pi, px, cols, 0, rows))]);
}

for (const bits of [4, 3, 8] as PackedBits[]) {
  const q = new Uint8Array(rows * cols).map(() => rng.int(1 << bits));
  const pv = heap.place(packIndices(q, rows, cols, bits));
  for (const gs of [128, cols]) {
    const n = rows * uniformGroupCount(cols, gs);
    const ps = heap.place(new Float32Array(n).map(() => 0.01 + rng.next()));
    const pz = heap.place(new Float32Array(n).fill(1 << (bits - 1)));
    results.push([`matvecUniform ${bits}-bit g${gs === cols ? 'row' : gs}`, time(() => k.matvecUniform(po, ps, pz, pv, px, cols, gs, bits, 0, rows))]);
  }
}

console.log(`${rows} x ${cols}, one thread, Node ${process.versions.node}`);
for (const [name, ms] of results) console.log(`${name.padEnd(28)} ${ms.toFixed(2).padStart(7)} ms   ${(ms / f32).toFixed(2)}x f32`);
