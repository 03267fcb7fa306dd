// Where one decode step, or one prompt batch, goes: a loaded model's backend is instrumented from
// the outside (the runtime carries no timing code, so nothing costs anything when no profile runs),
// then timed steps run at a given position. A step is one forward call over `batch` tokens: 1 for a
// decode step, n for a prompt of n tokens (all of its products are n-vector matmuls).
//
// - Each call the forward pass makes on the backend (matmul, attention, rmsnorm, rope, …; a
//   matmul named by the weight's role: attn.q, mlp.down, head) is timed inclusively. Calls the
//   backend makes on itself are not counted again.
// - Each kernel export (a JS→WASM crossing) is timed and counted under the backend call it ran
//   in: so a fast-path matmul splits into quantizeActivations, the int8 LUT product and the sparse
//   part (spmvCsrAdd), and "JS in the backend" is what the call took beyond its kernels.
// - With threads, the pool's wait for its workers (join) is timed too: the worker sync.
// - Sampling (the argmax over the logits) is timed apart; "forward pass JS" is the step's time
//   outside every backend call (the loops and views of src/model/forward.ts).
// - The cost of one crossing is measured on a trivial export (heapBase), so calls × cost is the
//   crossings' share.
// Each figure is the median over the steps (one descheduled step on a shared machine moves none),
// with the cost of the clock reads subtracted; the report gives the step time without any timer
// beside the timed one, which shows how well that correction holds.
import { enableRelaxedSimd } from '../src/backend/wasm/instance.ts';
import { loadModel } from '../src/index.ts';
import type { Model } from '../src/model/model.ts';
import { median } from './_timing.ts';

export interface ProfileLine {
  /** 'matmul mlp.up', or a kernel under it: 'matmul mlp.up › matvecLut4Int8'. */
  op: string;
  msPerStep: number;
  callsPerStep: number;
  /** For matrix products: the weight bytes one step reads (all layers). */
  weightBytes?: number;
}

export interface Profile {
  file: string;
  fast: boolean;
  threads: number;
  position: number;
  /** Tokens per step: 1 for decode, the prompt's length for a prompt batch. */
  batch: number;
  steps: number;
  /** Median step without the timers, and with them (their own cost subtracted). */
  stepMs: number;
  profiledStepMs: number;
  /** Forward-level calls (inclusive), medians over the steps, sorted by time. */
  ops: ProfileLine[];
  /** Kernel exports under each op (exclusive). */
  kernels: ProfileLine[];
  sampleMs: number;
  forwardJsMs: number;
  crossingsPerStep: number;
  crossingNs: number;
  /** The cost of one clock read (performance.now()), subtracted from every timed interval. */
  clockNs: number;
}

type Fn = (...a: unknown[]) => unknown;

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** What the profile reads off a backend's weight handle (the WASM backend's nuq and uniform weights carry their bits). */
interface WeightHandle {
  name: string;
  kind: string;
  shape: number[];
  lut?: { bits: number };
  uni?: { bits: number };
}

/** Bytes a matrix product reads: its values or indices (tables, scales and sparse entries are small beside them). */
function weightBytes(w: WeightHandle): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.kind === 'f32') return n * 4;
  if (w.kind === 'f16') return n * 2;
  return (n * (w.lut ?? w.uni)!.bits) / 8;
}

/**
 * Per step, each op's time and calls. Every interval loses the cost of the clock read inside it
 * (one read, about: half of each of its two), and an op also the reads of the calls timed inside it,
 * so the timers' own cost is not booked to the op; on some VMs a clock read costs a microsecond.
 */
class Recorder {
  /** The step being recorded; -1: not recording. */
  step = -1;
  readonly lines = new Map<string, { ms: number[]; calls: number[]; bytes?: number }>();
  /** Timed intervals per step (for the step's own correction). */
  readonly intervals: number[];
  constructor(
    readonly steps: number,
    readonly clockMs: number,
  ) {
    this.intervals = new Array(steps).fill(0);
  }
  add(key: string, ms: number, bytes?: number, nestedTimers = 0): void {
    if (this.step < 0) return;
    let s = this.lines.get(key);
    if (!s) this.lines.set(key, (s = { ms: new Array(this.steps).fill(0), calls: new Array(this.steps).fill(0), bytes }));
    s.ms[this.step] += Math.max(0, ms - this.clockMs * (1 + 2 * nestedTimers));
    s.calls[this.step]++;
    this.intervals[this.step]++;
  }
}

