import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance, type KernelInstance } from '../../src/backend/wasm/instance.ts';
import { liftHalves } from '../../src/backend/wasm/layout.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { SIZES, assertUntouched, batchOf, checkBatched, checkMatvec, placeSentinel } from './_util.ts';

/** Checks got against halfToFloat of every source half: NaN where it is NaN (payload kept), bits equal elsewhere. */
function checkAll(src: Uint16Array, got: Float32Array, what: string): void {
  const gotBits = new Uint32Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength));
  const want = new Float32Array(src.length);
  ref.f16ToF32(want, src);
  const wantBits = new Uint32Array(want.buffer);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    if (Number.isNaN(want[i])) {
      if (!Number.isNaN(got[i])) assert.unreachable(`${what}: half 0x${h.toString(16)} gave ${got[i]}, want NaN`);
      const bits = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
      if (gotBits[i] !== bits >>> 0) assert.unreachable(`${what}: NaN half 0x${h.toString(16)} lost its payload`);
    } else if (gotBits[i] !== wantBits[i]) {
      assert.unreachable(`${what}: half 0x${h.toString(16)} gave bits 0x${gotBits[i].toString(16)}, want 0x${wantBits[i].toString(16)} (${want[i]})`);
    }
  }
}

test('f16ToF32 is exact on all 65536 half bit patterns', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const src = new Uint16Array(65536);
  for (let i = 0; i < src.length; i++) src[i] = i;
  const ps = heap.place(src);
  const po = heap.alloc(65536 * 4);
  k.f16ToF32(po, ps, 65536, 0);
  checkAll(src, heap.f32(po, 65536), 'sweep');
});

test('f16ToF32 on ragged lengths and unaligned starts writes exactly n floats', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const src = new Uint16Array(600);
  // subnormals, normals, infinities, NaN, signed zeros spread over the vector and its scalar tail
  const specials = [0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0x7c00, 0xfc00, 0x7e01, 0xfd55];
  for (let i = 0; i < src.length; i++) src[i] = i % 3 === 0 ? specials[i % specials.length] : (i * 40503) & 0xffff;
  for (const n of [1, 3, 5, 7, 8, 9, 15, 17, 31, 33, 63, 64, 65, 172, 257]) {
    for (const start of [0, 1, 3]) {
      const mark = heap.mark();
      const part = src.slice(start, start + n);
      const ps = heap.alloc(part.byteLength + 2) + 2; // deliberately not 4- or 16-byte aligned
      heap.write(ps, part);
      const po = placeSentinel(heap, n + 3);
      k.f16ToF32(po, ps, n, 0);
      const got = heap.f32(po, n + 3);
      checkAll(part, got.subarray(0, n), `n=${n} start=${start}`);
      assertUntouched(got, 0, n, `n=${n}`);
      heap.release(mark);
    }
  }
});

/** Random weights as halves: normals, with zeros and subnormals (|w| < 2^-14) mixed in. */
function randomHalves(rng: Rng, n: number): { h: Uint16Array; dense: Float32Array } {
  const h = new Uint16Array(n);
  const v = rng.normals(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    h[i] = ref.floatToHalf(u < 0.05 ? 0 : u < 0.15 ? v[i] * 2 ** -16 : v[i]);
  }
  const dense = new Float32Array(n);
  ref.f16ToF32(dense, h);
  return { h, dense };
}

/** h's halves lifted by liftHalves, widened by f16ToF32 with their shift: bit-exactly the values of h. Returns the shift. */
function widenLaid(inst: KernelInstance, h: Uint16Array): number {
  const { exports: k, heap } = inst;
  const halves = h.slice();
  const shift = liftHalves(halves);
  const mark = heap.mark();
  const po = heap.alloc(h.length * 4);
  k.f16ToF32(po, heap.place(halves), h.length, shift);
  checkAll(h, heap.f32(po, h.length), `shift ${shift}`);
  heap.release(mark);
  if (shift === 0) assert.equal(halves, h);
  for (const v of halves) assert.ok((v & 0x7fff) === 0 || (v & 0x7c00) !== 0 || shift === 0, `half 0x${v.toString(16)} left subnormal at shift ${shift}`);
  return shift;
}

test('liftHalves lifts every subnormal half into the normal range by the smallest power of two, exactly', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(904);
  // random weights with zeros and subnormals, signed zeros and the smallest subnormals added: the full lift of 2^10
  const { h } = randomHalves(rng, 1000);
  h.set([0x8000, 0x0000, 0x0001, 0x8001, 0x03ff, 0x83ff], 100);
  assert.is(widenLaid(inst, h), 10);
  // the smallest subnormal 0x0100 (2^-16) needs 2^2; the largest finite half then may have exponent 28, not 29
  const fits = Uint16Array.from([0x0100, 0x8200, 0x3c00, 0x7000 | 0x3ff, 0xf000, 0x8000]);
  assert.is(widenLaid(inst, fits), 2);
  fits[3] = 0x7400;
  assert.is(widenLaid(inst, fits), 0);
});

