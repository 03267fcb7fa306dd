// A kernel worker (built to build/kernel-worker.mjs by scripts/build.mjs): its own instance of the
// kernel module over the backend's shared memory, looping on the control block's generation
// counter. Each job: run this worker's part, report a throw in the control block, decrement
// PENDING (the last one wakes the main thread). It allocates nothing in the WASM heap.
import { parentPort, workerData } from 'node:worker_threads';
import type { KernelExports } from './exports.ts';
import { ERROR, F32View, GEN, MAIN_SLEEPING, OP, OP_EXIT, PENDING, PROBE, SLEEPERS, runPart, writeErrorText, type WorkerInit } from './protocol.ts';

const { module, memory, control, part, spin } = workerData as WorkerInit;
// The kernel module imports only its memory; instantiating it again rewrites its constant data
// segments (below heapBase) with the same bytes, before any job runs.
const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
const ctrl = new Int32Array(control);
const u32 = new Uint32Array(control);
const mem = new F32View(memory);

let seen = Atomics.load(ctrl, GEN);
parentPort!.postMessage('ready');

// Adaptive spinning (see PROBE in protocol.ts): a spin that catches the next job doubles the
// budget, one that ends in sleep halves it, so two threads sharing one CPU stop burning each
// other's time slices; every PROBE sleeps the full budget is tried again.
let budget = spin;
let sleeps = 0;
for (;;) {
  let gen = Atomics.load(ctrl, GEN);
  for (let i = 0; gen === seen && i < budget; i++) gen = Atomics.load(ctrl, GEN);
  if (gen !== seen) budget = Math.min(spin, budget * 2 + 16);
  else {
    budget = ++sleeps % PROBE === 0 ? spin : budget >> 1;
    do {
      Atomics.add(ctrl, SLEEPERS, 1);
      Atomics.wait(ctrl, GEN, seen);
      Atomics.sub(ctrl, SLEEPERS, 1);
      gen = Atomics.load(ctrl, GEN);
    } while (gen === seen);
  }
  seen = gen;
  if (u32[OP] === OP_EXIT) break;
  try {
    runPart(k, u32, part, mem);
  } catch (e) {
    if (Atomics.compareExchange(ctrl, ERROR, 0, part + 1) === 0) {
      const err = e as Error;
      writeErrorText(ctrl, `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`);
    }
  }
  if (Atomics.sub(ctrl, PENDING, 1) === 1 && Atomics.load(ctrl, MAIN_SLEEPING) !== 0) Atomics.notify(ctrl, PENDING);
}
parentPort!.close();
