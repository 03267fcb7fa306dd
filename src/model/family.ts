// Which of a backend's optional family ops (src/backend/types.ts) a config needs, checked when a
// model loads so that a backend running only the Llama 2 block refuses a Qwen2 or Gemma model at
// once, with one line, instead of failing inside the first forward pass.
import type { Backend } from '../backend/types.ts';
import { dequantize, type TensorRecord } from '../format/kinds.ts';
import { UnsupportedError } from '../util/errors.ts';
import { type ModelConfig, resolveFamily } from './config.ts';

type FamilyOp = 'addBias' | 'scale' | 'softcap' | 'gatedActivation' | 'activation' | 'layernorm';

/** The optional backend ops the config's forward pass calls, each with the field that calls it. */
export function familyOpsNeeded(c: ModelConfig): Array<[FamilyOp, string]> {
  const f = resolveFamily(c);
  const ops: Array<[FamilyOp, string]> = [];
  if (f.qkvBias || f.oBias) ops.push(['addBias', 'attention biases']);
  if (f.mlpBias || f.normBias) ops.push(['addBias', 'feed-forward or norm biases']);
  if (f.embedScale !== 1) ops.push(['scale', `embedding scale ${f.embedScale}`]);
  if (f.logitSoftcap) ops.push(['softcap', `logit soft-cap ${f.logitSoftcap}`]);
  if (f.gated && f.activation !== 'silu') ops.push(['gatedActivation', `the ${f.activation} activation`]);
  if (!f.gated) ops.push(['activation', `an ungated ${f.activation} feed-forward`]);
  if (f.normKind === 'layer') ops.push(['layernorm', 'LayerNorm']);
  return ops;
}

/**
 * Throws UnsupportedError naming `source` and the first family op the backend lacks, or what its
 * attend() (one call per layer: RoPE, the cache write and attention) does not take without
 * attendExtras: RoPE scaling, a sliding window shorter than the context `ctx`, an attention soft-cap.
 */
export function checkBackendOps(c: ModelConfig, b: Backend, source: string, ctx: number): void {
  const f = resolveFamily(c);
  const extra = f.ropeScaling ? `${f.ropeScaling.kind} RoPE scaling` : f.slidingWindow && f.slidingWindow < ctx ? `a sliding window of ${f.slidingWindow} positions` : f.attnSoftcap ? 'an attention soft-cap' : undefined;
  if (extra && !b.attendExtras) {
    const hint = f.ropeScaling || f.attnSoftcap ? '' : ` or load with a context of at most ${f.slidingWindow} (ctx option, --ctx)`;
    throw new UnsupportedError(`${source}: the ${b.name} backend's attention cannot run ${extra}; use --backend wasm${hint}`);
  }
  for (const [op, why] of familyOpsNeeded(c)) {
    if (typeof b[op] !== 'function') throw new UnsupportedError(`${source}: the ${b.name} backend cannot run ${why} (it runs the Llama 2 block only); use --backend wasm`);
  }
}

const NORM_NAME = /^(layers\.\d+\.(attn_norm|mlp_norm|attn_post_norm|mlp_post_norm)|norm)$/;

/**
 * A norm weight with the config's normOffset added (Gemma's w + 1), so the norm kernels scale by the
 * weight as they are: the offset is folded in once, at load. Other records pass through.
 */
export function withNormOffset(rec: TensorRecord, c: ModelConfig): TensorRecord {
  if (!c.normOffset || !NORM_NAME.test(rec.name)) return rec;
  return { name: rec.name, kind: 'f32', shape: rec.shape, data: normValues(rec.name, rec.kind === 'f32' ? rec.data : dequantize(rec), c) };
}

/** The values of tensor `name` as the norm kernels take them: a norm's with normOffset added (a copy), any other as given. */
export function normValues(name: string, data: Float32Array, c: ModelConfig): Float32Array {
  if (!c.normOffset || !NORM_NAME.test(name)) return data;
  const out = data.slice();
  for (let i = 0; i < out.length; i++) out[i] += c.normOffset;
  return out;
}
