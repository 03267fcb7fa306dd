// Peak RSS of one load and a short run, broken down (issue 12's bound: file + KV cache + 64 MiB).
// Plain JavaScript in a fresh process, so the VmHWM is the runtime's and Node's alone. Loads FILE
// with the single-file bundle (wasm backend, one thread, context 104 as the end-to-end bench's
// 64 + 40 tokens), runs a 64-token prompt and 8 tokens, and prints one JSON line, in MiB: rss0
// (before the load), hwmLoad (VmHWM after it), hwm (after the run), wasm (the memory's size),
// placed (the bytes its heap handed out), arrayBuffers and jsHeap (what JS still holds), bound.
//
//   node bench/peakrss.mjs FILE.sqz [--fast] [--bundle build/squeeze-edge.mjs]
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { fast: { type: 'boolean' }, bundle: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help || positionals.length !== 1) {
  console.log('usage: node bench/peakrss.mjs FILE.sqz [--fast] [--bundle FILE]\n  peak RSS (VmHWM) of loading FILE and running 72 tokens at context 104, as one JSON line (MiB)');
  process.exit(values.help ? 0 : 2);
}
const file = positionals[0];
setFlagsFromString('--experimental-wasm-relaxed-simd'); // as `sqz run` does first thing
const { loadModel } = await import(pathToFileURL(resolve(values.bundle ?? 'build/squeeze-edge.mjs')).href);
const MiB = 2 ** 20;
const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const rss0 = process.memoryUsage().rss / MiB;
const ctx = 104;
const model = await loadModel(file, { fast: !!values.fast, backend: 'wasm', ctx });
const hwmLoad = hwm();
const mem = process.memoryUsage();
let logits = model.forward(Array.from({ length: 64 }, (_, i) => 3 + i), 0);
for (let i = 0; i < 8; i++) logits = model.forward([3 + (logits.length % 97) + i], 64 + i);
const heap = model.backend.heap;
const kv = model.state.kv?.bytes ?? 0;
const round = (x) => Math.round(x);
console.log(JSON.stringify({
  file, rss0: round(rss0), hwmLoad: round(hwmLoad), hwm: round(hwm()), wasm: round(heap.memory.buffer.byteLength / MiB), placed: round(heap.used / MiB),
  arrayBuffers: round(mem.arrayBuffers / MiB), jsHeap: round(mem.heapUsed / MiB), bound: round((statSync(file).size + kv) / MiB + 64),
}));
await model.close();