/** Wraps the backend's methods, its kernel exports and its pool's join, recording into `rec`. */
function instrument(model: Model, rec: Recorder): { crossings: () => number } {
  const b = model.backend as unknown as Record<string, Fn> & { inst?: { exports: Record<string, unknown> }; pool?: Record<string, Fn> };
  let depth = 0;
  let current = 'outside';
  let nested = 0;
  let crossings = 0;
  const proto = Object.getPrototypeOf(b);
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name === 'constructor' || typeof d?.value !== 'function') continue;
    const f = (d.value as Fn).bind(b);
    b[name] = (...args: unknown[]) => {
      if (depth > 0) return f(...args);
      const w = args[1] as WeightHandle;
      const matrix = name === 'matmul' || name === 'matvec';
      // a matrix product by its role in the layer; with tied embeddings the head's weight is 'embed'
      const role = matrix && (w.name === 'embed' ? 'head' : w.name.replace(/^layers\.\d+\./, ''));
      current = matrix ? `matmul ${role}` : name;
      nested = 0;
      const t0 = performance.now();
      depth++;
      try {
        return f(...args);
      } finally {
        depth--;
        rec.add(current, performance.now() - t0, matrix ? weightBytes(w) : undefined, nested);
        current = 'outside';
      }
    };
  }
  const exp = b.inst?.exports;
  if (exp) {
    for (const [name, f] of Object.entries(exp)) {
      if (typeof f !== 'function') continue;
      exp[name] = (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return (f as Fn)(...args);
        } finally {
          if (rec.step >= 0) crossings++;
          nested++;
          rec.add(`${current} › ${name}`, performance.now() - t0);
        }
      };
    }
  }
  const pool = b.pool;
  if (pool && typeof pool.join === 'function') {
    const join = pool.join.bind(pool);
    pool.join = () => {
      const t0 = performance.now();
      try {
        return join();
      } finally {
        nested++;
        rec.add(`${current} › worker wait (join)`, performance.now() - t0);
      }
    };
  }
  return { crossings: () => crossings };
}

/** The cost of one performance.now(), ms (best of 5 loops of 10^4). */
function clockCost(): number {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 1e4; i++) performance.now();
    best = Math.min(best, (performance.now() - t0) / 1e4);
  }
  return best;
}

/** The cost of one JS→WASM call on a trivial export, ns (best of 5 runs of 1e5 calls). */
function crossingCost(model: Model): number {
  const exp = (model.backend as unknown as { inst?: { exports: { heapBase: () => number } } }).inst?.exports;
  if (!exp) return 0;
  const f = exp.heapBase;
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 1e5; i++) f();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / 1e5);
  }
  return best;
}

/**
 * Loads `file` and profiles `steps` steps of `batch` tokens (default 1: decode steps) from `position`
 * (after a prompt that fills the cache up to it). A batch step runs its tokens at the same positions
 * each time (the cache entries are written again), so every step costs the same.
 */
export async function profileDecode(file: string, opts: { fast: boolean; threads: number; position: number; steps: number; batch?: number }): Promise<Profile> {
  await enableRelaxedSimd(); // the kernel build `sqz run` takes (Node 20 has relaxed SIMD behind a flag)
  const batch = opts.batch ?? 1;
  const grows = batch === 1 ? 2 * opts.steps + 4 : batch;
  const model = await loadModel(file, { backend: 'wasm', fast: opts.fast, threads: opts.threads, ctx: opts.position + grows, ...(batch > 1 ? { batch } : {}) });
  try {
    const V = model.config.vocabSize;
    const tokens = (from: number, length: number) => Array.from({ length }, (_, i) => 3 + (((from + i) * 7919) % (V - 3)));
    let logits = opts.position > 0 ? model.forward(tokens(0, opts.position), 0) : new Float32Array(V);
    let pos = opts.position;
    // one step: the next token at the next position (decode), or the batch at `position` again
    const step = (tok: number) => (batch === 1 ? model.forward([tok], pos++) : model.forward([tok, ...tokens(opts.position + 1, batch - 1)], opts.position));
    const plain: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      logits = step(argmax(logits));
      plain.push(performance.now() - t0);
    }
    const crossingNs = crossingCost(model);
    const clockMs = clockCost();
    const rec = new Recorder(opts.steps, clockMs);
    const { crossings } = instrument(model, rec);
    // two steps through the new wrappers before recording, so their first calls' compilation is not counted
    for (let i = 0; i < 2; i++) logits = step(argmax(logits));
    const steps: number[] = [];
    const samples: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      rec.step = i;
      const t0 = performance.now();
      const tok = argmax(logits);
      const t1 = performance.now();
      logits = step(tok);
      const t2 = performance.now();
      rec.step = -1;
      // the step less its timers: two clock reads per interval, and the two around the argmax
      steps.push(t2 - t0 - clockMs * (2 * rec.intervals[i] + 2));
      samples.push(t1 - t0 - clockMs);
    }
    const all = [...rec.lines].map(([op, l]) => ({ op, l }));
    const opLines = all.filter((x) => !x.op.includes(' › '));
    // per step: what the forward pass spent outside every backend call
    const outside = steps.map((t, i) => t - samples[i] - opLines.reduce((sum, x) => sum + x.l.ms[i], 0));
    const lines = all.map(({ op, l }): ProfileLine => {
      const calls = median(l.calls);
      return { op, msPerStep: median(l.ms), callsPerStep: calls, weightBytes: l.bytes === undefined ? undefined : l.bytes * calls };
    });
    const byTime = (a: ProfileLine, b: ProfileLine) => b.msPerStep - a.msPerStep;
    return {
      file,
      fast: opts.fast,
      threads: opts.threads,
      position: opts.position,
      batch,
      steps: opts.steps,
      stepMs: median(plain),
      profiledStepMs: median(steps),
      ops: lines.filter((l) => !l.op.includes(' › ')).sort(byTime),
      kernels: lines.filter((l) => l.op.includes(' › ')).sort(byTime),
      sampleMs: median(samples),
      forwardJsMs: Math.max(0, median(outside)),
      crossingsPerStep: crossings() / opts.steps,
      crossingNs,
      clockNs: clockMs * 1e6,
    };
  } finally {
    await model.close();
  }
}
