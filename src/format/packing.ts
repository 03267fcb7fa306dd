// Bit layouts of packed indices (SqueezeLLM `nuq` lookup indices and `uniform` quantized values).
//
// Every row is cut into groups of GROUP = 32 weights; a row's last group is padded with index 0,
// so rows start on a group boundary and a SIMD kernel decodes whole groups with constant shifts:
//
//   4 bits, 16 bytes per group: byte j (0..15) = w[j] | w[j + 16] << 4
//           -> `v & 0x0f` gives weights 0..15 in 16 byte lanes, `v >> 4` gives weights 16..31.
//   3 bits, 12 bytes per group: the low two bits and the high bit of each index in two planes
//           bytes 0..7 : byte j = lo(w[j]) | lo(w[j+8]) << 2 | lo(w[j+16]) << 4 | lo(w[j+24]) << 6
//           bytes 8..11: bit b of byte 8 + i = bit 2 of w[8i + b]
//           -> weights 0..15 are (v & 3) and (v >> 2 & 3) of bytes 0..7 side by side, plus the
//              high bits of bytes 8, 9 spread over lanes by one shuffle and a bit mask.
//   8 bits, 32 bytes per group: byte j = w[j].
//
// docs/FORMAT.md shows a worked example. Kernels may read up to 16 bytes past the end of a packed
// tensor (a 3-bit group is loaded as one 16-byte vector); the WASM host pads every block it places.

export const GROUP = 32;

export type PackedBits = 3 | 4 | 8;

/** Bytes one packed group of GROUP weights takes. */
export function groupBytes(bits: PackedBits): number {
  return (GROUP * bits) / 8;
}

/** Bytes one packed row of `cols` weights takes (whole groups). */
export function rowBytes(bits: PackedBits, cols: number): number {
  return Math.ceil(cols / GROUP) * groupBytes(bits);
}

/** Packs row-major indices (rows x cols, each < 2^bits) into the layout above. */
export function packIndices(idx: Uint8Array, rows: number, cols: number, bits: PackedBits): Uint8Array {
  if (idx.length !== rows * cols) throw new RangeError(`packIndices: ${idx.length} indices for a ${rows}x${cols} matrix`);
  const limit = 1 << bits;
  const stride = rowBytes(bits, cols);
  const gb = groupBytes(bits);
  const out = new Uint8Array(rows * stride);
  const group = new Uint8Array(GROUP);
  for (let r = 0; r < rows; r++) {
    for (let g0 = 0; g0 < cols; g0 += GROUP) {
      group.fill(0);
      for (let j = 0; j < GROUP && g0 + j < cols; j++) {
        const v = idx[r * cols + g0 + j];
        if (v >= limit) throw new RangeError(`packIndices: index ${v} at row ${r}, column ${g0 + j} does not fit in ${bits} bits`);
        group[j] = v;
      }
      writeGroup(out, r * stride + (g0 / GROUP) * gb, group, bits);
    }
  }
  return out;
}

/** Inverse of packIndices: the row-major indices (rows x cols). */
export function unpackIndices(packed: Uint8Array, rows: number, cols: number, bits: PackedBits): Uint8Array {
  const stride = rowBytes(bits, cols);
  if (packed.length < rows * stride) throw new RangeError(`unpackIndices: ${packed.length} bytes, a ${rows}x${cols} ${bits}-bit matrix needs ${rows * stride}`);
  const out = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = packedIndexAt(packed, r * stride, c, bits);
  }
  return out;
}

/** The index of column `c` of the row whose packed bytes start at `rowStart`. */
export function packedIndexAt(packed: Uint8Array, rowStart: number, c: number, bits: PackedBits): number {
  const j = c % GROUP;
  const base = rowStart + Math.floor(c / GROUP) * groupBytes(bits);
  switch (bits) {
    case 8:
      return packed[base + j];
    case 4:
      return j < 16 ? packed[base + j] & 0x0f : packed[base + j - 16] >> 4;
    case 3: {
      const lo = (packed[base + (j & 7)] >> (2 * (j >> 3))) & 3;
      const hi = (packed[base + 8 + (j >> 3)] >> (j & 7)) & 1;
      return lo | (hi << 2);
    }
  }
}

function writeGroup(out: Uint8Array, base: number, w: Uint8Array, bits: PackedBits): void {
  switch (bits) {
    case 8:
      out.set(w, base);
      return;
    case 4:
      for (let j = 0; j < 16; j++) out[base + j] = w[j] | (w[j + 16] << 4);
      return;
    case 3:
      for (let j = 0; j < 8; j++) {
        out[base + j] = (w[j] & 3) | ((w[j + 8] & 3) << 2) | ((w[j + 16] & 3) << 4) | ((w[j + 24] & 3) << 6);
      }
      for (let i = 0; i < 4; i++) {
        let b = 0;
        for (let k = 0; k < 8; k++) b |= ((w[8 * i + k] >> 2) & 1) << k;
        out[base + 8 + i] = b;
      }
      return;
  }
}
