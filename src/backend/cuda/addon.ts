// Finding and loading the optional CUDA binding (cuda/, built by `npm run build:cuda`), and asking
// it whether a device answers. Never throws: the outcome is a status that says what is missing, so
// backend 'auto' can fall back to wasm quietly and backend 'cuda' can say why it cannot run.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CudaUnavailableReason } from '../../util/errors.ts';

/** Device 0 as the binding describes it. */
export interface CudaDevice {
  name: string;
  devices: number;
  computeCapability: string;
  memoryBytes: number;
  l2Bytes: number;
  multiprocessors: number;
  /** Peak memory bandwidth from the memory clock and bus width, GB/s. */
  bandwidthGBs: number;
}

type Addr = number;
type Flag = 0 | 1;

/**
 * The binding's functions (cuda/addon/binding.cc): device addresses are plain numbers, launchers
 * take the arguments of cuda/kernels.h in order (without the stream) and return at once.
 */
export interface CudaAddon {
  probe(): ({ ok: true } & CudaDevice) | { ok: false; reason: 'no-device' | 'driver'; message: string };
  /** Selects the device and creates the stream; returns the attention kernel's shared-memory limit in bytes. */
  init(device: number): number;
  alloc(bytes: number): Addr;
  free(addr: Addr): void;
  write(addr: Addr, data: ArrayBufferView): void;
  read(addr: Addr, n: number): Float32Array;
  synchronize(): void;
  matmulLut(out: Addr, lut: Addr, lutHalf: Flag, idx: Addr, x: Addr, rows: number, cols: number, n: number, bits: number): void;
  matmulUniform(out: Addr, scales: Addr, zeros: Addr, values: Addr, x: Addr, rows: number, cols: number, n: number, groupSize: number, bits: number): void;
  matmulDense(out: Addr, w: Addr, half: Flag, x: Addr, rows: number, cols: number, n: number): void;
  spmmCsrAdd(out: Addr, rowPtr: Addr, colIdx: Addr, values: Addr, segments: Addr, nSegments: number, x: Addr, rows: number, cols: number, n: number): void;
  rmsnorm(out: Addr, x: Addr, w: Addr, dim: number, n: number, eps: number): void;
  rope(vec: Addr, len: number, headSize: number, pos: number, theta: number, halfPairs: Flag): void;
  attention(out: Addr, q: Addr, k: Addr, v: Addr, nHeads: number, nKvHeads: number, headSize: number, nPos: number): void;
  swiglu(out: Addr, gate: Addr, up: Addr, n: number): void;
  add(out: Addr, a: Addr, b: Addr, n: number): void;
  embedF32(out: Addr, w: Addr, row: number, cols: number): void;
  embedF16(out: Addr, w: Addr, row: number, cols: number): void;
  embedLut(out: Addr, lut: Addr, lutHalf: Flag, idx: Addr, rowPtr: Addr, colIdx: Addr, values: Addr, row: number, cols: number, bits: number): void;
  embedUniform(out: Addr, scales: Addr, zeros: Addr, values: Addr, row: number, cols: number, groupSize: number, bits: number): void;
  /** Launches from here to captureEnd() are recorded into a graph instead of run (bench/cuda.ts). */
  captureBegin(): void;
  captureEnd(): number;
  /** Device milliseconds per replay of a captured graph, over `reps` replays. */
  timeGraph(graph: number, reps: number): number;
}

export type CudaStatus = { ok: true; addon: CudaAddon; device: CudaDevice; path: string } | { ok: false; reason: CudaUnavailableReason; message: string };

/** Set to the path of a built sqz_cuda.node to use that one (or to a missing path to disable CUDA). */
export const ADDON_ENV = 'SQZ_CUDA_ADDON';
// Path parts, joined only when looked up: the browser bundle imports this module with node:path stubbed out.
const ADDON_REL = ['cuda', 'build', 'Release', 'sqz_cuda.node'];

/**
 * Where the binding is: $SQZ_CUDA_ADDON, else cuda/build/Release/sqz_cuda.node in the package
 * (found upward from this module: src/backend/cuda/ under tsx, build/ in the bundle). null if absent.
 */
export function addonPath(env: NodeJS.ProcessEnv = process.env, from = moduleDir()): string | null {
  const given = env[ADDON_ENV];
  if (given) return existsSync(given) ? given : null;
  for (let dir = from, i = 0; i < 5; i++, dir = dirname(dir)) {
    const p = join(dir, ...ADDON_REL);
    if (existsSync(p)) return p;
  }
  return null;
}

function moduleDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/**
 * Loads the binding at `path`, probes device 0 and initialises it (a device that is listed but cannot
 * be set up, say one taken in exclusive mode, does not answer: backend 'auto' then stays on wasm).
 */
export function probeAddon(path: string, load: (p: string) => unknown = createRequire(import.meta.url)): CudaStatus {
  let addon: CudaAddon;
  try {
    addon = load(path) as CudaAddon;
  } catch (e) {
    return { ok: false, reason: 'no-addon', message: `the CUDA binding ${path} does not load (${firstLine(e)}); rebuild it with npm run build:cuda` };
  }
  try {
    const p = addon.probe();
    if (!p.ok) return { ok: false, reason: p.reason, message: p.reason === 'no-device' ? `no CUDA device answers (${p.message})` : `the CUDA driver failed (${p.message})` };
    addon.init(0);
    const { ok: _, ...device } = p;
    return { ok: true, addon, device, path };
  } catch (e) {
    return { ok: false, reason: 'driver', message: `the CUDA driver failed (${firstLine(e)})` };
  }
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

let cached: CudaStatus | undefined;

/** Whether CUDA can run here, and if so the loaded binding; decided once per process. */
export function cudaStatus(): CudaStatus {
  if (cached) return cached;
  if (typeof process === 'undefined' || !process.versions?.node) return (cached = { ok: false, reason: 'no-addon', message: 'CUDA needs Node (a native binding)' });
  const path = addonPath();
  if (!path) {
    const given = process.env[ADDON_ENV];
    cached = { ok: false, reason: 'no-addon', message: given ? `${given} (from ${ADDON_ENV}) does not exist` : 'the CUDA binding is not built (npm run build:cuda, docs/CUDA.md)' };
    return cached;
  }
  return (cached = probeAddon(path));
}
