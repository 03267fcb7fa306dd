// The CUDA backend's host side, without a GPU: table precision on upload, the CSR kernel's warp
// split, view-to-address mapping, and the device decoder of the packed layout (cuda/packed.cuh,
// compiled for the host by nvcc when it is installed) against src/format/packing.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lutTable, ROW_COST, sparseSegments } from '../../src/backend/cuda/layout.ts';
import { DeviceArena } from '../../src/backend/cuda/memory.ts';
import { packIndices, type PackedBits } from '../../src/format/packing.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { repoRoot } from '../helpers.ts';
import { balancedSplit, randomNuq } from './_nuq.ts';

test('an f16 table goes up as the binary16 bits the file stores; an f32 table as is', () => {
  const rng = new Rng(3);
  const lut = rng.normals(64).map((v) => halfToFloat(floatToHalf(v)));
  const t = lutTable({ lut, lutType: 'f16' });
  assert.ok(t.half && t.data instanceof Uint16Array);
  assert.equal(Array.from(t.data, halfToFloat), Array.from(lut));
  const f = lutTable({ lut });
  assert.ok(!f.half && f.data === lut);
});

function segmentCost(rowPtr: Int32Array, a: number, b: number): number {
  return rowPtr[b] - rowPtr[a] + ROW_COST * (b - a);
}

test('the CSR warp split tiles the rows, keeps the recorded split, and evens out the non-zeros', () => {
  const rng = new Rng(5);
  for (const [rows, cols, share, parts, target] of [
    [300, 200, 0.05, 3, 64],
    [97, 33, 0.2, 0, 32],
    [50, 400, 0.3, 4, 256], // rows far above the target: one row per segment
    [10, 10, 0.01, 2, 256], // everything fits one segment per recorded part
  ]) {
    const rec = randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: share });
    const split = parts ? balancedSplit(rec, parts) : undefined;
    const rowPtr = rec.sparse!.rowPtr;
    const seg = sparseSegments(rec.sparse!, split, target);
    assert.is(seg[0], 0);
    assert.is(seg[seg.length - 1], rows);
    for (let i = 1; i < seg.length; i++) assert.ok(seg[i] > seg[i - 1], `segments strictly increase (${seg[i - 1]}, ${seg[i]})`);
    for (const b of split ?? new Int32Array(0)) assert.ok(seg.includes(b), `recorded boundary ${b} kept`);
    for (let i = 0; i + 1 < seg.length; i++) {
      const [a, b] = [seg[i], seg[i + 1]];
      // a segment reaches the target only with its last row
      if (b - a > 1) assert.ok(segmentCost(rowPtr, a, b - 1) < target, `segment ${a}..${b} cut late`);
      // and is not cut early, unless a recorded boundary or the end forces it
      if (!(split ?? new Int32Array(0)).includes(b) && b < rows) assert.ok(segmentCost(rowPtr, a, b) >= target, `segment ${a}..${b} cut early`);
    }
  }
});

test('device views: each alloc is its own allocation, slices map to addresses inside it', () => {
  const given: number[] = [];
  const freed: number[] = [];
  let next = 4096;
  const arena = new DeviceArena(
    (bytes) => {
      given.push(next);
      const a = next;
      next += bytes + 512;
      return a;
    },
    (a) => freed.push(a),
  );
  const a = arena.alloc(10);
  const empty = arena.alloc(0);
  const b = arena.alloc(100);
  assert.is(arena.addr(a), given[0]);
  assert.is(arena.addr({ off: a.off + 3, len: 7 }), given[0] + 12);
  assert.is(arena.addr({ off: b.off + 99, len: 1 }), given[2] + 396);
  assert.is(arena.addr(empty), given[1]);
  assert.throws(() => arena.addr({ off: a.off + 5, len: 6 }), /not inside one device buffer/);
  assert.throws(() => arena.addr({ off: b.off + 90, len: 11 }), /not inside one device buffer/);
  arena.releaseAll();
  assert.equal(freed.sort(), given.sort());
});

const nvcc = [process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean).map((d) => join(d!, 'bin', 'nvcc')).find((p) => existsSync(p));

test('the device decoder of packed indices (cuda/packed.cuh) reads what packing.ts writes', () => {
  if (!nvcc) {
    console.log('  (skipped: nvcc is not installed; the packed decoder is checked where it is)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sqz-cuda-'));
  try {
    const exe = join(dir, 'packed_decode');
    const cc = spawnSync(nvcc, ['-std=c++17', '-O1', join(repoRoot, 'cuda/check/packed_decode.cu'), '-o', exe], { encoding: 'utf8' });
    assert.is(cc.status, 0, `nvcc: ${cc.stderr}`);
    const rng = new Rng(11);
    for (const bits of [3, 4, 8] as PackedBits[]) {
      for (const [rows, cols] of [[1, 1], [3, 31], [2, 33], [5, 64], [4, 100]]) {
        const idx = Uint8Array.from({ length: rows * cols }, () => rng.int(1 << bits));
        const packed = packIndices(idx, rows, cols, bits);
        const input = Buffer.concat([Buffer.from(new Int32Array([bits, rows, cols]).buffer), Buffer.from(packed)]);
        const r = spawnSync(exe, [], { input });
        assert.is(r.status, 0, `packed_decode exit ${r.status}`);
        assert.equal(Array.from(r.stdout), Array.from(idx), `${bits}-bit ${rows}x${cols}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
