// Compiles the kernel module once and instantiates it over a shared memory the host owns
// (the module imports its memory: built with --importMemory --sharedMemory, see asconfig.json),
// so worker threads can later run their own instances over the same memory.
import { instantiate } from '@assemblyscript/loader';
import wasmBytes from '../../../build/wasm-bytes.mjs';
import { WasmHeap, MAX_BYTES, PAGE } from './heap.ts';
import type { KernelExports } from './exports.ts';

let compiled: WebAssembly.Module | undefined;

export function kernelModule(): WebAssembly.Module {
  if (!WebAssembly.validate(wasmBytes)) {
    throw new Error('this JavaScript engine cannot run the kernels: WebAssembly SIMD and threads (shared memory) are required');
  }
  compiled ??= new WebAssembly.Module(wasmBytes);
  return compiled;
}

export interface KernelInstance {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  heap: WasmHeap;
}

/** A fresh memory (starting at `initialBytes`, 1 MiB by default) with the kernels instantiated over it. */
export async function createKernelInstance(initialBytes = 1 << 20): Promise<KernelInstance> {
  const memory = new WebAssembly.Memory({
    initial: Math.ceil(initialBytes / PAGE),
    maximum: MAX_BYTES / PAGE,
    shared: true,
  });
  const { exports } = await instantiate<KernelExports>(kernelModule(), { env: { memory } });
  const heap = new WasmHeap(memory, exports.heapBase());
  return { exports, memory, heap };
}