test('liftHalves keeps the halves as they are: none subnormal, all zero, the largest near 65504, an infinity or NaN', async () => {
  const inst = await createKernelInstance();
  const cases: number[][] = [
    [0x3c00, 0xbc00, 0x0400, 0x8400, 0x0000, 0x8000],
    [0x0000, 0x8000, 0x0000],
    [],
    [0x0001, 0x7bff, 0x3c00],
    [0x0200, 0xfbff],
    [0x0001, 0x7c00, 0x3c00],
    [0x8001, 0xfc00],
    [0x0001, 0x7e01, 0x3555],
  ];
  for (const c of cases) assert.is(widenLaid(inst, Uint16Array.from(c)), 0, `0x${c.map((v) => v.toString(16)).join(', 0x')}`);
});

function checkMatvecF16(inst: KernelInstance, rng: Rng, rows: number, cols: number): void {
  const { exports: k, heap } = inst;
  const { h, dense } = randomHalves(rng, rows * cols);
  const x = rng.normals(cols);
  const mark = heap.mark();
  const halves = h.slice();
  const shift = liftHalves(halves);
  const pw = heap.place(halves), px = heap.place(x);
  checkMatvec(heap, {
    rows, cols, dense, x,
    run: (po, r0, r1) => k.matvecF16(po, pw, px, cols, r0, r1, shift),
    reference: (out, r0, r1) => ref.matvecF16(out, h, x, rows, cols, r0, r1),
  }, 'matvecF16');
  heap.release(mark);
}

test('matvecF16 matches the reference over every size pair and row ranges (zeros and subnormals included)', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(900);
  for (const rows of SIZES) for (const cols of SIZES) checkMatvecF16(inst, rng, rows, cols);
  checkMatvecF16(inst, rng, 9, 4096 + 17);
});

test('matvecF16: a row holding an infinity or NaN gives the reference infinity or NaN, the other rows stay exact', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(901);
  const [rows, cols] = [8, 100];
  const { h } = randomHalves(rng, rows * cols);
  const x = rng.normals(cols);
  // +inf in the SIMD part, -inf in the scalar tail, both infinities (NaN), NaN with a payload, a one-hot x on +inf
  h[1 * cols + 5] = 0x7c00;
  h[2 * cols + 99] = 0xfc00;
  h[3 * cols + 7] = 0x7c00;
  h[3 * cols + 40] = 0xfc00;
  h[4 * cols + 63] = 0x7e01;
  h[5 * cols + 31] = 0xfd55;
  assert.is(liftHalves(h.slice()), 0); // no shift with an infinity or NaN: the halves as they are
  const pw = heap.place(h), px = heap.place(x), po = placeSentinel(heap, rows);
  k.matvecF16(po, pw, px, cols, 0, rows, 0);
  const want = new Float32Array(rows);
  ref.matvecF16(want, h, x, rows, cols);
  const got = heap.f32(po, rows);
  for (let r = 0; r < rows; r++) {
    if (Number.isFinite(want[r])) assert.ok(Math.abs(got[r] - want[r]) <= 1e-5 * Math.max(1, Math.abs(want[r])), `row ${r}: ${got[r]} vs ${want[r]}`);
    else assert.ok(Object.is(got[r], want[r]), `row ${r}: ${got[r]}, want ${want[r]}`);
  }
});

/** Runs matmulF16 on one random matrix and n random vectors over its row ranges, against ref.matmulF16. */
function checkMatmulF16(inst: KernelInstance, rng: Rng, rows: number, cols: number, n: number): void {
  const { exports: k, heap } = inst;
  const { h, dense } = randomHalves(rng, rows * cols);
  const x = rng.normals(n * cols);
  const mark = heap.mark();
  const halves = h.slice();
  const shift = liftHalves(halves);
  const pw = heap.place(halves), px = heap.place(x);
  checkBatched(heap, {
    rows, cols, n, x, dense,
    scratchBytes: k.matmulScratchBytes(cols),
    run: (po, r0, r1, scratch) => k.matmulF16(po, pw, px, rows, cols, n, r0, r1, scratch, shift),
    reference: (out, r0, r1) => ref.matmulF16(out, h, x, rows, cols, n, r0, r1),
  }, 'matmulF16');
  heap.release(mark);
}

test('matmulF16 matches the reference over every size pair, n = 1..9 vectors, row ranges', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(902);
  for (const rows of SIZES) for (const cols of SIZES) checkMatmulF16(inst, rng, rows, cols, batchOf(rows, cols));
});

test('matmulF16: every n from 1 to 9 on ragged shapes, and several row tiles', async () => {
  const inst = await createKernelInstance();
  const rng = new Rng(903);
  for (let n = 1; n <= 9; n++) for (const [rows, cols] of [[33, 65], [17, 257], [5, 31]]) checkMatmulF16(inst, rng, rows, cols, n);
  // 7 rows per tile at 4113 columns: the ranges start and end inside tiles
  checkMatmulF16(inst, rng, 70, 4096 + 17, 6);
});

test.run();
