// clusterRows over worker threads = one thread, bit for bit; the tool pool (tools/parallel/pool.ts):
// results, a worker's error rejects its task (never hangs), a dead worker is replaced, shutdown.
// Needs the built worker bundle (node scripts/build.mjs).
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/util/random.ts';
import { quantizeRows, type RowsResult } from '../../tools/kmeans/index.ts';
import { closePools, clusterRows, getPool } from '../../tools/kmeans/parallel.ts';
import { ToolWorkerError, WorkerPool } from '../../tools/parallel/pool.ts';
import { fisherRow, heavyRow } from './reference.ts';

/** Fails instead of hanging. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function rejects(p: Promise<unknown>, re: RegExp, what: string): Promise<Error> {
  try {
    await within(p, 10_000, what);
  } catch (e) {
    assert.match((e as Error).message, re, what);
    return e as Error;
  }
  assert.unreachable(`${what}: resolved`);
  throw new Error('unreachable');
}

function assertSameRows(a: RowsResult, b: RowsResult, what: string): void {
  assert.ok(Buffer.from(a.centroids.buffer, a.centroids.byteOffset, a.centroids.byteLength).equals(Buffer.from(b.centroids.buffer, b.centroids.byteOffset, b.centroids.byteLength)), `${what}: centroids`);
  assert.ok(Buffer.from(a.indices).equals(Buffer.from(b.indices)), `${what}: indices`);
  assert.ok(Buffer.from(a.objectives.buffer, a.objectives.byteOffset, a.objectives.byteLength).equals(Buffer.from(b.objectives.buffer, b.objectives.byteOffset, b.objectives.byteLength)), `${what}: objectives`);
}

function matrix(seed: number, rows: number, cols: number): { W: Float32Array; F: Float32Array } {
  const rng = new Rng(seed);
  return { W: heavyRow(rng, rows * cols), F: fisherRow(rng, rows * cols) };
}

test('clusterRows: 2 and 3 threads = 1 thread = quantizeRows (TS), bit for bit', async () => {
  for (const [rows, cols, bits] of [[96, 300, 4], [40, 1000, 3], [3, 64, 2], [1, 50, 4]]) {
    const { W, F } = matrix(rows * cols, rows, cols);
    for (const method of ['exact', 'lloyd'] as const) {
      const what = `${rows}x${cols} ${bits} bits ${method}`;
      const ts = quantizeRows(W, F, rows, cols, bits, { method, seed: 5 });
      const one = await clusterRows(W, F, rows, cols, bits, { method, seed: 5 });
      assertSameRows(ts, one, `${what}, 1 thread`);
      for (const threads of [2, 3]) {
        const par = await within(clusterRows(W, F, rows, cols, bits, { method, seed: 5, threads }), 20_000, what);
        assertSameRows(one, par, `${what}, ${threads} threads`);
        assert.ok(!(par.indices.buffer instanceof SharedArrayBuffer), 'results in ordinary buffers');
      }
    }
  }
  // unweighted, and inputs already over SharedArrayBuffers (used as they are)
  const { W } = matrix(7, 50, 200);
  const Ws = new Float32Array(new SharedArrayBuffer(W.byteLength));
  Ws.set(W);
  assertSameRows(quantizeRows(W, null, 50, 200, 3), await clusterRows(Ws, null, 50, 200, 3, { threads: 2 }), 'F null, shared W');
});

test('a worker error rejects clusterRows with the worker message (not a hang); the pool carries on', async () => {
  const rows = 40;
  const cols = 64;
  const { W, F } = matrix(11, rows, cols);
  const bad = W.slice();
  bad[33 * cols + 5] = NaN;
  await rejects(clusterRows(bad, F, rows, cols, 4, { threads: 2 }), /values: entry 5 is NaN/, 'NaN value');
  const badF = F.slice();
  badF[2 * cols + 1] = -1;
  await rejects(clusterRows(W, badF, rows, cols, 4, { threads: 2, method: 'lloyd' }), /weights: entry 1 is -1/, 'negative weight');
  // argument errors come from this thread before any task starts
  await rejects(clusterRows(W, F, rows, cols + 1, 4, { threads: 2 }), /expected/, 'shape');
  assertSameRows(quantizeRows(W, F, rows, cols, 4), await clusterRows(W, F, rows, cols, 4, { threads: 2 }), 'after errors');
});

test('pool: results, worker errors, dead workers replaced, FIFO beyond the pool size', async () => {
  const pool = new WorkerPool(2);
  try {
    assert.equal(await within(pool.run({ type: 'selftest', action: 'echo', value: { a: [1, 2] } }), 10_000, 'echo'), { a: [1, 2] });
    // transfer: the buffer moves to the worker (detached here) and comes back as a copy
    const buf = new Float64Array([1, 2, 3]);
    const back = await pool.run<Float64Array>({ type: 'selftest', action: 'echo', value: buf }, [buf.buffer]);
    assert.is(buf.byteLength, 0);
    assert.equal(Array.from(back), [1, 2, 3]);
    const e = await rejects(pool.run({ type: 'selftest', action: 'throw', message: 'boom 42' }), /^boom 42$/, 'throw');
    assert.is(e.name, 'RangeError');
    await rejects(pool.run({ type: 'no-such-task' }), /unknown task type "no-such-task"/, 'unknown type');
    const dead = await rejects(pool.run({ type: 'selftest', action: 'exit', code: 7 }), /exited \(code 7\)/, 'exit');
    assert.instance(dead, ToolWorkerError);
    await rejects(pool.run({ type: 'selftest', action: 'uncaught', message: 'oops' }), /failed: oops/, 'uncaught');
    assert.is(pool.size, 2);
    // more tasks than workers: all answered, in order of their results
    const got = await within(
      Promise.all(Array.from({ length: 9 }, (_, i) => pool.run({ type: 'selftest', action: 'sleep', ms: 5, value: i }))),
      10_000,
      'queue',
    );
    assert.equal(got, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.is(pool.pending, 0);
  } finally {
    await pool.close();
  }
});

test('pool shutdown: queued and running tasks rejected, later runs rejected, idempotent', async () => {
  const pool = new WorkerPool(1);
  const running = pool.run({ type: 'selftest', action: 'sleep', ms: 60_000 });
  const queued = pool.run({ type: 'selftest', action: 'echo', value: 1 });
  const closing = pool.close();
  await rejects(running, /closed/, 'running');
  await rejects(queued, /closed/, 'queued');
  await within(closing, 10_000, 'close');
  await within(pool.close(), 1000, 'second close');
  await rejects(pool.run({ type: 'selftest', action: 'echo', value: 1 }), /closed/, 'after close');
});

test('getPool: one pool per process, grown on demand; closePools; a new one after', async () => {
  const a = getPool(1);
  const b = getPool(3);
  assert.ok(a === b, 'same pool');
  assert.ok(b.size >= 3);
  await closePools();
  assert.ok(a.closed);
  const c = getPool(2);
  assert.ok(c !== a && !c.closed);
  assert.is(await c.run({ type: 'selftest', action: 'echo', value: 'ok' }), 'ok');
  await closePools();
});

test('a pool that is never closed does not keep the process alive', () => {
  const script = `import { getPool } from './tools/parallel/pool.ts';
    const p = getPool(2);
    console.log(await p.run({ type: 'selftest', action: 'echo', value: 'done' }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.error, undefined, String(r.error));
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'done');
});

test.after(async () => {
  await closePools();
});

test.run();
