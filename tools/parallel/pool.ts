// A small worker-thread pool for the toolchain (docs/KMEANS.md, "Threads"). Workers run the built
// bundle build/tool-worker.mjs (tools/parallel/worker.ts), located with workerEntry(). A task is a
// message `{ type, ... }`; the worker dispatches on `type` and posts back the result. One task per
// worker at a time, the rest wait in a FIFO queue. Large inputs travel as SharedArrayBuffer views
// (shared, not copied) or in `transfer` (moved).
//
// - A task that throws in the worker rejects its promise with an Error carrying the worker's
//   message (and name; the worker's stack is kept as `workerStack`).
// - A worker that dies (uncaught error, process.exit, killed) rejects its task with
//   ToolWorkerError and is replaced; the pool keeps working.
// - close() rejects queued and running tasks and terminates the workers. Workers are unref'd while
//   idle, so a pool that is never closed does not keep the process alive (a busy worker does, so
//   awaiting a task never ends the process under it).
// - getPool(threads) / closePools(): one pool per process, grown on demand, shared by callers.
import { Worker, type TransferListItem } from 'node:worker_threads';
import { SqzError } from '../../src/util/errors.ts';
import { workerEntry } from '../../src/util/workers.ts';

/** A task message: `type` selects the handler in tools/parallel/worker.ts. */
export interface Task {
  type: string;
  [key: string]: unknown;
}

/** What a worker posts back for task `id`. */
export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

/** A worker died or the pool was closed under a task. */
export class ToolWorkerError extends SqzError {
  override name = 'ToolWorkerError';
}

interface Job {
  id: number;
  task: Task;
  transfer: readonly TransferListItem[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** Set once the worker has failed or exited: the slot is being replaced. */
  gone: boolean;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private spawned = 0;

  constructor(size: number, private readonly entry: URL = workerEntry('tool-worker.mjs')) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a worker pool needs at least 1 worker, not ${size}`);
    this.grow(size);
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /** Tasks running or queued. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.job).length;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Adds workers until there are `size`. */
  grow(size: number): void {
    if (this.closing) throw new ToolWorkerError('worker pool is closed');
    while (this.slots.length < size) this.slots.push(this.spawn());
    this.dispatch();
  }

  /**
   * Runs a task on the next free worker. Resolves with the handler's result; rejects with the
   * worker's error message if the handler throws, or a ToolWorkerError if the worker dies or the
   * pool is closed first.
   */
  run<T = unknown>(task: Task, transfer: readonly TransferListItem[] = []): Promise<T> {
    if (this.closing) return Promise.reject(new ToolWorkerError('worker pool is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Rejects queued and running tasks and terminates the workers; resolves when they are gone. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const err = new ToolWorkerError('worker pool closed before the task finished');
      for (const job of this.queue.splice(0)) job.reject(err);
      const slots = this.slots.splice(0);
      for (const s of slots) {
        s.gone = true;
        if (s.job) s.job.reject(err);
        s.job = null;
      }
      await Promise.all(slots.map((s) => s.worker.terminate()));
    })();
    return this.closing;
  }

  private spawn(): Slot {
    const n = ++this.spawned;
    // The entry is a built bundle: none of the parent's loader flags (tsx) are needed or wanted.
    const worker = new Worker(this.entry, { name: `sqz-tool-${n}`, execArgv: [] });
    const slot: Slot = { worker, job: null, gone: false };
    worker.on('message', (msg: Reply) => {
      const job = slot.job;
      if (!job || msg.id !== job.id) return;
      slot.job = null;
      worker.unref();
      if (msg.ok) job.resolve(msg.result);
      else {
        const e = new Error(msg.error.message) as Error & { workerStack?: string };
        e.name = msg.error.name;
        e.workerStack = msg.error.stack;
        job.reject(e);
      }
      this.dispatch();
    });
    worker.on('messageerror', (e) => this.fail(slot, `a tool worker's reply could not be read: ${e.message}`));
    worker.on('error', (e) => this.fail(slot, `tool worker ${n} failed: ${e.message}`));
    worker.on('exit', (code) => this.fail(slot, `tool worker ${n} exited (code ${code})`));
    // after the listeners: adding a 'message' listener refs the worker's port again
    worker.unref();
    return slot;
  }

  /** A worker failed or exited: reject its task, replace it, carry on with the queue. */
  private fail(slot: Slot, why: string): void {
    if (slot.gone) return;
    slot.gone = true;
    const job = slot.job;
    slot.job = null;
    void slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closing) this.slots[i] = this.spawn();
    if (job) job.reject(new ToolWorkerError(why));
    this.dispatch();
  }

  private dispatch(): void {
    if (this.closing) return;
    for (const s of this.slots) {
      if (this.queue.length === 0) return;
      if (s.job || s.gone) continue;
      const job = this.queue.shift()!;
      s.job = job;
      // a busy worker keeps the process alive until its task is answered
      s.worker.ref();
      try {
        s.worker.postMessage({ id: job.id, task: job.task }, job.transfer);
      } catch (e) {
        // not cloneable (a function, a detached buffer): this task only
        s.job = null;
        s.worker.unref();
        job.reject(e as Error);
      }
    }
  }
}

let shared: WorkerPool | undefined;

/** The process's tool pool with at least `threads` workers (created or grown on demand). */
export function getPool(threads: number): WorkerPool {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, not ${threads}`);
  if (!shared || shared.closed) shared = new WorkerPool(threads);
  else shared.grow(threads);
  return shared;
}

/** Closes the process's tool pool (a later getPool() starts a new one). */
export async function closePools(): Promise<void> {
  const p = shared;
  shared = undefined;
  if (p) await p.close();
}
