// The kernel module's exports as the host sees them (see assembly/index.ts). All pointers are byte
// addresses in the shared memory; matrices are row-major [rows, cols]; row ranges are [r0, r1).
export interface KernelExports extends Record<string, unknown> {
  heapBase(): number;
  matvecF32(out: number, w: number, x: number, cols: number, r0: number, r1: number): void;
}
