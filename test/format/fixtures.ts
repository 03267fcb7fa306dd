// Random records of every kind and a small valid header, for the format tests.
import { halfToFloat } from '../../src/kernels/reference.ts';
import type { F16Record, F32Record, NuqRecord, TensorRecord, UniformRecord } from '../../src/format/kinds.ts';
import { type PackedBits, packIndices, rowBytes } from '../../src/format/packing.ts';
import type { SqzMeta } from '../../src/format/sqz.ts';
import { floatToHalf } from '../../src/kernels/reference.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { Rng } from '../../src/util/random.ts';

export const config: ModelConfig = {
  arch: 'llama',
  dim: 64,
  hiddenDim: 172,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 100,
  maxSeqLen: 128,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: true,
  rope: 'interleaved',
};

export const meta: SqzMeta = {
  config,
  tokenizer: { kind: 'llama2c', pieces: ['<unk>', '<s>', '</s>', 'a', 'é'], scores: [0, 0, 0, -1.5, -2.25], bos: 1, eos: 2 },
  quant: { method: 'squeezellm', bits: 4, outlierPercent: 0.45, calibration: 'unit test' },
};

export function f32Record(rng: Rng, name: string, shape: number[]): F32Record {
  return { name, kind: 'f32', shape, data: rng.normals(shape.reduce((a, b) => a * b, 1)) };
}

export function f16Record(rng: Rng, name: string, shape: number[]): F16Record {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint16Array(n);
  for (let i = 0; i < n; i++) data[i] = floatToHalf(rng.normal());
  return { name, kind: 'f16', shape, data };
}

export function randomIndices(rng: Rng, n: number, bits: number): Uint8Array {
  const idx = new Uint8Array(n);
  for (let i = 0; i < n; i++) idx[i] = rng.int(1 << bits);
  return idx;
}

/** A nuq record and the unpacked indices it was built from. */
export function nuqRecord(rng: Rng, name: string, rows: number, cols: number, bits: 3 | 4, opts: { sparse?: boolean; rowSplit?: boolean; f16Lut?: boolean } = {}): { rec: NuqRecord; idx: Uint8Array } {
  const idx = randomIndices(rng, rows * cols, bits);
  const rec: NuqRecord = { name, kind: 'nuq', shape: [rows, cols], bits, lut: rng.normals(rows << bits), indices: packIndices(idx, rows, cols, bits) };
  if (opts.f16Lut) {
    // random binary16 values (finite), so the table is exactly representable
    rec.lut = Float32Array.from(rec.lut, () => halfToFloat(rng.int(0x7c00) | (rng.int(2) << 15)));
    rec.lutType = 'f16';
  }
  if (opts.sparse) {
    const rowPtr = new Int32Array(rows + 1);
    const colIdx: number[] = [];
    for (let r = 0; r < rows; r++) {
      const k = rng.int(4); // 0..3 entries per row, some rows empty
      const cs = new Set<number>();
      while (cs.size < Math.min(k, cols)) cs.add(rng.int(cols));
      colIdx.push(...[...cs].sort((a, b) => a - b));
      rowPtr[r + 1] = colIdx.length;
    }
    rec.sparse = { rowPtr, colIdx: Int32Array.from(colIdx), values: rng.normals(colIdx.length, 3) };
  }
  if (opts.rowSplit) rec.rowSplit = Int32Array.from([0, Math.floor(rows / 2), rows]);
  return { rec, idx };
}

export function uniformRecord(rng: Rng, name: string, rows: number, cols: number, bits: PackedBits, groupSize: number): { rec: UniformRecord; q: Uint8Array } {
  const q = randomIndices(rng, rows * cols, bits);
  const groups = Math.ceil(cols / Math.min(groupSize, cols));
  const zeros = new Float32Array(rows * groups);
  for (let i = 0; i < zeros.length; i++) zeros[i] = rng.int(1 << bits) + (i % 3 === 0 ? 0.5 : 0);
  const scales = rng.normals(rows * groups, 0.01);
  const rec: UniformRecord = { name, kind: 'uniform', shape: [rows, cols], bits, groupSize, scales, zeros, values: packIndices(q, rows, cols, bits) };
  if (rec.values.length !== rows * rowBytes(bits, cols)) throw new Error('fixture');
  return { rec, q };
}

/** A handful of tensors of every kind (ragged shapes included). */
export function sampleRecords(seed = 1): TensorRecord[] {
  const rng = new Rng(seed);
  return [
    f32Record(rng, 'embed', [10, 7]),
    f16Record(rng, 'layers.0.attn_norm', [33]),
    nuqRecord(rng, 'layers.0.attn.q', 5, 45, 4, { sparse: true, rowSplit: true }).rec,
    nuqRecord(rng, 'layers.0.attn.k', 3, 64, 3).rec,
    uniformRecord(rng, 'layers.0.mlp.up', 4, 70, 4, 32).rec,
    f32Record(rng, 'norm', [64]),
  ];
}
