// The Llama forward pass over the kernels, on a model descriptor that lies in WASM memory: the
// one implementation a host drives with one call per step (docs/ARCHITECTURE.md, "Two hosts").
// The WASI command (assembly/wasi/) fills the descriptor from a .sqz; the JS host's wasm backend can
// fill the same fields from the weights it placed and call modelForward. Nothing here allocates:
// every buffer is placed by the host before the first call. It mirrors src/model/forward.ts for a
// Llama 2 config (the family fields are refused by the host that fills the descriptor) and
// src/backend/wasm/index.ts's choice of kernel per weight and batch size, so both give the same bits.
import { matvecF32, matmulF32 } from '../dense';
import { f16ToF32, matvecF16, matmulF16 } from '../f16';
import { matvecLut4, matvecLut3, matmulLut4, matmulLut3, dequantLut4, dequantLut3 } from '../lut';
import { spmvCsrAdd, spmmCsrAdd } from '../sparse';
import { matvecUniform, matmulUniform, dequantUniform } from '../uniform';
import { rmsnorm, swiglu, add } from '../ops';
import { attendBlock } from '../attention';

/** Weight kinds of the descriptor. */
export const W_F32: i32 = 0;
export const W_F16: i32 = 1;
export const W_LUT: i32 = 2;
export const W_UNIFORM: i32 = 3;

/**
 * One weight as the kernels read it (field order is the layout a host writes, 4 bytes each on wasm32):
 * f32: data = the values; f16: data = the halves times 2^shift (src/backend/wasm/layout.ts liftHalves);
 * LUT: data = the table's byte planes (layout.ts lutPlanes), indices, bits, and the CSR part
 * (rowPtr 0 = none); uniform: data = scales, indices = zeros, values = the packed values, bits, groupSize.
 */
@unmanaged export class Weight {
  kind: i32 = 0;
  rows: i32 = 0;
  cols: i32 = 0;
  bits: i32 = 0;
  shift: i32 = 0;
  groupSize: i32 = 0;
  data: usize = 0;
  indices: usize = 0;
  values: usize = 0;
  rowPtr: usize = 0;
  colIdx: usize = 0;
  sparseValues: usize = 0;
}

/** Weights per layer in the descriptor's table, in this order. */
export const LAYER_WEIGHTS: i32 = 9;
export const L_ATTN_NORM = 0, L_Q = 1, L_K = 2, L_V = 3, L_O = 4, L_MLP_NORM = 5, L_GATE = 6, L_UP = 7, L_DOWN = 8;

/**
 * A model and its run state: the config, the weights (layers: nLayers * LAYER_WEIGHTS Weight
 * addresses), and every activation buffer for up to `batch` tokens, the KV cache (attention.ts's
 * layout, kvMode / kvResidual as kvCacheBytes was given) and the scratch of attendBlock
 * (attendScratchBytes) and of the quantized matmuls (matmulScratchBytes of the widest input).
 */
@unmanaged export class Model {
  dim: i32 = 0;
  hiddenDim: i32 = 0;
  nLayers: i32 = 0;
  nHeads: i32 = 0;
  nKvHeads: i32 = 0;
  vocabSize: i32 = 0;
  ctx: i32 = 0;
  batch: i32 = 0;
  halfPairs: i32 = 0;
  kvMode: i32 = 0;
  kvResidual: i32 = 0;
  normEps: f32 = 0;
  ropeTheta: f64 = 0;
  embed: usize = 0;
  norm: usize = 0;
  head: usize = 0;
  layers: usize = 0;
  x: usize = 0;
  xb: usize = 0;
  xb2: usize = 0;
  q: usize = 0;
  att: usize = 0;
  hb: usize = 0;
  hb2: usize = 0;
  logits: usize = 0;
  k: usize = 0;
  v: usize = 0;
  kv: usize = 0;
  attendScratch: usize = 0;
  matmulScratch: usize = 0;
}

// @ts-ignore: decorator
@inline function layerWeight(m: Model, l: i32, which: i32): Weight {
  return changetype<Weight>(load<usize>(m.layers + (<usize>(l * LAYER_WEIGHTS + which) << alignof<usize>())));
}

/** Row `row` of a weight as f32 into out (the embedding lookup; the sparse entries of the row added). */
export function embedRow(out: usize, w: Weight, row: i32): void {
  const cols = w.cols;
  if (w.kind == W_F32) memory.copy(out, w.data + (<usize>row * <usize>cols << 2), <usize>cols << 2);
  else if (w.kind == W_F16) f16ToF32(out, w.data + (<usize>row * <usize>cols << 1), cols, w.shift);
  else if (w.kind == W_UNIFORM) dequantUniform(out, w.data, w.indices, w.values, cols, w.groupSize, w.bits, row, row + 1);
  else {
    if (w.bits == 4) dequantLut4(out, w.data, w.indices, cols, row, row + 1);
    else dequantLut3(out, w.data, w.indices, cols, row, row + 1);
    if (w.rowPtr == 0) return;
    const k0 = load<i32>(w.rowPtr + (<usize>row << 2));
    const k1 = load<i32>(w.rowPtr + (<usize>(row + 1) << 2));
    for (let k = k0; k < k1; k++) {
      const at = out + (<usize>load<i32>(w.colIdx + (<usize>k << 2)) << 2);
      store<f32>(at, load<f32>(at) + load<f32>(w.sparseValues + (<usize>k << 2)));
    }
  }
}

