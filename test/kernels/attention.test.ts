// The attention block (assembly/attention.ts attendBlock) against the TypeScript reference
// (src/kernels/attention.ts RefKvCache + ref.attention), for every cache kind, on ragged head sizes,
// GQA shapes, batches of odd sizes and positions across the quantized kinds' residual windows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance, type KernelInstance } from '../../src/backend/wasm/instance.ts';
import { KV_GROUP, KV_MODE as MODES, type KvKind, RefKvCache, kvHalf, kvHalfBits, quantizeAsym } from '../../src/kernels/attention.ts';
import { floatToHalf, halfToFloat, rope } from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';
import { assertUntouched, placeSentinel } from './_util.ts';

interface Case {
  kind: KvKind;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  ctx: number;
  residual: number;
  /** Batch sizes, run one after another from position 0. */
  batches: number[];
  style: 'interleaved' | 'half';
  /** Multiplies q (peaked softmax when large). */
  qScale?: number;
  /** Maps the random normal k and v entries (default: as they are). */
  kv?: (x: number, rng: Rng) => number;
  /** Per-pair RoPE frequencies, a sliding window and an attention soft-cap (issue 17's families). */
  freqs?: Float64Array;
  window?: number;
  cap?: number;
}

/** Runs a case through the kernel and the reference side by side; returns the number of outputs compared. */
function runCase(inst: KernelInstance, rng: Rng, c: Case): number {
  const { exports: k, heap } = inst;
  const { kind, nHeads, nKvHeads, headSize: hs, ctx, residual } = c;
  const qDim = nHeads * hs;
  const kvDim = nKvHeads * hs;
  const theta = 10000;
  const mark = heap.mark();
  const layers = 2;
  const layer = 1;
  const cache = heap.alloc(k.kvCacheBytes(layers, nKvHeads, hs, ctx, MODES[kind], residual));
  const scratch = heap.alloc(k.attendScratchBytes(hs, ctx));
  const ref = new RefKvCache({ kind, layers, ctx, nKvHeads, headSize: hs, residual });
  const maxN = Math.max(...c.batches);
  const pq = heap.alloc(maxN * qDim * 4);
  const pk = heap.alloc(maxN * kvDim * 4);
  const pv = heap.alloc(maxN * kvDim * 4);
  const po = placeSentinel(heap, maxN * qDim + 5);
  const pf = c.freqs ? heap.place(c.freqs, 8) : 0;
  let pos = 0;
  let compared = 0;
  for (const n of c.batches) {
    const q = rng.normals(n * qDim).map((x) => x * (c.qScale ?? 1));
    const map = c.kv ?? ((x: number) => x);
    const kk = rng.normals(n * kvDim).map((x) => map(x, rng));
    const vv = rng.normals(n * kvDim).map((x) => map(x, rng));
    heap.f32(pq, n * qDim).set(q);
    heap.f32(pk, n * kvDim).set(kk);
    heap.f32(pv, n * kvDim).set(vv);
    heap.f32(po, maxN * qDim + 5).fill(12345.5);
    k.attendBlock(po, pq, pk, pv, cache, layer, pos, n, nHeads, nKvHeads, hs, ctx, MODES[kind], residual, theta, c.style === 'half' ? 1 : 0, scratch, pf, c.window ?? 0, c.cap ?? 0);
    const what = `${kind} heads ${nHeads}/${nKvHeads} hs ${hs} residual ${residual} batch at ${pos}+${n} ${c.style}`;
    // RoPE in place: the rotated q and k the kernel used, against the reference rotation
    const qr = heap.f32(pq, n * qDim).slice();
    const kr = heap.f32(pk, n * kvDim).slice();
    for (let i = 0; i < n; i++) {
      rope(q.subarray(i * qDim, (i + 1) * qDim), qDim, hs, pos + i, theta, c.style, c.freqs);
      rope(kk.subarray(i * kvDim, (i + 1) * kvDim), kvDim, hs, pos + i, theta, c.style, c.freqs);
    }
    assertClose(qr, q, 1e-5, `${what}: rotated q`);
    assertClose(kr, kk, 1e-5, `${what}: rotated k`);
    // the reference stores the kernel's rotated k (rounding happens on the same f32 values) and attends token by token.
    // The quantized kinds' kernel takes q times the key scales as int16 (one step per group, 1/32767
    // of the largest) and the value weights likewise per 256 positions: errors of about 1e-4 of the
    // output (6e-4 seen with peaked scores at 8 bits), far below a code step (1/255 of the range at 8 bits).
    const got = heap.f32(po, maxN * qDim + 5).slice();
    const want = new Float32Array(qDim);
    for (let i = 0; i < n; i++) {
      ref.store(layer, pos + i, kr.subarray(i * kvDim, (i + 1) * kvDim), vv.subarray(i * kvDim, (i + 1) * kvDim));
      ref.attend(want, qr.subarray(i * qDim, (i + 1) * qDim), layer, pos + i + 1, nHeads, c.window, c.cap);
      assertClose(got.subarray(i * qDim, (i + 1) * qDim), want, kind === 'f32' || kind === 'f16' ? 1e-5 : 1e-3, `${what}: token ${pos + i}`);
      compared += qDim;
    }
    assertUntouched(got, 0, n * qDim, what);
    pos += n;
  }
  heap.release(mark);
  return compared;
}

