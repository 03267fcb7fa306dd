// The memory a load needs, worked out from the header and the tensor index alone, and checked
// against the limit before anything is allocated: a model that cannot fit is refused at open in one
// line, instead of being read and copied until wasm32's 4 GiB (or the machine) runs out.
//
// The figures follow what the backends place (src/backend/wasm/index.ts upload, RunState in
// forward.ts): an upper bound, so a model that fits is never refused, and a close one (within
// 0.5 MiB of the WASM heap after a run on the models measured, test/model/budget.test.ts).
import { numel } from '../format/kinds.ts';
import { kvCacheBytes, type KvKind } from '../kernels/attention.ts';
import { MemoryLimitError, UsageError } from '../util/errors.ts';
import { headSize, type ModelConfig, tensorShapes } from './config.ts';

/** Context a load allocates its KV cache for when the caller names none: the model's own, up to this. */
export const DEFAULT_CONTEXT = 4096;

/** wasm32 addresses 2^32 bytes (src/backend/wasm/heap.ts MAX_BYTES). */
export const WASM_LIMIT = 2 ** 32;

/** Alignment and read slack around each block the WASM heap places (heap.ts: align 16, SLACK 16). */
const BLOCK = 32;
const F32 = 4;

/** A tensor as the .sqz index lists it (bytes: its record's length in the file). */
export interface IndexedTensor {
  name: string;
  kind: string;
  shape: readonly number[];
  bytes: number;
}

/** The backend a load places its memory in, as far as the budget cares. */
export interface BudgetBackend {
  name: string;
  /** The WASM backend's int8 fast path (extra tables per LUT matrix). */
  fast?: boolean;
  /** Threads splitting the products (one scratch region each). */
  threads?: number;
  /** Bytes the WASM heap holds already (the kernels' own data and stack). */
  heap?: { used: number };
}

export interface MemoryPlan {
  /** Weights as the backend places them. */
  weights: number;
  /** Keys and values for `ctx` positions of every layer, as the cache kind holds them (kvCacheBytes). */
  kvCache: number;
  /** Activations for a batch, logits and the kernels' scratch. */
  activations: number;
  /** What the backend held before the load. */
  base: number;
  total: number;
}

/** The context a load allocates for: `ctx` when given (checked), else min(the model's maximum, DEFAULT_CONTEXT). */
export function contextLength(c: ModelConfig, ctx: number | undefined): number {
  if (ctx === undefined) return Math.min(c.maxSeqLen, DEFAULT_CONTEXT);
  if (!(Number.isInteger(ctx) && ctx >= 2 && ctx <= c.maxSeqLen)) throw new UsageError(`context ${ctx} (ctx option, --ctx) must be an integer between 2 and the model's ${c.maxSeqLen}`);
  return ctx;
}

/** Bytes one tensor takes once the backend has placed it. */
export function placedBytes(t: IndexedTensor, b: BudgetBackend): number {
  const n = numel(t.shape);
  const rows = t.shape[0];
  if (b.name !== 'wasm') {
    // js (and cuda's host view): dense kinds become f32; packed kinds keep their record (a LUT widened to f32)
    if (t.kind === 'nuq') return t.bytes + rows * 16 * F32;
    if (t.kind === 'uniform') return t.bytes;
    return n * F32;
  }
  switch (t.kind) {
    case 'f32':
      return n * F32 + BLOCK;
    case 'f16':
      // matrices stay half, vectors are widened
      return (t.shape.length === 2 ? n * 2 : n * F32) + BLOCK;
    case 'nuq':
      // the record's payloads (the table is replaced by 64 bytes of planes a row), plus the int8 tables on the fast path
      return t.bytes + rows * 64 + (b.fast ? rows * 20 : 0) + 6 * BLOCK;
    case 'uniform':
      return t.bytes + 3 * BLOCK;
    default:
      // any other kind is expanded to f32 on upload
      return n * F32 + BLOCK;
  }
}

