// Every kernel of cuda/ against its TypeScript reference (src/kernels/reference.ts), one launch per
// case through the binding's own entry points, on random data and ragged shapes: rows not a
// multiple of a block's rows, columns not a multiple of 32 (padded groups) or of the staged tile,
// batches of 1, a partial pass and several passes, CSR rows far longer than a warp's share.
// Products of exact weights (f32 and f16 tables, f16 and f32 dense, uniform) are held to 1e-5
// relative error (maxRelErr: the largest difference over the largest reference value), as are the
// small ops; an f16 table widens exactly, so it meets the same bound (the 1e-3 for f16 paths
// is the weaker one). Not a test file: test/cuda/run.ts runs it on a GPU.
import type { CudaAddon } from '../../src/backend/cuda/addon.ts';
import { lutTable, sparseSegments } from '../../src/backend/cuda/layout.ts';
import type { NuqRecord } from '../../src/format/kinds.ts';
import { nuqRowInto } from '../../src/format/kinds.ts';
import type { RopeStyle } from '../../src/kernels/reference.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { rtnQuantize } from '../../tools/baselines/rtn.ts';
import { denseRecord } from '../../tools/convert.ts';
import { balancedSplit, randomNuq } from '../backend/_nuq.ts';
import { DeviceBuffers } from './device.ts';

/** One comparison: the kernel's output, the reference's, the bound on maxRelErr. */
export type Report = (name: string, got: Float32Array, want: Float32Array, tol: number) => void;

export const EXACT_TOL = 1e-5;

/** [rows, cols]: 1x1, a single padded group, just over a block's rows and a group, a full tile, past one tile, LLaMA-7B widths. */
const SHAPES: [number, number][] = [
  [1, 1],
  [5, 31],
  [17, 33],
  [16, 4096],
  [100, 1000],
  [257, 4100],
  [40, 11008],
  [300, 257],
];

/** Batch sizes: the decode matvec, a partial pass of 8, one pass, one more than a pass, a 64-token prompt batch. */
function batchesFor(rows: number, cols: number): number[] {
  return rows * cols <= 100_000 ? [1, 3, 8, 9, 64] : [1, 9];
}

const halfExact = (v: Float32Array): Float32Array => v.map((x) => ref.halfToFloat(ref.floatToHalf(x)));

/** quick: the two smallest ragged shapes only (npm test runs the harness so on the host stand-in). */
export function runKernelChecks(addon: CudaAddon, report: Report, opts: { quick?: boolean } = {}): void {
  const rng = new Rng(14);
  const mem = new DeviceBuffers(addon);
  const x = (n: number) => rng.normals(n);
  try {
    for (const [rows, cols] of opts.quick ? SHAPES.slice(1, 3) : SHAPES) {
      for (const n of opts.quick ? [1, 9] : batchesFor(rows, cols)) {
        const xs = x(n * cols);
        const xd = mem.put(xs);
        const shape = `${rows}x${cols} n=${n}`;

        for (const bits of [3, 4] as const) {
          for (const half of [false, true]) {
            const rec = randomNuq(rng, 'w', rows, cols, { bits });
            const lut = half ? halfExact(rec.lut) : rec.lut;
            const t = lutTable(half ? { lut, lutType: 'f16' } : { lut });
            const out = mem.floats(n * rows);
            addon.matmulLut(out, mem.put(t.data), t.half ? 1 : 0, mem.put(rec.indices), xd, rows, cols, n, bits);
            const want = new Float32Array(n * rows);
            ref.matmulLut(want, lut, rec.indices, xs, rows, cols, n, bits);
            report(`lut_matvec ${bits}-bit ${half ? 'f16' : 'f32'} table ${shape}`, mem.get(out, n * rows), want, EXACT_TOL);
          }
        }

        for (const [bits, groupSize] of [[3, 32], [4, 128], [4, 20], [8, 64], [3, 1 << 20]] as const) {
          const rec = rtnQuantize('w', rng.normals(rows * cols), rows, cols, { bits, groupSize });
          const out = mem.floats(n * rows);
          addon.matmulUniform(out, mem.put(rec.scales), mem.put(rec.zeros), mem.put(rec.values), xd, rows, cols, n, groupSize, bits);
          const want = new Float32Array(n * rows);
          ref.matmulUniform(want, rec.scales, rec.zeros, rec.values, xs, rows, cols, n, groupSize, bits);
          report(`uniform_matvec ${bits}-bit group ${groupSize} ${shape}`, mem.get(out, n * rows), want, EXACT_TOL);
        }

        for (const half of [false, true]) {
          const w = rng.normals(rows * cols);
          for (let i = 0; i < w.length; i += 7) w[i] *= 1e-4; // f16 subnormals among the weights
          const out = mem.floats(n * rows);
          const want = new Float32Array(n * rows);
          if (half) {
            const rec = denseRecord('w', [rows, cols], w, 'f16');
            if (rec.kind !== 'f16') throw new Error('denseRecord gave no f16 record');
            addon.matmulDense(out, mem.put(rec.data), 1, xd, rows, cols, n);
            ref.matmulF16(want, rec.data, xs, rows, cols, n);
          } else {
            addon.matmulDense(out, mem.put(w), 0, xd, rows, cols, n);
            ref.matmulF32(want, w, xs, rows, cols, n);
          }
          report(`dense_matvec ${half ? 'f16' : 'f32'} ${shape}`, mem.get(out, n * rows), want, EXACT_TOL);
        }

        for (const parts of [0, 4]) {
          const rec = randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: 0.05 });
          if (rows > 1) longRow(rng, rec, rows >> 1); // one row far longer than a warp's share
          const s = rec.sparse!;
          const split = parts && rows >= parts ? balancedSplit(rec, parts) : undefined;
          const segments = sparseSegments(s, split);
          const base = x(n * rows);
          const out = mem.put(base);
          addon.spmmCsrAdd(out, mem.put(s.rowPtr), mem.put(s.colIdx), mem.put(s.values), mem.put(segments), segments.length - 1, xd, rows, cols, n);
          const want = base.slice();
          ref.spmmCsrAdd(want, s.rowPtr, s.colIdx, s.values, xs, cols, n);
          report(`csr_spmv ${s.values.length} nnz ${segments.length - 1} segments${split ? ' (row split kept)' : ''} ${shape}`, mem.get(out, n * rows), want, EXACT_TOL);
        }
        mem.release();
      }
    }
    smallOps(rng, mem, addon, report);
    embeddings(rng, mem, addon, report);
  } finally {
    mem.release();
  }
}

