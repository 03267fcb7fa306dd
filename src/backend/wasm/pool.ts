// The main thread's side of the kernel workers (docs/THREADS.md): T - 1 worker_threads, each with
// its own instance of the kernel module over the backend's shared memory, driven by a synchronous
// fork-join over a control block (protocol.ts). The forward pass is synchronous, so a job is:
// write op + args + per-part ranges, bump GEN (notify sleepers), run part 0 here, then wait until
// PENDING is 0. A worker's throw comes back as an exception here; a worker that never answers
// gives a clear error after `timeoutMs` instead of a hang.
import { Worker } from 'node:worker_threads';
import { SqzError } from '../../util/errors.ts';
import { workerEntry } from '../../util/workers.ts';
import type { KernelInstance } from './instance.ts';
import {
  ARG_COUNT, ARGS, CONTROL_BYTES, DEFAULT_SPIN, ERROR, F32View, GEN, MAIN_SLEEPING, MAX_PARTS, OP, OP_EXIT, PENDING, RANGES,
  PROBE, SLEEPERS, readErrorText, runPart, type WorkerInit,
} from './protocol.ts';

/** A kernel worker threw, died, or did not finish in time. */
export class KernelWorkerError extends SqzError {
  override name = 'KernelWorkerError';
}

export interface PoolOptions {
  /** Safety net: a job not finished by all workers within this many ms throws (default 60000). */
  timeoutMs?: number;
  /** Most spin iterations on the control block before sleeping in Atomics.wait (default DEFAULT_SPIN; adaptive, protocol.ts). */
  spin?: number;
}

