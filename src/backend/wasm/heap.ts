// The host side of WASM linear memory. The host decides where everything lives: model tensors are
// placed once (alloc), scratch buffers are named and reused across calls (scratch), and the memory
// grows page by page as needed, up to wasm32's 4 GiB. Kernels allocate nothing.

export const PAGE = 65536;
/** wasm32 addresses 2^32 bytes: 65536 pages. */
export const MAX_BYTES = 2 ** 32;
/** Kernels may read (never write) this many bytes past a block's end (a 3-bit group is one 16-byte load). */
export const SLACK = 16;

export class WasmMemoryError extends Error {
  override name = 'WasmMemoryError';
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

export class WasmHeap {
  private top: number;
  private readonly scratches = new Map<string, { ptr: number; bytes: number }>();

  constructor(readonly memory: WebAssembly.Memory, base: number) {
    this.top = alignUp(base, 64);
  }

  /** Bytes placed so far (the high-water mark of the bump allocator). */
  get used(): number {
    return this.top;
  }

  /** Places a block of `bytes` (plus read slack), aligned to `align`, and returns its address. */
  alloc(bytes: number, align = 16): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new WasmMemoryError(`cannot allocate ${bytes} bytes`);
    const ptr = alignUp(this.top, align);
    const end = ptr + bytes + SLACK;
    if (end > MAX_BYTES) {
      throw new WasmMemoryError(
        `WASM memory exhausted: this needs ${end} bytes (${gib(end)}) in all, but wasm32 memory holds at most 4 GiB` +
          ` (${bytes} bytes requested with ${ptr} already in use)`,
      );
    }
    this.ensure(end);
    this.top = end;
    return ptr;
  }

  /**
   * A scratch buffer reused across calls: the same name returns the same address while it is big
   * enough. Growing one places a new block (the old bytes stay unused), so callers ask for their
   * largest size first where they can.
   */
  scratch(name: string, bytes: number, align = 16): number {
    const s = this.scratches.get(name);
    if (s && s.bytes >= bytes && s.ptr % align === 0) return s.ptr;
    const ptr = this.alloc(bytes, align);
    this.scratches.set(name, { ptr, bytes });
    return ptr;
  }

  /** A mark to release back to: everything placed after it is freed by release(mark). */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark > this.top) throw new WasmMemoryError(`release(${mark}) is above the current top ${this.top}`);
    this.top = mark;
    for (const [name, s] of this.scratches) if (s.ptr >= mark) this.scratches.delete(name);
  }

  /** Copies host bytes into memory at ptr. */
  write(ptr: number, data: ArrayBufferView): void {
    new Uint8Array(this.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Places a copy of `data` and returns its address. */
  place(data: ArrayBufferView, align = 16): number {
    const ptr = this.alloc(data.byteLength, align);
    this.write(ptr, data);
    return ptr;
  }

  // Views are made fresh on each call: growing the memory replaces its buffer.
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  u16(ptr: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, n);
  }
  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new WasmMemoryError(
        `could not grow WASM memory to ${gib(have + pages * PAGE)} (${end} bytes needed): ${(e as Error).message}`,
      );
    }
  }
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
