import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_BYTES, SLACK, WasmHeap, WasmMemoryError, alignUp } from '../../src/backend/wasm/heap.ts';
import { createKernelInstance } from '../../src/backend/wasm/instance.ts';

test('alloc aligns, leaves read slack between blocks, and starts at or above heapBase', async () => {
  const { exports: k, heap } = await createKernelInstance();
  const a = heap.alloc(10);
  assert.ok(a >= k.heapBase(), 'first block at or above heapBase');
  assert.is(a % 16, 0);
  const b = heap.alloc(3, 64);
  assert.is(b % 64, 0);
  assert.ok(b >= a + 10 + SLACK, 'a block keeps SLACK bytes after the previous one');
});

test('growing the memory keeps existing data', async () => {
  const { memory, heap } = await createKernelInstance(1 << 16);
  const before = memory.buffer.byteLength;
  const data = new Float32Array(1000).map((_, i) => i * 0.5 - 7);
  const p = heap.place(data);
  const big = heap.alloc(3 << 20); // past the initial memory: grows it
  assert.ok(memory.buffer.byteLength > before, 'memory grew');
  assert.ok(memory.buffer.byteLength >= big + (3 << 20) + SLACK, 'the new block fits');
  assert.equal(Array.from(heap.f32(p, 1000)), Array.from(data));
  heap.f32(big + (3 << 20) - 4, 1)[0] = 42; // the end of the new block is writable
  assert.is(heap.f32(big + (3 << 20) - 4, 1)[0], 42);
});

test('scratch reuse returns the same pointer while big enough', async () => {
  const { heap } = await createKernelInstance();
  const a = heap.scratch('att', 4096);
  assert.is(heap.scratch('att', 4096), a);
  assert.is(heap.scratch('att', 100), a, 'a smaller request reuses the block');
  const other = heap.scratch('logits', 64);
  assert.is.not(other, a);
  const bigger = heap.scratch('att', 8192);
  assert.is.not(bigger, a, 'growing places a new block');
  assert.is(heap.scratch('att', 8192), bigger);
  assert.is(heap.scratch('att', 16, 64) % 64, 0, 'alignment is honoured');
});

test('release(mark) frees what came after the mark, and drops scratches placed there', async () => {
  const { heap } = await createKernelInstance();
  heap.alloc(100);
  const mark = heap.mark();
  const a = heap.alloc(1000);
  const s = heap.scratch('tmp', 256);
  assert.ok(heap.used > mark);
  heap.release(mark);
  assert.is(heap.used, mark);
  const s2 = heap.scratch('tmp', 256);
  assert.is.not(s2, s, 'a scratch above the mark was forgotten (placed anew)');
  assert.is(s2, a, 'the released space is handed out again');
  const mark2 = heap.mark();
  const b = heap.alloc(1000);
  heap.release(mark2);
  assert.is(heap.alloc(1000), b, 'the same block is handed out again');
  assert.throws(() => heap.release(heap.used + 64), (e: unknown) => e instanceof WasmMemoryError);
});

test('asking for more than 4 GiB throws WasmMemoryError naming the bytes needed, without allocating', async () => {
  const { memory, heap } = await createKernelInstance();
  const before = memory.buffer.byteLength;
  const used = heap.used;
  const bytes = 5 * 2 ** 30;
  const needed = alignUp(used, 16) + bytes + SLACK;
  assert.ok(needed > MAX_BYTES);
  let err: unknown;
  try {
    heap.alloc(bytes);
  } catch (e) {
    err = e;
  }
  assert.instance(err, WasmMemoryError);
  const msg = (err as Error).message;
  assert.ok(msg.includes(String(needed)), `message names ${needed}: ${msg}`);
  assert.ok(msg.includes('4 GiB'), `message names the 4 GiB limit: ${msg}`);
  assert.is(memory.buffer.byteLength, before, 'nothing was allocated');
  assert.is(heap.used, used, 'the heap top did not move');
});

test('a bad size throws WasmMemoryError', () => {
  const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1, maximum: 4 }), 0);
  assert.throws(() => heap.alloc(-1), (e: unknown) => e instanceof WasmMemoryError);
  assert.throws(() => heap.alloc(1.5), (e: unknown) => e instanceof WasmMemoryError);
});

test.run();
