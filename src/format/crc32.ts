// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF): the
// checksum zlib, gzip and PNG use. Portable TypeScript (the runtime also runs in browsers), sliced
// by 8 so a checksum over a large tensor costs about as much as reading it.

const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let s = 1; s < 8; s++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[s][n] = c >>> 0;
    }
  }
  return t;
})();

/**
 * CRC-32 of `data`, continuing from `crc` (the result over the bytes before it; 0 to start), as
 * zlib's crc32(data, value): crc32(b, crc32(a)) === crc32(a ++ b). Returns an unsigned 32-bit integer.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  const n = data.length;
  let i = 0;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ c;
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 over several pieces in order, as if they were one buffer. */
export function crc32Chunks(chunks: Iterable<Uint8Array>, crc = 0): number {
  for (const c of chunks) crc = crc32(c, crc);
  return crc;
}
