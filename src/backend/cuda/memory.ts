// Device memory for the Backend interface. The forward pass cuts views out of buffers with offsets
// in f32 elements (src/backend/types.ts); here each alloc() is its own device allocation, placed at
// the next virtual offset, and a view is turned into a device address by finding its allocation.
import type { Vec } from '../types.ts';

interface Region {
  off: number;
  len: number;
  addr: number;
}

export class DeviceArena {
  private readonly regions: Region[] = [];
  private top = 0;

  /** `allocate(bytes)` returns a zeroed device allocation's address; `release` frees one. */
  constructor(
    private readonly allocate: (bytes: number) => number,
    private readonly release: (addr: number) => void,
  ) {}

  alloc(n: number): Vec {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`cannot allocate ${n} floats`);
    const v = { off: this.top, len: n };
    this.regions.push({ ...v, addr: this.allocate(4 * n) });
    this.top += Math.max(n, 1); // every region has its own offsets, empty ones too
    return v;
  }

  /** The device address of v's first element; v must lie inside one allocation. */
  addr(v: Vec): number {
    const rs = this.regions;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rs[mid].off <= v.off) lo = mid;
      else hi = mid - 1;
    }
    const r = rs[lo];
    if (!r || v.off < r.off || v.off + v.len > r.off + r.len) throw new RangeError(`view [${v.off}, ${v.off + v.len}) is not inside one device buffer`);
    return r.addr + 4 * (v.off - r.off);
  }

  /** Frees every allocation. */
  releaseAll(): void {
    for (const r of this.regions.splice(0)) this.release(r.addr);
  }
}
