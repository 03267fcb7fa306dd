// A first-come, first-served lock: one holder at a time, the rest wait in order. A model has one
// run state (activations and KV cache) in backend memory, so calls that use it (generate,
// perplexity) take turns through one of these instead of overwriting each other's cache.

/** Gives the lock back; calling it again does nothing, so every exit path may call it. */
export type Release = () => void;

export class TurnQueue {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  /** Whether someone holds the lock now. */
  get busy(): boolean {
    return this.held;
  }

  /** Callers waiting behind the holder. */
  get waiters(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once it is this caller's turn. An abort while waiting rejects
   * with the signal's reason and leaves the line; an already-aborted signal rejects at once.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(turn), 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(turn);
    });
  }

  /** Runs fn in its turn and releases afterwards, however fn ends. */
  async run<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next(); // the lock passes straight to the next caller, still held
      else this.held = false;
    };
  }
}
