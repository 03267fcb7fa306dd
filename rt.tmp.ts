import { WasmBackend } from './src/backend/wasm/index.ts';
const spin = Number(process.argv[2] ?? 20000);
const b = await WasmBackend.create({ threads: 2, spin, minSplitWork: 0 });
const b1 = await WasmBackend.create({ threads: 1 });
for (const [R, C] of [[8, 8], [288, 288], [768, 288]]) {
  for (const bb of [b1, b]) {
    const w = bb.upload({ name: 'w', kind: 'f32', shape: [R, C], data: new Float32Array(R * C).fill(0.5) });
    const x = bb.alloc(C), o = bb.alloc(R);
    const N = 3000;
    const res = [];
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) bb.matvec(o, w, x);
      res.push(((performance.now() - t0) / N * 1000).toFixed(1));
    }
    console.log(`threads ${bb.threads} spin ${spin} ${R}x${C}: ${res.join(' ')} µs`);
  }
}
await b.close();
