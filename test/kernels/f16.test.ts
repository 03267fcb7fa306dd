import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';
import * as ref from '../../src/kernels/reference.ts';
import { assertUntouched, placeSentinel } from './_util.ts';

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
  k.f16ToF32(po, ps, 65536);
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
      k.f16ToF32(po, ps, n);
      const got = heap.f32(po, n + 3);
      checkAll(part, got.subarray(0, n), `n=${n} start=${start}`);
      assertUntouched(got, 0, n, `n=${n}`);
      heap.release(mark);
    }
  }
});

test.run();
