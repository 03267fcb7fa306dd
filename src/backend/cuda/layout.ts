// How records are laid out on the device, decided on the host (and unit-tested without a GPU):
// packed indices and uniform values go up as stored (the kernels decode src/format/packing.ts
// directly), a nuq table goes up in the precision the file stores it, and the CSR part gets the
// warp split the balanced kernel (cuda/csr_spmv.cu) walks.
import type { CsrSparse, NuqRecord } from '../../format/kinds.ts';
import { floatToHalf } from '../../kernels/reference.ts';

/**
 * A nuq table as the file stores it: binary16 bits for lutType 'f16' (exact: such a table holds
 * only halves), else f32. In memory a record's table is always f32 (kinds.ts).
 */
export function lutTable(rec: Pick<NuqRecord, 'lut' | 'lutType'>): { data: Uint16Array | Float32Array; half: boolean } {
  if (rec.lutType !== 'f16') return { data: rec.lut, half: false };
  return { data: Uint16Array.from(rec.lut, floatToHalf), half: true };
}

/** Non-zeros one warp of the CSR kernel should get (8 per lane). */
export const SEGMENT_NNZ = 256;
/** What a row costs a warp besides its non-zeros (its row pointers and the sum), in non-zeros. */
export const ROW_COST = 2;

/**
 * The CSR kernel's warp split: boundaries [0, s1, ..., rows], warp i taking rows s_i .. s_{i+1}-1,
 * each segment about `target` non-zeros (counting ROW_COST per row). The file's balanced rowSplit
 * (made for a few CPU threads by `sqz pack --balance`) is kept: its boundaries stay boundaries and
 * each of its parts is cut further, because a GPU needs thousands of even pieces, not a handful.
 * A row never spans two segments, so one group of lanes sums it and no atomics are needed.
 */
export function sparseSegments(s: Pick<CsrSparse, 'rowPtr'>, rowSplit?: Int32Array, target = SEGMENT_NNZ): Int32Array {
  const rows = s.rowPtr.length - 1;
  const parts = rowSplit ?? Int32Array.of(0, rows);
  const out = [0];
  for (let p = 0; p + 1 < parts.length; p++) {
    const end = parts[p + 1];
    let acc = 0;
    for (let r = parts[p]; r < end; r++) {
      acc += s.rowPtr[r + 1] - s.rowPtr[r] + ROW_COST;
      if (acc >= target && r + 1 < end) {
        out.push(r + 1);
        acc = 0;
      }
    }
    if (end > out[out.length - 1]) out.push(end);
  }
  return Int32Array.from(out);
}