/** Gives row r of rec's sparse part most of the row's columns. */
function longRow(rng: Rng, rec: NuqRecord, r: number): void {
  const s = rec.sparse!;
  const cols = rec.shape[1];
  const rowCols = Array.from({ length: cols }, (_, c) => c).filter(() => rng.next() < 0.8);
  const before = s.rowPtr[r];
  const after = s.rowPtr[r + 1];
  const colIdx = Int32Array.from([...s.colIdx.subarray(0, before), ...rowCols, ...s.colIdx.subarray(after)]);
  const values = Float32Array.from([...s.values.subarray(0, before), ...rng.normals(rowCols.length, 0.5), ...s.values.subarray(after)]);
  const grow = rowCols.length - (after - before);
  const rowPtr = s.rowPtr.map((p, i) => (i > r ? p + grow : p));
  rec.sparse = { rowPtr, colIdx, values };
}

function smallOps(rng: Rng, mem: DeviceBuffers, addon: CudaAddon, report: Report): void {
  for (const [dim, n] of [[1, 1], [64, 3], [100, 1], [4096, 2], [5000, 1]]) {
    const xs = rng.normals(dim * n, 3);
    const w = rng.normals(dim);
    const out = mem.floats(dim * n);
    addon.rmsnorm(out, mem.put(xs), mem.put(w), dim, n, 1e-5);
    const want = new Float32Array(dim * n);
    for (let i = 0; i < n; i++) ref.rmsnorm(want.subarray(i * dim, (i + 1) * dim), xs.subarray(i * dim, (i + 1) * dim), w, dim, 1e-5);
    report(`rmsnorm dim ${dim} n=${n}`, mem.get(out, dim * n), want, EXACT_TOL);
  }

  for (const style of ['interleaved', 'half'] as RopeStyle[]) {
    for (const [heads, headSize, pos, theta] of [[1, 2, 0, 10000], [8, 16, 1, 10000], [4, 48, 37, 10000], [32, 128, 4000, 500000], [6, 64, 2047, 1e6]]) {
      const len = heads * headSize;
      const v = rng.normals(len);
      const d = mem.put(v);
      addon.rope(d, len, headSize, pos, theta, style === 'half' ? 1 : 0);
      const want = v.slice();
      ref.rope(want, len, headSize, pos, theta, style);
      report(`rope ${style} ${heads} heads of ${headSize} pos ${pos} theta ${theta}`, mem.get(d, len), want, EXACT_TOL);
    }
  }

  // [heads, kv heads, head size, positions]: MHA, GQA groups of 2..8, head sizes that do not divide the block, one above 256
  for (const [h, kv, hs, nPos] of [[8, 8, 64, 1], [8, 2, 48, 37], [32, 8, 128, 1000], [4, 1, 16, 5000], [2, 1, 260, 10], [6, 3, 96, 300]]) {
    const q = rng.normals(h * hs);
    const k = rng.normals(nPos * kv * hs);
    const v = rng.normals(nPos * kv * hs);
    const out = mem.floats(h * hs);
    addon.attention(out, mem.put(q), mem.put(k), mem.put(v), h, kv, hs, nPos);
    const want = new Float32Array(h * hs);
    ref.attention(want, q, k, v, h, kv, hs, nPos);
    report(`attention ${h} heads / ${kv} kv heads of ${hs}, ${nPos} positions`, mem.get(out, h * hs), want, EXACT_TOL);
  }

  for (const n of [1, 1000, 100_003]) {
    const a = rng.normals(n, 4);
    const b = rng.normals(n);
    const out = mem.floats(n);
    const want = new Float32Array(n);
    addon.swiglu(out, mem.put(a), mem.put(b), n);
    ref.swiglu(want, a, b, n);
    report(`swiglu n=${n}`, mem.get(out, n), want, EXACT_TOL);
    const sum = mem.floats(n);
    addon.add(sum, mem.put(a), mem.put(b), n);
    ref.add(want, a, b, n);
    report(`residual_add n=${n}`, mem.get(sum, n), want, EXACT_TOL);
  }
  mem.release();
}

