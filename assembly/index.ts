// Entry of the kernel module: every export the host calls. See assembly/README.md.
export { matvecF32 } from './dense';

// First byte the host may use: AssemblyScript's static data ends here.
export function heapBase(): usize {
  return __heap_base;
}