/** out [n, rows] = W x for n vectors x [n, cols]: the matvec kernels for one vector, the matmul kernels for more. */
export function product(m: Model, out: usize, w: Weight, x: usize, n: i32): void {
  const rows = w.rows, cols = w.cols;
  const scratch = m.matmulScratch;
  if (w.kind == W_F32) {
    if (n == 1) matvecF32(out, w.data, x, cols, 0, rows);
    else matmulF32(out, w.data, x, rows, cols, n);
  } else if (w.kind == W_F16) {
    if (n == 1) matvecF16(out, w.data, x, cols, 0, rows, w.shift);
    else matmulF16(out, w.data, x, rows, cols, n, 0, rows, scratch, w.shift);
  } else if (w.kind == W_UNIFORM) {
    if (n == 1) matvecUniform(out, w.data, w.indices, w.values, x, cols, w.groupSize, w.bits, 0, rows);
    else matmulUniform(out, w.data, w.indices, w.values, x, rows, cols, n, w.groupSize, w.bits, 0, rows, scratch);
  } else if (n == 1) {
    if (w.bits == 4) matvecLut4(out, w.data, w.indices, x, cols, 0, rows);
    else matvecLut3(out, w.data, w.indices, x, cols, 0, rows);
    if (w.rowPtr != 0) spmvCsrAdd(out, w.rowPtr, w.colIdx, w.sparseValues, x, 0, rows);
  } else {
    if (w.bits == 4) matmulLut4(out, w.data, w.indices, x, rows, cols, n, 0, rows, scratch);
    else matmulLut3(out, w.data, w.indices, x, rows, cols, n, 0, rows, scratch);
    if (w.rowPtr != 0) spmmCsrAdd(out, w.rowPtr, w.colIdx, w.sparseValues, x, rows, cols, n, 0, rows);
  }
}

/**
 * Runs tokens[0..n) (i32 ids at `tokens`; n <= batch, pos + n <= ctx) at positions pos.., filling the
 * KV cache, and returns the address of the last token's logits [vocabSize] f32 (m.logits).
 */
export function modelForward(m: Model, tokens: usize, n: i32, pos: i32): usize {
  const dim = m.dim, hidden = m.hiddenDim;
  const hs = dim / m.nHeads;
  const row = <usize>dim << 2;
  for (let i = 0; i < n; i++) embedRow(m.x + <usize>i * row, changetype<Weight>(m.embed), load<i32>(tokens + (<usize>i << 2)));
  for (let l = 0; l < m.nLayers; l++) {
    const attnNorm = layerWeight(m, l, L_ATTN_NORM);
    for (let i = 0; i < n; i++) rmsnorm(m.xb + <usize>i * row, m.x + <usize>i * row, attnNorm.data, dim, m.normEps);
    product(m, m.q, layerWeight(m, l, L_Q), m.xb, n);
    product(m, m.k, layerWeight(m, l, L_K), m.xb, n);
    product(m, m.v, layerWeight(m, l, L_V), m.xb, n);
    attendBlock(m.att, m.q, m.k, m.v, m.kv, l, pos, n, m.nHeads, m.nKvHeads, hs, m.ctx, m.kvMode, m.kvResidual, m.ropeTheta, m.halfPairs, m.attendScratch, 0, 0, 0); // no per-pair RoPE frequencies, window or soft-cap: the module refuses those families (sqz.ts)
    product(m, m.xb2, layerWeight(m, l, L_O), m.att, n);
    add(m.x, m.x, m.xb2, n * dim);
    const mlpNorm = layerWeight(m, l, L_MLP_NORM);
    for (let i = 0; i < n; i++) rmsnorm(m.xb + <usize>i * row, m.x + <usize>i * row, mlpNorm.data, dim, m.normEps);
    product(m, m.hb, layerWeight(m, l, L_GATE), m.xb, n);
    product(m, m.hb2, layerWeight(m, l, L_UP), m.xb, n);
    swiglu(m.hb, m.hb, m.hb2, n * hidden);
    product(m, m.xb2, layerWeight(m, l, L_DOWN), m.hb, n);
    add(m.x, m.x, m.xb2, n * dim);
  }
  rmsnorm(m.xb, m.x + <usize>(n - 1) * row, changetype<Weight>(m.norm).data, dim, m.normEps);
  product(m, m.logits, changetype<Weight>(m.head), m.xb, 1);
  return m.logits;
}