export class KernelPool {
  readonly threads: number;
  private readonly ctrl: Int32Array;
  private readonly u32: Uint32Array;
  private readonly mem: F32View;
  private readonly timeoutMs: number;
  private readonly spin: number;
  private budget: number;
  private readonly rangeCache = new Map<number, Int32Array>();
  private sleeps = 0;
  private dead: string | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly inst: KernelInstance,
    private readonly workers: Worker[],
    control: SharedArrayBuffer,
    opts: PoolOptions,
  ) {
    this.threads = workers.length + 1;
    this.ctrl = new Int32Array(control);
    this.u32 = new Uint32Array(control);
    this.mem = new F32View(inst.memory);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.spin = opts.spin ?? DEFAULT_SPIN;
    this.budget = this.spin;
    workers.forEach((w, i) => {
      // Nothing can be thrown into the main thread from here: record it; the next job reports it.
      w.on('error', (e) => (this.dead ??= `kernel worker ${i + 1} failed: ${e.message}`));
      w.on('exit', (code) => {
        if (!this.closing) this.dead ??= `kernel worker ${i + 1} exited (code ${code})`;
      });
      // A program that forgets close() still exits: idle workers do not hold the event loop.
      w.unref();
    });
  }

  /** Starts threads - 1 workers over the instance's memory and waits until each has instantiated the kernels. */
  static async start(inst: KernelInstance, module: WebAssembly.Module, threads: number, opts: PoolOptions = {}): Promise<KernelPool> {
    if (!Number.isInteger(threads) || threads < 2 || threads > MAX_PARTS) throw new KernelWorkerError(`a kernel pool runs 2 to ${MAX_PARTS} threads, not ${threads}`);
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const url = workerEntry('kernel-worker.mjs');
    const spin = opts.spin ?? DEFAULT_SPIN;
    const workers: Worker[] = [];
    try {
      for (let part = 1; part < threads; part++) {
        const init: WorkerInit = { module, memory: inst.memory, control, part, spin };
        // The entry is a built bundle: none of the parent's loader flags (tsx, --input-type) apply.
        workers.push(new Worker(url, { workerData: init, name: `sqz-kernels-${part}`, execArgv: [] }));
      }
      await Promise.all(
        workers.map(
          (w, i) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', () => resolve());
              w.once('error', (e) => reject(new KernelWorkerError(`kernel worker ${i + 1} failed to start: ${e.message}`)));
              w.once('exit', (code) => reject(new KernelWorkerError(`kernel worker ${i + 1} exited (code ${code}) while starting`)));
            }),
        ),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) w.removeAllListeners();
    return new KernelPool(inst, workers, control, opts);
  }

  /** Even ranges over [0, n), each boundary a multiple of `align` where possible. */
  evenRanges(n: number, align = 16): Int32Array {
    const key = n * 64 + align;
    let s = this.rangeCache.get(key);
    if (s) return s;
    const T = this.threads;
    s = new Int32Array(T + 1);
    for (let p = 1; p < T; p++) s[p] = Math.min(n, Math.round((n * p) / T / align) * align);
    s[T] = n;
    for (let p = 1; p <= T; p++) if (s[p] < s[p - 1]) s[p] = s[p - 1];
    if (this.rangeCache.size < 256) this.rangeCache.set(key, s);
    return s;
  }

  /**
   * Runs one job: operation `op` with `args` (u32 each), part p over [split[p], split[p+1]).
   * Returns when every part is done; throws when one threw (after all have finished).
   */
  run(op: number, args: ArrayLike<number>, split: ArrayLike<number>): void {
    const { ctrl, u32, threads: T } = this;
    if (this.closing) throw new KernelWorkerError('the backend is closed');
    if (this.dead) throw new KernelWorkerError(this.dead);
    if (split.length !== T + 1) throw new KernelWorkerError(`a job over ${T} threads needs ${T + 1} boundaries, got ${split.length}`);
    if (args.length > ARG_COUNT) throw new KernelWorkerError(`a job takes at most ${ARG_COUNT} arguments`);
    u32[OP] = op;
    for (let i = 0; i < args.length; i++) u32[ARGS + i] = args[i];
    for (let p = 0; p < T; p++) {
      u32[RANGES + 2 * p] = split[p];
      u32[RANGES + 2 * p + 1] = split[p + 1];
    }
    ctrl[ERROR] = 0;
    Atomics.store(ctrl, PENDING, T - 1);
    Atomics.add(ctrl, GEN, 1); // publishes everything written above
    if (Atomics.load(ctrl, SLEEPERS) !== 0) Atomics.notify(ctrl, GEN);

    let mainError: unknown;
    try {
      runPart(this.inst.exports, u32, 0, this.mem);
    } catch (e) {
      mainError = e;
    }
    this.join();
    if (mainError !== undefined) throw mainError;
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) throw new KernelWorkerError(`kernel worker ${failed - 1} failed (job ${op}): ${readErrorText(ctrl)}`);
  }

  /** Waits until PENDING is 0: spins first (adaptively, as the workers do), then sleeps, up to timeoutMs in all. */
  private join(): void {
    const ctrl = this.ctrl;
    let left = Atomics.load(ctrl, PENDING);
    if (left === 0) return;
    for (let i = 0; left !== 0 && i < this.budget; i++) left = Atomics.load(ctrl, PENDING);
    if (left === 0) {
      this.budget = Math.min(this.spin, this.budget * 2 + 16);
      return;
    }
    this.budget = ++this.sleeps % PROBE === 0 ? this.spin : this.budget >> 1;
    const deadline = performance.now() + this.timeoutMs;
    Atomics.store(ctrl, MAIN_SLEEPING, 1);
    try {
      while ((left = Atomics.load(ctrl, PENDING)) !== 0) {
        const wait = deadline - performance.now();
        if (wait <= 0 || Atomics.wait(ctrl, PENDING, left, wait) === 'timed-out') {
          if (Atomics.load(ctrl, PENDING) === 0) return;
          this.dead = `kernel workers did not finish a job within ${this.timeoutMs} ms (${Atomics.load(ctrl, PENDING)} of ${this.threads - 1} still running); the thread pool is unusable`;
          throw new KernelWorkerError(this.dead);
        }
      }
    } finally {
      Atomics.store(ctrl, MAIN_SLEEPING, 0);
    }
  }

  /** Tells the workers to exit and resolves when they have (terminating any that do not within a second). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const { ctrl, u32 } = this;
    const exits = this.workers.map((w) => new Promise<void>((resolve) => (w.threadId < 0 ? resolve() : w.once('exit', () => resolve()))));
    u32[OP] = OP_EXIT;
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    this.closing = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
      await Promise.race([Promise.all(exits), late]);
      clearTimeout(timer);
      await Promise.all(this.workers.map((w) => w.terminate()));
    })();
    return this.closing;
  }
}
