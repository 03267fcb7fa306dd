// The memory bandwidth one core gets, measured in the same run as the products it is the yardstick
// for: a WebAssembly SIMD sum over a buffer far larger than any cache, and a native memcpy
// (Uint8Array.set) of the same size. A product's weight-read rate is its weight bytes per second
// over the first figure.
//
// The sum is this AssemblyScript, compiled once with the project's compiler (asc --optimizeLevel 3
// --runtime stub --importMemory --noAssert --enable simd) and kept as its 163 bytes below, so a run
// does not load the compiler: four 16-byte loads per step into four i32x4 accumulators (one-cycle
// adds keep up with the loads); it returns lane 0 of their sum.
//
//   export function sum(p: usize, bytes: usize): i32 {
//     let a = i32x4.splat(0), b = i32x4.splat(0), c = i32x4.splat(0), d = i32x4.splat(0);
//     const end = p + bytes;
//     for (; p < end; p += 64) {
//       a = i32x4.add(a, v128.load(p));
//       b = i32x4.add(b, v128.load(p, 16));
//       c = i32x4.add(c, v128.load(p, 32));
//       d = i32x4.add(d, v128.load(p, 48));
//     }
//     return i32x4.extract_lane(i32x4.add(i32x4.add(a, b), i32x4.add(c, d)), 0);
//   }
const SUM_WASM =
  'AGFzbQEAAAABBwFgAn9/AX8CDwEDZW52Bm1lbW9yeQIAAAMCAQAHEAIDc3VtAAAGbWVtb3J5AgAKaQFnAQR7IAAgAWohAQNAIAAgAUkEQCACIAD9AAQA/a4BIQIgAyAA/QAEEP2uASEDIAQgAP0ABCD9rgEhBCAFIAD9AAQw/a4BIQUgAEFAayEADAELCyACIAP9rgEgBCAF/a4B/a4B/RsACw==';

/** The sum kernel over a fresh memory of `bytes` (plus one page before it): returns it and the memory. */
export async function sumKernel(bytes: number): Promise<{ sum: (p: number, n: number) => number; memory: WebAssembly.Memory }> {
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const { instance } = await WebAssembly.instantiate(Buffer.from(SUM_WASM, 'base64'), { env: { memory } });
  return { sum: instance.exports.sum as (p: number, n: number) => number, memory };
}

export interface Bandwidth {
  /** Bytes in each pass. */
  bytes: number;
  /** WASM SIMD read, bytes per second (best pass). */
  wasmReadBps: number;
  /** Uint8Array.prototype.set (native memcpy), bytes copied per second (best pass; it reads and writes each byte). */
  memcpyBps: number;
  /** Every pass, seconds. */
  wasmReadS: number[];
  memcpyS: number[];
}

/** Best of `passes` over `mib` MiB (default 256: well past the last-level cache). */
export async function measureBandwidth(mib = 256, passes = 7): Promise<Bandwidth> {
  const bytes = mib * 2 ** 20;
  const { sum, memory } = await sumKernel(bytes);
  // the pages touched (written) first, so no pass pays for faulting them in
  new Float32Array(memory.buffer, 65536, bytes / 4).fill(1);
  const wasmReadS: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    sum(65536, bytes);
    wasmReadS.push((performance.now() - t0) / 1000);
  }
  const src = new Uint8Array(bytes).fill(3);
  const dst = new Uint8Array(bytes).fill(0);
  const memcpyS: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    dst.set(src);
    memcpyS.push((performance.now() - t0) / 1000);
  }
  return { bytes, wasmReadBps: bytes / Math.min(...wasmReadS), memcpyBps: bytes / Math.min(...memcpyS), wasmReadS, memcpyS };
}
