// The toolchain's worker-thread entry, bundled to build/tool-worker.mjs by scripts/build.mjs and
// started by tools/parallel/pool.ts. Each message is `{ id, task }`; `task.type` picks the
// handler; the reply is `{ id, ok: true, result }` or `{ id, ok: false, error }` (pool.ts Reply).
import { parentPort } from 'node:worker_threads';
import { fisherTask, type FisherTask } from '../fisher/parallel.ts';
import { kmeansRowsTask, type KMeansRowsTask } from '../kmeans/parallel.ts';
import type { Reply, Task } from './pool.ts';

/** 'selftest': the pool's own tests (echo a value, throw, die). */
function selftest(t: Task): unknown {
  switch (t.action) {
    case 'echo':
      return t.value;
    case 'throw':
      throw new RangeError(String(t.message ?? 'selftest error'));
    case 'exit':
      process.exit(Number(t.code ?? 3));
    // falls through (never reached)
    case 'uncaught':
      // thrown outside the handler: the worker dies with an uncaught exception
      setTimeout(() => {
        throw new Error(String(t.message ?? 'selftest uncaught'));
      });
      return new Promise(() => {});
    case 'sleep':
      return new Promise((resolve) => setTimeout(() => resolve(t.value), Number(t.ms ?? 0)));
    default:
      throw new Error(`selftest: unknown action ${String(t.action)}`);
  }
}

const handlers: Record<string, (task: Task) => unknown> = {
  'kmeans-rows': (t) => kmeansRowsTask(t as KMeansRowsTask),
  fisher: (t) => fisherTask(t as unknown as FisherTask),
  selftest,
};

const port = parentPort;
if (!port) throw new Error('tool-worker.mjs runs as a worker thread (tools/parallel/pool.ts)');
port.on('message', async (msg: { id: number; task: Task }) => {
  let reply: Reply;
  try {
    const type = msg.task?.type;
    const handler = Object.hasOwn(handlers, type) ? handlers[type] : undefined;
    if (!handler) throw new Error(`tool worker: unknown task type ${JSON.stringify(type)}`);
    reply = { id: msg.id, ok: true, result: await handler(msg.task) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id: msg.id, ok: false, error: { name: err.name, message: err.message, stack: err.stack } };
  }
  port.postMessage(reply);
});
