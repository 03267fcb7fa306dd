// An independent, deliberately naive f64 Llama forward (written from src/kernels/reference.ts, one
// position at a time, no shared code with tools/fisher) for finite-difference gradient checks.
import { type ModelConfig, headSize, kvDim } from '../../src/model/config.ts';

export type F64Weights = Map<string, Float64Array>;

export function toF64(weights: Map<string, Float32Array>): F64Weights {
  const m: F64Weights = new Map();
  for (const [k, v] of weights) m.set(k, Float64Array.from(v));
  return m;
}

function matvec(w: Float64Array, x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    out[r] = s;
  }
  return out;
}

/** y + b, in place; Qwen2's q/k/v biases and an output-projection bias. */
function addBias(y: Float64Array, b: Float64Array | undefined): Float64Array {
  if (b) for (let i = 0; i < y.length; i++) y[i] += b[i];
  return y;
}

/** RMSNorm scaled by w + offset (Gemma's stored weights are w - 1: offset 1). */
function rmsnorm(x: Float64Array, w: Float64Array, eps: number, offset = 0): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => (w[i] + offset) * v * inv);
}

function rope(vec: Float64Array, hs: number, pos: number, theta: number, style: 'interleaved' | 'half'): void {
  const half = hs / 2;
  for (let h = 0; h < vec.length; h += hs) {
    for (let i = 0; i < half; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / hs);
      const a = style === 'interleaved' ? h + 2 * i : h + i;
      const b = style === 'interleaved' ? a + 1 : a + half;
      const x0 = vec[a];
      const x1 = vec[b];
      vec[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
      vec[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
    }
  }
}

/** Mean next-token cross-entropy of ids, all in f64. */
/** The logits of positions 0 .. T-2 (each predicting the next token). */
export function refLogits(c: ModelConfig, w: F64Weights, ids: number[]): Float64Array[] {
  const D = c.dim;
  const hs = headSize(c);
  const KV = kvDim(c);
  const T = ids.length;
  const get = (n: string) => w.get(n)!;
  let xs: Float64Array[] = ids.map((id) => get('embed').slice(id * D, (id + 1) * D).map((v) => v * (c.embedScale ?? 1)));
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}.`;
    const keys: Float64Array[] = [];
    const vals: Float64Array[] = [];
    const qs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const xn = rmsnorm(xs[t], get(p + 'attn_norm'), c.normEps, c.normOffset);
      const q = addBias(matvec(get(p + 'attn.q'), xn, D, D), c.qkvBias ? get(p + 'attn.q_bias') : undefined);
      const k = addBias(matvec(get(p + 'attn.k'), xn, KV, D), c.qkvBias ? get(p + 'attn.k_bias') : undefined);
      rope(q, hs, t, c.ropeTheta, c.rope);
      rope(k, hs, t, c.ropeTheta, c.rope);
      qs.push(q);
      keys.push(k);
      vals.push(addBias(matvec(get(p + 'attn.v'), xn, KV, D), c.qkvBias ? get(p + 'attn.v_bias') : undefined));
    }
    const group = c.nHeads / c.nKvHeads;
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const att = new Float64Array(D);
      for (let h = 0; h < c.nHeads; h++) {
        const kvh = Math.floor(h / group);
        const scores: number[] = [];
        for (let u = 0; u <= t; u++) {
          let s = 0;
          for (let i = 0; i < hs; i++) s += qs[t][h * hs + i] * keys[u][kvh * hs + i];
          scores.push(s / Math.sqrt(hs));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++) for (let i = 0; i < hs; i++) att[h * hs + i] += (e[u] / z) * vals[u][kvh * hs + i];
      }
      const o = addBias(matvec(get(p + 'attn.o'), att, D, D), c.oBias ? get(p + 'attn.o_bias') : undefined);
      const x1 = xs[t].map((v, i) => v + o[i]);
      const xn = rmsnorm(x1, get(p + 'mlp_norm'), c.normEps, c.normOffset);
      const g = matvec(get(p + 'mlp.gate'), xn, c.hiddenDim, D);
      const u = matvec(get(p + 'mlp.up'), xn, c.hiddenDim, D);
      const hh = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const d = matvec(get(p + 'mlp.down'), hh, D, c.hiddenDim);
      next.push(x1.map((v, i) => v + d[i]));
    }
    xs = next;
  }
  const head = c.tiedEmbeddings ? get('embed') : get('head');
  return xs.slice(0, T - 1).map((x) => matvec(head, rmsnorm(x, get('norm'), c.normEps, c.normOffset), c.vocabSize, D));
}

function logSoftmax(logits: Float64Array): Float64Array {
  const m = Math.max(...logits);
  let z = 0;
  for (const v of logits) z += Math.exp(v - m);
  const lz = Math.log(z) + m;
  return logits.map((v) => v - lz);
}

/** Mean next-token cross-entropy of ids. */
export function refLoss(c: ModelConfig, w: F64Weights, ids: number[]): number {
  const rows = refLogits(c, w, ids);
  return rows.reduce((a, l, t) => a - logSoftmax(l)[ids[t + 1]], 0) / rows.length;
}

/** Mean over positions of KL(softmax(teacher) || softmax(model)). */
export function refKl(c: ModelConfig, w: F64Weights, ids: number[], teacher: Float64Array[]): number {
  const rows = refLogits(c, w, ids);
  let total = 0;
  rows.forEach((l, t) => {
    const lq = logSoftmax(l);
    const lp = logSoftmax(teacher[t]);
    for (let v = 0; v < lq.length; v++) total += Math.exp(lp[v]) * (lp[v] - lq[v]);
  });
  return total / rows.length;
}
