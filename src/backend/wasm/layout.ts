// Table layouts the LUT kernels read (assembly/lut.ts), built once when a weight is placed.
import { lutToInt8 } from '../../kernels/reference.ts';

/** Bytes of one row's byte planes (3- and 4-bit tables alike). */
export const PLANE_BYTES = 64;

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

/** The int8 fast path's table: int8 [rows, 16] (lanes 8..15 are 0 at 3 bits) and one f32 scale per row (ref.lutToInt8). */
export function lutInt8Table(lut: Float32Array, bits: 3 | 4): { table: Uint8Array; scales: Float32Array } {
  const { table, scales } = lutToInt8(lut, bits);
  const levels = 1 << bits;
  const out = new Uint8Array(scales.length * 16);
  for (let r = 0; r < scales.length; r++) for (let k = 0; k < levels; k++) out[r * 16 + k] = table[r * levels + k] & 0xff;
  return { table: out, scales };
}