/** Batch sizes adding up to `total`, ragged. */
function raggedBatches(rng: Rng, total: number): number[] {
  const b: number[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, 1 + Math.floor(rng.next() * 23));
    b.push(n);
    left -= n;
  }
  return b;
}

test('the f16 cache rounds as binary16 does in its normal range, flushes below it and saturates above it', () => {
  const rng = new Rng(5);
  const xs = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, Infinity, -Infinity, 2 ** -14, 2 ** -14 * (1 - 2 ** -12), 2 ** -15, 1e-8, -1e-8];
  for (let i = 0; i < 4000; i++) xs.push(rng.normal() * 10 ** Math.floor(rng.next() * 12 - 6));
  for (const x of xs) {
    const want = floatToHalf(x);
    const sign = want & 0x8000;
    const expect = Math.abs(x) < 2 ** -14 ? sign : (want & 0x7c00) === 0x7c00 ? sign | 0x7bff : want;
    assert.is(kvHalfBits(x), expect, `kvHalfBits(${x})`);
    assert.is(kvHalf(x), halfToFloat(expect), `kvHalf(${x})`);
  }
  assert.ok(Number.isNaN(kvHalf(NaN)));
});

test('asymmetric quantization: codes within the levels, values within half a step of the input', () => {
  const rng = new Rng(6);
  for (const bits of [8, 4, 2]) {
    for (const n of [1, 2, 7, 32, 64]) {
      const x = rng.normals(n).map((v) => v * 3 + 1);
      const codes = new Uint8Array(n);
      const { scale, zero } = quantizeAsym(x, (i) => i, n, bits, codes, (i) => i);
      for (let i = 0; i < n; i++) {
        assert.ok(codes[i] <= (1 << bits) - 1);
        assert.ok(Math.abs(zero + scale * codes[i] - x[i]) <= scale * 0.5 * (1 + 1e-5) + 1e-6, `bits ${bits} n ${n} i ${i}`);
      }
    }
  }
});

test('attendBlock matches the reference: every kind, GQA, ragged head sizes and batches', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(81);
  const shapes: [number, number][] = [[8, 2], [3, 1], [4, 4], [6, 3], [1, 1]];
  let compared = 0;
  for (const kind of ['f32', 'f16', 'q8', 'q4', 'q2'] as KvKind[]) {
    for (const [nHeads, nKvHeads] of shapes) {
      for (const headSize of [2, 6, 16, 18, 34, 64, 66]) {
        const residual = rng.next() < 0.5 ? KV_GROUP : 2 * KV_GROUP;
        const total = kind === 'f32' || kind === 'f16' ? 45 : residual * 2 + 7;
        const style = rng.next() < 0.5 ? 'interleaved' : 'half';
        compared += runCase(inst, rng, { kind, nHeads, nKvHeads, headSize, ctx: total + 3, residual, batches: raggedBatches(rng, total), style });
      }
    }
  }
  assert.ok(compared > 100000);
});

