import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers.ts';
import { SIZES, assertUntouched, placeSentinel } from './_util.ts';

test('rmsnorm matches the reference, out-of-place and in place', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(31);
  for (const n of SIZES) {
    for (const [scale, eps] of [[1, 1e-5], [30, 1e-6], [1e-3, 1e-5]]) {
      const x = rng.normals(n, scale);
      const w = rng.normals(n);
      const want = new Float32Array(n);
      ref.rmsnorm(want, x, w, n, eps);
      const mark = heap.mark();
      const px = heap.place(x), pw = heap.place(w), po = placeSentinel(heap, n + 3);
      k.rmsnorm(po, px, pw, n, eps);
      assertClose(heap.f32(po, n), want, 1e-5, `rmsnorm n=${n} scale=${scale}`);
      assertUntouched(heap.f32(po, n + 3), 0, n, `rmsnorm n=${n}`);
      k.rmsnorm(px, px, pw, n, eps);
      assertClose(heap.f32(px, n), want, 1e-5, `rmsnorm in place n=${n} scale=${scale}`);
      heap.release(mark);
    }
  }
});

for (const style of ['interleaved', 'half'] as const) {
  test(`rope (${style}) matches the reference over head sizes, positions and thetas`, async () => {
    const { exports: k, heap } = await createKernelInstance();
    const kernel = style === 'interleaved' ? k.ropeInterleaved : k.ropeHalf;
    const rng = new Rng(style === 'interleaved' ? 41 : 43);
    for (const headSize of [2, 4, 6, 8, 16, 34, 64, 128]) {
      for (const heads of [1, 3, 5, 7]) {
        for (const pos of [0, 1, 7, 100, 4095]) {
          for (const theta of [10000, 500000, 1e6]) {
            const n = heads * headSize;
            const v = rng.normals(n);
            const want = v.slice();
            ref.rope(want, n, headSize, pos, theta, style);
            const mark = heap.mark();
            const pv = heap.alloc((n + 3) * 4);
            heap.write(pv, v);
            heap.f32(pv + n * 4, 3).fill(12345.5);
            kernel(pv, n, headSize, pos, theta);
            const got = heap.f32(pv, n + 3);
            const what = `rope ${style} heads=${heads} headSize=${headSize} pos=${pos} theta=${theta}`;
            assertClose(got.subarray(0, n), want, 1e-5, what);
            assertUntouched(got, 0, n, what);
            if (pos === 0) assert.equal(Array.from(got.subarray(0, n)), Array.from(v), `${what}: pos 0 is the identity`);
            heap.release(mark);
          }
        }
      }
    }
  });
}

test('softmax matches the reference, large magnitudes included (no overflow)', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(51);
  for (const n of SIZES) {
    for (const [scale, offset] of [[1, 0], [10, 0], [100, 0], [1e4, 0], [1, 1e4], [3, -5e3], [1e30, 0]]) {
      const x = rng.normals(n, scale).map((v) => v + offset);
      const want = x.slice();
      ref.softmax(want, n);
      const mark = heap.mark();
      const px = heap.alloc((n + 3) * 4);
      heap.write(px, x);
      heap.f32(px + n * 4, 3).fill(12345.5);
      k.softmax(px, n);
      const got = heap.f32(px, n + 3);
      const what = `softmax n=${n} scale=${scale} offset=${offset}`;
      for (let i = 0; i < n; i++) if (!Number.isFinite(got[i])) assert.unreachable(`${what}: got[${i}] = ${got[i]}`);
      assertClose(got.subarray(0, n), want, 1e-5, what);
      assertUntouched(got, 0, n, what);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += got[i];
      assert.ok(Math.abs(sum - 1) < 1e-5, `${what}: sums to ${sum}`);
      heap.release(mark);
    }
  }
});

test('softmax handles every exponent from e^0 down to underflow', async () => {
  const { exports: k, heap } = await createKernelInstance();
  // x - max sweeps [-120, 0]: the polynomial, the two-factor scaling and f32 subnormals
  const n = 1201;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -i / 10;
  const want = x.slice();
  ref.softmax(want, n);
  const px = heap.place(x);
  k.softmax(px, n);
  const got = heap.f32(px, n);
  for (let i = 0; i < n; i++) {
    const rel = Math.abs(got[i] - want[i]) / Math.max(want[i], 1e-40);
    // a few ulp while normal; a few subnormal steps (1.4e-45 each) below 2^-126
    if (want[i] >= 2 ** -126 && rel > 1e-6) assert.unreachable(`x=${x[i]}: ${got[i]} vs ${want[i]} (relative ${rel})`);
    if (want[i] < 2 ** -126 && Math.abs(got[i] - want[i]) > 3e-45) assert.unreachable(`x=${x[i]}: ${got[i]} vs ${want[i]}`);
  }
});

test('swiglu matches the reference over sizes and gate magnitudes', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(61);
  for (const n of SIZES) {
    for (const scale of [1, 10, 100]) {
      const g = rng.normals(n, scale);
      const u = rng.normals(n);
      const want = new Float32Array(n);
      ref.swiglu(want, g, u, n);
      const mark = heap.mark();
      const pg = heap.place(g), pu = heap.place(u), po = placeSentinel(heap, n + 3);
      k.swiglu(po, pg, pu, n);
      const got = heap.f32(po, n + 3);
      assertClose(got.subarray(0, n), want, 1e-5, `swiglu n=${n} scale=${scale}`);
      assertUntouched(got, 0, n, `swiglu n=${n}`);
      // elementwise too: silu is well conditioned, so every entry should be close on its own
      for (let i = 0; i < n; i++) {
        if (Math.abs(got[i] - want[i]) > 1e-5 * Math.abs(want[i]) + 1e-30) assert.unreachable(`swiglu g=${g[i]} u=${u[i]}: ${got[i]} vs ${want[i]}`);
      }
      heap.release(mark);
    }
  }
});

test('add matches the reference, out-of-place and in place', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const rng = new Rng(71);
  for (const n of SIZES) {
    const a = rng.normals(n);
    const b = rng.normals(n);
    const want = new Float32Array(n);
    ref.add(want, a, b, n);
    const mark = heap.mark();
    const pa = heap.place(a), pb = heap.place(b), po = placeSentinel(heap, n + 3);
    k.add(po, pa, pb, n);
    const got = heap.f32(po, n + 3);
    assert.equal(Array.from(got.subarray(0, n)), Array.from(want), `add n=${n}`);
    assertUntouched(got, 0, n, `add n=${n}`);
    k.add(pa, pa, pb, n);
    assert.equal(Array.from(heap.f32(pa, n)), Array.from(want), `add in place n=${n}`);
    heap.release(mark);
  }
});

test.run();
