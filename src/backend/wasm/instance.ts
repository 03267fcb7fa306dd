// Compiles the kernel module once and instantiates it over a shared memory the host owns
// (the module imports its memory: built with --importMemory --sharedMemory, see asconfig.json),
// so worker threads can later run their own instances over the same memory.
//
// Two builds of the same kernels exist (scripts/build.mjs): plain SIMD, and relaxed SIMD (the int8
// fast path's dot products, docs/KERNELS.md "LUT products"). The relaxed one is taken wherever the
// engine validates it (Chromium, Node 22+, and Node 20 once the CLI has enabled the flag,
// relaxed.ts); the plain one everywhere else. Both compute the same functions; on the int8 fast path
// the last bits of a sum may differ between them (fused multiply-add).
import { instantiate } from '@assemblyscript/loader';
import wasmBytes, { relaxed as relaxedBytes } from '../../../build/wasm-bytes.mjs';
import { WasmHeap, MAX_BYTES, PAGE } from './heap.ts';
import type { KernelExports } from './exports.ts';

/** Which build of the kernels: plain SIMD or relaxed SIMD. */
export type KernelBuild = 'simd' | 'relaxed';

const compiled = new Map<KernelBuild, WebAssembly.Module>();
let relaxedValid: boolean | undefined;

/** Whether this engine runs the relaxed-SIMD build (checked once). */
export function relaxedSimdAvailable(): boolean {
  relaxedValid ??= WebAssembly.validate(relaxedBytes);
  return relaxedValid;
}

/** The build taken when none is asked for: relaxed where it validates, else plain SIMD. */
export function defaultKernelBuild(): KernelBuild {
  return relaxedSimdAvailable() ? 'relaxed' : 'simd';
}

export function kernelModule(build: KernelBuild = defaultKernelBuild()): WebAssembly.Module {
  let m = compiled.get(build);
  if (m) return m;
  if (build === 'relaxed') {
    if (!relaxedSimdAvailable()) throw new Error('this JavaScript engine cannot run the relaxed-SIMD kernels (on Node 20: node --experimental-wasm-relaxed-simd)');
    m = new WebAssembly.Module(relaxedBytes);
  } else {
    if (!WebAssembly.validate(wasmBytes)) {
      throw new Error('this JavaScript engine cannot run the kernels: WebAssembly SIMD and threads (shared memory) are required');
    }
    m = new WebAssembly.Module(wasmBytes);
  }
  compiled.set(build, m);
  return m;
}

export interface KernelInstance {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  heap: WasmHeap;
  /** The compiled module it runs (workers instantiate the same one). */
  module: WebAssembly.Module;
  build: KernelBuild;
}

/** A fresh memory (starting at `initialBytes`, 1 MiB by default) with the kernels (`build`, default defaultKernelBuild()) instantiated over it. */
export async function createKernelInstance(initialBytes = 1 << 20, build: KernelBuild = defaultKernelBuild()): Promise<KernelInstance> {
  const memory = new WebAssembly.Memory({
    initial: Math.ceil(initialBytes / PAGE),
    maximum: MAX_BYTES / PAGE,
    shared: true,
  });
  const module = kernelModule(build);
  const { exports } = await instantiate<KernelExports>(module, { env: { memory } });
  const heap = new WasmHeap(memory, exports.heapBase());
  return { exports, memory, heap, module, build };
}

/**
 * Turns on relaxed SIMD in an engine that has it behind a flag (Node 20: V8 11.3's
 * --experimental-wasm-relaxed-simd; Node 22+ and Chromium have it on). Must run before any kernel
 * module is compiled; without node:v8 (a browser) it changes nothing. The CLI calls it first thing.
 */
export async function enableRelaxedSimd(): Promise<void> {
  if (relaxedSimdAvailable() || compiled.size > 0) return;
  const v8 = await import('node:v8').catch(() => undefined);
  if (typeof v8?.setFlagsFromString !== 'function') return;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  relaxedValid = undefined;
}