test('attendBlock with per-pair RoPE frequencies, a sliding window and an attention soft-cap matches the reference, every kind', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(82);
  let compared = 0;
  for (const kind of ['f32', 'f16', 'q8', 'q4', 'q2'] as KvKind[]) {
    for (const [window, cap] of [[1, 0], [5, 0], [40, 0], [0, 0.7], [7, 3]]) {
      const headSize = [6, 16, 34][compared % 3];
      const freqs = Float64Array.from({ length: headSize / 2 }, () => rng.next() * 0.9);
      const residual = KV_GROUP;
      const total = residual * 3 + 5;
      compared += runCase(inst, rng, { kind, nHeads: 4, nKvHeads: 2, headSize, ctx: total, residual, batches: raggedBatches(rng, total), style: rng.next() < 0.5 ? 'interleaved' : 'half', freqs, window, cap, qScale: 2 });
    }
  }
  assert.ok(compared > 10000);
});

test('attendBlock: one token at a time gives the batch its bits, across residual windows', async () => {
  const inst = await createKernelInstance();
  const { exports: k, heap } = inst;
  for (const kind of ['f16', 'q4', 'q2'] as KvKind[]) {
    const [nHeads, nKvHeads, hs, ctx, residual, n] = [4, 2, 18, 80, 32, 70];
    const rng = new Rng(9);
    const q = rng.normals(n * nHeads * hs);
    const kk = rng.normals(n * nKvHeads * hs);
    const vv = rng.normals(n * nKvHeads * hs);
    const results: Float32Array[] = [];
    for (const step of [n, 1]) {
      const mark = heap.mark();
      const cache = heap.alloc(k.kvCacheBytes(1, nKvHeads, hs, ctx, MODES[kind], residual));
      const scratch = heap.alloc(k.attendScratchBytes(hs, ctx));
      const [pq, pk, pv, po] = [heap.place(q), heap.place(kk), heap.place(vv), heap.alloc(q.byteLength)];
      for (let p = 0; p < n; p += step) {
        k.attendBlock(po + p * nHeads * hs * 4, pq + p * nHeads * hs * 4, pk + p * nKvHeads * hs * 4, pv + p * nKvHeads * hs * 4, cache, 0, p, step, nHeads, nKvHeads, hs, ctx, MODES[kind], residual, 10000, 0, scratch, 0, 0, 0);
      }
      results.push(heap.f32(po, q.length).slice());
      heap.release(mark);
    }
    assert.equal(results[0], results[1], kind);
  }
});

test('attendBlock with peaked scores (large q) and a long cache', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(83);
  for (const kind of ['f32', 'f16', 'q8', 'q4', 'q2'] as KvKind[]) {
    runCase(inst, rng, { kind, nHeads: 8, nKvHeads: 2, headSize: 64, ctx: 300, residual: 64, batches: [64, 64, 64, 64, 33, 1], style: 'interleaved', qScale: 6 });
  }
});

test('attendBlock f16: values below 2^-14 flush to zero, beyond 65504 saturate, as the reference', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(85);
  // magnitudes from 1e-9 to 1e6, and exact zeros
  const kv = (x: number, r: Rng) => (r.next() < 0.05 ? 0 : x * 10 ** (r.next() * 15 - 9));
  for (const kind of ['f16', 'q8'] as KvKind[]) {
    runCase(inst, rng, { kind, nHeads: 4, nKvHeads: 2, headSize: 24, ctx: 80, residual: 32, batches: [9, 31, 1, 30], style: 'half', qScale: 1e-5, kv });
  }
});

test.run();
