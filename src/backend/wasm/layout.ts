// Table layouts the LUT kernels read (assembly/lut.ts), and the f16 kernels' halves
// (assembly/f16.ts), built once when a weight is placed.
import { rowBytes } from '../../format/packing.ts';
import { floatToHalf, halfToFloat, lutToUint7 } from '../../kernels/reference.ts';

/** Bytes of one row's byte planes (3- and 4-bit tables alike). */
const PLANE_BYTES = 64;

/**
 * The exact LUT kernels' table: per row four 16-byte planes, plane b at 16 * b with lane k = byte b
 * (little-endian, as in WASM memory) of the f32 entry lut[r, k]; lanes 2^bits..15 are 0 at 3 bits.
 * The kernels load the planes instead of building them from the f32 table (docs/KERNELS.md).
 */
export function lutPlanes(lut: Float32Array, bits: 3 | 4): Uint8Array {
  const levels = 1 << bits;
  const rows = lut.length >> bits;
  const u = new Uint32Array(lut.buffer, lut.byteOffset, lut.length);
  const out = new Uint8Array(rows * PLANE_BYTES);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < levels; k++) {
      const v = u[r * levels + k];
      for (let b = 0; b < 4; b++) out[r * PLANE_BYTES + 16 * b + k] = (v >>> (8 * b)) & 0xff;
    }
  }
  return out;
}

/**
 * The int8 fast path's table: 7-bit entries, 16 bytes per row (lanes 8..15 are 0 at 3 bits), and (step,
 * lo) f32 per row (ref.lutToUint7).
 */
export function lutInt8Table(lut: Float32Array, bits: 3 | 4): { table: Uint8Array; params: Float32Array } {
  const { table, params } = lutToUint7(lut, bits);
  const levels = 1 << bits;
  const rows = params.length >> 1;
  const out = new Uint8Array(rows * 16);
  for (let r = 0; r < rows; r++) {
    out.set(table.subarray(r * levels, (r + 1) * levels), r * 16);
  }
  return { table: out, params };
}

/** Bytes of one 64-weight block of int8Indices' 3-bit layout. */
const BLOCK_BYTES3 = 24;

/**
 * The indices as the int8 kernels read them: 4 bits as packed (the same array); 3 bits repacked into
 * 64-weight blocks of 24 bytes, rows padded to whole blocks with index 0 (assembly/lutint8.ts has the
 * layout and why: 11 instructions of decode per 64 weights).
 */
export function int8Indices(packed: Uint8Array, rows: number, cols: number, bits: 3 | 4): Uint8Array {
  if (bits === 4) return packed;
  const blocks = Math.ceil(cols / 64);
  const out = new Uint8Array(rows * blocks * BLOCK_BYTES3);
  const stride = rowBytes(3, cols);
  const idx = new Uint8Array(blocks * 64); // one row's indices, 0 past cols
  for (let r = 0; r < rows; r++) {
    // the row's indices, group by group (the format's layout, src/format/packing.ts)
    for (let w = 0, p = r * stride; w < cols; w += 32, p += 12) {
      for (let j = 0; j < 8; j++) {
        const b = packed[p + j];
        idx[w + j] = b & 3;
        idx[w + 8 + j] = (b >> 2) & 3;
        idx[w + 16 + j] = (b >> 4) & 3;
        idx[w + 24 + j] = b >> 6;
      }
      for (let i = 0; i < 4; i++) {
        const h = packed[p + 8 + i];
        for (let k = 0; k < 8; k++) idx[w + 8 * i + k] |= ((h >> k) & 1) << 2;
      }
    }
    // then block by block in the kernels' layout: fields of 3 bits and nibbles (assembly/lutint8.ts)
    for (let blk = 0, o = r * blocks * BLOCK_BYTES3; blk < blocks; blk++, o += BLOCK_BYTES3) {
      const w = blk * 64;
      for (let j = 0; j < 16; j++) out[o + j] = idx[w + j] | (idx[w + 16 + j] << 3) | ((idx[w + 32 + j] >> 1) << 6);
      const nibble = (l: number) => (idx[w + 32 + l] & 1) | (idx[w + 48 + l] << 1);
      for (let i = 0; i < 8; i++) out[o + 16 + i] = nibble(2 * i) | (nibble(2 * i + 1) << 4);
    }
  }
  return out;
}

/**
 * An f16 matrix as the f16 kernels read it, in place (the backend lifts the copy it placed in WASM
 * memory): the halves times 2^shift, with the smallest shift that makes every nonzero half normal
 * (the kernels widen half * 2^-shift, so the products are unchanged: power-of-two scaling is exact
 * while nothing overflows). An x86 multiply with a subnormal operand
 * takes a slow microcode assist, and trained weights hold a few tenths of a percent of subnormal
 * halves. Shift 0 (the halves as they are) when none is subnormal, when the largest would overflow,
 * and when any is an infinity or NaN. Returns the shift.
 */
export function liftHalves(h: Uint16Array): number {
  let top = 0; // largest magnitude bits
  let low = 0x400; // smallest nonzero magnitude bits, if subnormal
  for (let i = 0; i < h.length; i++) {
    const m = h[i] & 0x7fff;
    if (m > top) top = m;
    if (m !== 0 && m < low) low = m;
  }
  // low * 2^shift >= 0x400 (the smallest normal), (top >> 10) + shift <= 30 (the largest finite exponent)
  const shift = low < 0x400 ? Math.clz32(low) - 21 : 0;
  if (shift === 0 || (top >> 10) + shift > 30) return 0;
  // the lifted magnitude of each subnormal (and zero) half
  const lifted = Uint16Array.from({ length: 0x400 }, (_, m) => floatToHalf(halfToFloat(m) * 2 ** shift));
  const add = shift << 10;
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    h[i] = (v & 0x7c00) !== 0 ? v + add : (v & 0x8000) | lifted[v & 0x3ff];
  }
  return shift;
}