/** Rows of an embedding matrix of every kind, against the host's dequantization of that row. */
function embeddings(rng: Rng, mem: DeviceBuffers, addon: CudaAddon, report: Report): void {
  const [rows, cols] = [50, 300];
  const dense = rng.normals(rows * cols);
  const f16 = denseRecord('e', [rows, cols], dense, 'f16');
  const picks = [0, 17, rows - 1];
  const each = (name: string, run: (out: number, row: number) => void, want: (row: number, out: Float32Array) => void) => {
    for (const row of picks) {
      const out = mem.floats(cols);
      run(out, row);
      const w = new Float32Array(cols);
      want(row, w);
      report(`embed ${name} row ${row}`, mem.get(out, cols), w, EXACT_TOL);
    }
  };
  const dd = mem.put(dense);
  each('f32', (o, r) => addon.embedF32(o, dd, r, cols), (r, w) => w.set(dense.subarray(r * cols, (r + 1) * cols)));
  if (f16.kind === 'f16') {
    const hd = mem.put(f16.data);
    each('f16', (o, r) => addon.embedF16(o, hd, r, cols), (r, w) => ref.f16ToF32(w, f16.data.subarray(r * cols, (r + 1) * cols)));
  }
  for (const bits of [3, 4] as const) {
    for (const half of [false, true]) {
      const rec = randomNuq(rng, 'e', rows, cols, { bits, sparse: 0.05 });
      if (half) Object.assign(rec, { lut: halfExact(rec.lut), lutType: 'f16' });
      const t = lutTable(rec);
      const s = rec.sparse!;
      const [lut, idx, rp, ci, vs] = [mem.put(t.data), mem.put(rec.indices), mem.put(s.rowPtr), mem.put(s.colIdx), mem.put(s.values)];
      each(`nuq ${bits}-bit ${half ? 'f16' : 'f32'} table + sparse`, (o, r) => addon.embedLut(o, lut, t.half ? 1 : 0, idx, rp, ci, vs, r, cols, bits), (r, w) => nuqRowInto(rec, r, w));
    }
  }
  for (const [bits, groupSize] of [[3, 32], [4, 20], [8, 1000]] as const) {
    const rec = rtnQuantize('e', dense, rows, cols, { bits, groupSize });
    const [sc, z, v] = [mem.put(rec.scales), mem.put(rec.zeros), mem.put(rec.values)];
    each(`uniform ${bits}-bit group ${groupSize}`, (o, r) => addon.embedUniform(o, sc, z, v, r, cols, groupSize, bits), (r, w) => ref.dequantUniformRow(w, rec.scales, rec.zeros, rec.values, r, cols, groupSize, bits));
  }
  mem.release();
}
