// Quantized records for the backend tests and the benches (not a test file: the runner picks up
// *.test.ts only). Random SqueezeLLM (nuq) records: random per-row tables and indices, a random CSR
// sparse part, and optionally a row split with about equal work (dense rows + sparse entries) per
// part. Uniform models: every linear layer of a model rounded to nearest (RTN). And one product on
// a backend, for the tests that compare backends and thread counts.
import type { Backend } from '../../src/backend/types.ts';
import type { NuqRecord, TensorRecord } from '../../src/format/kinds.ts';
import { packIndices } from '../../src/format/packing.ts';
import { Rng } from '../../src/util/random.ts';
import { rtnQuantize, type UniformOptions } from '../../tools/baselines/rtn.ts';

export interface RandomNuqOptions {
  bits: 3 | 4;
  /** Share of weights in the sparse part (0: none). */
  sparse?: number;
  /** Parts of a recorded rowSplit (none when absent). */
  splitParts?: number;
}

export function randomNuq(rng: Rng, name: string, rows: number, cols: number, opts: RandomNuqOptions): NuqRecord {
  const { bits } = opts;
  const idx = new Uint8Array(rows * cols);
  for (let i = 0; i < idx.length; i++) idx[i] = rng.int(1 << bits);
  const lut = rng.normals(rows << bits, 1 / Math.sqrt(cols));
  const rec: NuqRecord = { name, kind: 'nuq', shape: [rows, cols], bits, lut, indices: packIndices(idx, rows, cols, bits) };
  const share = opts.sparse ?? 0;
  if (share > 0) {
    // Uneven on purpose: the first rows hold several times the entries of the last ones.
    const rowPtr = new Int32Array(rows + 1);
    const cols2: number[] = [];
    for (let r = 0; r < rows; r++) {
      const p = share * 2 * (1 - r / rows) * 2;
      for (let c = 0; c < cols; c++) if (rng.next() < p) cols2.push(c);
      rowPtr[r + 1] = cols2.length;
    }
    rec.sparse = { rowPtr, colIdx: Int32Array.from(cols2), values: rng.normals(cols2.length, 0.5) };
  }
  if (opts.splitParts) rec.rowSplit = balancedSplit(rec, opts.splitParts);
  return rec;
}

/** Row boundaries with about equal work per part (a dense row costs cols, a sparse entry 8), as `pack --balance` records. */
export function balancedSplit(rec: NuqRecord, parts: number): Int32Array {
  const [rows, cols] = rec.shape;
  const prefix = new Float64Array(rows + 1);
  for (let r = 0; r < rows; r++) prefix[r + 1] = prefix[r] + cols + (rec.sparse ? rec.sparse.rowPtr[r + 1] - rec.sparse.rowPtr[r] : 0) * 8;
  const s = new Int32Array(parts + 1);
  let r = 0;
  for (let p = 1; p < parts; p++) {
    const target = (prefix[rows] * p) / parts;
    while (r < rows && prefix[r + 1] <= target) r++;
    s[p] = r;
  }
  s[parts] = rows;
  return s;
}

/** A linear layer (q, k, v, o, gate, up, down), the matrices the quantizers replace. */
function isLinearLayer(r: TensorRecord): boolean {
  return /^layers\.\d+\.(attn|mlp)\./.test(r.name) && r.shape.length === 2;
}

/** The records with every linear layer replaced by a random nuq one; 3-bit for attention, 4-bit for the MLP. */
export function nuqModelRecords(records: TensorRecord[], seed: number, opts: { sparse?: number; splitParts?: number } = {}): TensorRecord[] {
  const rng = new Rng(seed);
  return records.map((r) => {
    if (!isLinearLayer(r)) return r;
    const bits = r.name.includes('.attn.') ? 3 : 4;
    return randomNuq(rng, r.name, r.shape[0], r.shape[1], { bits, ...opts });
  });
}

/** The records with every (f32) linear layer quantized by RTN with `opts`. */
export function uniformModelRecords(records: TensorRecord[], opts: UniformOptions): TensorRecord[] {
  return records.map((r) => (isLinearLayer(r) && r.kind === 'f32' ? rtnQuantize(r.name, r.data, r.shape[0], r.shape[1], opts) : r));
}

/** out [n, rows] = W x on a backend, for each n. */
export function products(b: Backend, rec: TensorRecord, x: Float32Array, ns: number[]): Float32Array[] {
  const [rows, cols] = rec.shape;
  const w = b.upload(rec);
  return ns.map((n) => {
    const xv = b.alloc(n * cols);
    b.write(xv, x.subarray(0, n * cols));
    const o = b.alloc(n * rows);
    b.matmul(o, w, xv, n);
    return b.read(o);
  });
}
