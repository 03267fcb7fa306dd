// IEEE binary16 to f32 by table: all 65536 bit patterns widened once (256 KiB, built on first
// use) with the scalar reference conversion, then one load per value. Loading a model with f16
// tables or tensors calls this for every value, where the scalar function is about 10x slower.
import { halfToFloat } from '../kernels/reference.ts';

let table: Float32Array | undefined;

/** The f32 value of every f16 bit pattern (exact; NaN payloads kept). */
export function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}

/** f16 bit patterns widened to f32. */
export function halvesToFloats(src: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}
