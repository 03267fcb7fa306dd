// The GPU for test/cuda/run.ts and bench/cuda.ts (not a test file): the loaded binding on device 0,
// or one line saying why there is none, and device buffers that are all freed together.
import type { CudaAddon, CudaDevice } from '../../src/backend/cuda/addon.ts';
import { cudaStatus } from '../../src/backend/cuda/addon.ts';

/** The binding with device 0 initialised; on a machine where CUDA cannot run, prints `<tool>: why` and exits 1. */
export function openDevice(tool: string): { addon: CudaAddon; device: CudaDevice } {
  const s = cudaStatus();
  if (!s.ok) {
    console.error(`${tool}: ${s.message}; nothing was run (docs/CUDA.md)`);
    process.exit(1);
  }
  try {
    s.addon.init(0);
  } catch (e) {
    console.error(`${tool}: the CUDA driver failed (${e instanceof Error ? e.message : String(e)}); nothing was run`);
    process.exit(1);
  }
  return { addon: s.addon, device: s.device };
}

/** Device allocations made for one check; release() frees them all. */
export class DeviceBuffers {
  private readonly addrs: number[] = [];

  constructor(readonly addon: CudaAddon) {}

  /** A device copy of a host array. */
  put(data: ArrayBufferView): number {
    const a = this.addon.alloc(data.byteLength);
    this.addrs.push(a);
    if (data.byteLength) this.addon.write(a, data);
    return a;
  }

  /** n zeroed floats. */
  floats(n: number): number {
    const a = this.addon.alloc(4 * n);
    this.addrs.push(a);
    return a;
  }

  get(addr: number, n: number): Float32Array {
    return this.addon.read(addr, n);
  }

  release(): void {
    this.addon.synchronize();
    for (const a of this.addrs.splice(0)) this.addon.free(a);
  }
}