/** The dense f32 tensors a checkpoint reader hands over (no index: the config says what they are). */
export function denseListing(c: ModelConfig): IndexedTensor[] {
  return [...tensorShapes(c)].map(([name, shape]) => ({ name, kind: 'f32', shape, bytes: numel(shape) * F32 }));
}

/**
 * What loading `tensors` with a KV cache of `ctx` positions (held as `kv`, with `kvWindow` recent
 * positions in f16 for the quantized kinds) and batches of `batch` tokens takes on backend `b`.
 */
export function planMemory(c: ModelConfig, tensors: readonly IndexedTensor[], b: BudgetBackend, ctx: number, batch: number, kv: KvKind = 'f32', kvWindow?: number): MemoryPlan {
  let weights = 0;
  for (const t of tensors) weights += placedBytes(t, b);
  const kvCache = kvCacheBytes({ kind: kv, layers: c.nLayers, ctx, nKvHeads: c.nKvHeads, headSize: headSize(c), residual: kvWindow });
  const state = batch * (5 * c.dim + 2 * c.hiddenDim + c.vocabSize) * F32 + 2 * c.nLayers * BLOCK;
  // The kernels' named scratch (wasm/index.ts): attention scores, one decoded tile of rows per
  // thread (dense.ts matmulScratchBytes), the fast path's int16 activations, the split matmul's
  // rows. Each grows in powers of two, leaving its smaller blocks behind, so it takes at most 4x
  // its largest request.
  const threads = b.threads ?? 1;
  const cols = Math.max(c.dim, c.hiddenDim);
  const rows = Math.max(c.vocabSize, c.hiddenDim, c.dim);
  const largest =
    Math.max(ctx, 1024) * F32 + threads * (Math.max(16 * cols, 1 << 17) + 64) + (b.fast ? batch * (3 * cols + 128) : 0) + (threads > 1 ? batch * rows * F32 : 0);
  const scratch = 4 * largest;
  const activations = state + scratch;
  const base = b.heap?.used ?? 0;
  return { weights, kvCache, activations, base, total: weights + kvCache + activations + base };
}

/** The limit a load on backend `b` runs under: wasm32's 4 GiB on the WASM backend, and `maxMemory` when the caller sets one. */
export function memoryLimit(b: BudgetBackend, maxMemory: number | undefined): { bytes: number; what: string } | null {
  if (maxMemory !== undefined && !(Number.isFinite(maxMemory) && maxMemory > 0)) throw new UsageError(`maxMemory must be a positive number of bytes, got ${maxMemory}`);
  const wasm = b.name === 'wasm' ? WASM_LIMIT : Infinity;
  if (maxMemory !== undefined && maxMemory < wasm) return { bytes: maxMemory, what: `the maxMemory limit of ${size(maxMemory)}` };
  return wasm < Infinity ? { bytes: wasm, what: "wasm32's 4 GiB of memory" } : null;
}

/** Throws MemoryLimitError (one line naming `source`, the need, its parts and the limit) when the plan does not fit. */
export function checkMemory(plan: MemoryPlan, ctx: number, limit: { bytes: number; what: string } | null, source: string): void {
  if (!limit || plan.total <= limit.bytes) return;
  // the longest context that would fit, when the cache is what does not
  const perPosition = plan.kvCache / ctx;
  const room = limit.bytes - (plan.total - plan.kvCache);
  const fits = Math.floor(room / perPosition);
  const hint = fits >= 2 ? `; a context of at most ${fits} would fit (ctx option, --ctx)` : '; the weights alone do not fit';
  throw new MemoryLimitError(
    `${source}: loading needs ${size(plan.total)} (weights ${size(plan.weights)} as placed, KV cache ${size(plan.kvCache)} for a context of ${ctx}, ` +
      `activations ${size(plan.activations)}${plan.base ? `, ${size(plan.base)} in use` : ''}), more than ${limit.what}${hint}`,
    plan.total,
    limit.bytes,
  );
}

/** Bytes as MiB or GiB, two decimals. */
export function size(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}
