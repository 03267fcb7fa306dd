// The ops some model families add to the Llama 2 block (issue 17), as plain TypeScript over f32
// arrays. They are elementwise or one pass over a vector — a small share of a token's time next to
// the matrix products — so the js and wasm backends both run these on views of their memory.
import type { RopeStyle } from './reference.ts';
import type { RopeScaling } from '../model/config.ts';

/** v[r * bias.length + i] += bias[i] for every row r of v (a bias over a batch of rows). */
export function addBias(v: Float32Array, bias: Float32Array): void {
  const w = bias.length;
  for (let off = 0; off < v.length; off += w) for (let i = 0; i < w; i++) v[off + i] += bias[i];
}

/** v *= s. */
export function scale(v: Float32Array, s: number): void {
  for (let i = 0; i < v.length; i++) v[i] *= s;
}

/** v = cap * tanh(v / cap): Gemma 2's soft-cap, near v for |v| << cap and bounded by cap. */
export function softcap(v: Float32Array, cap: number): void {
  for (let i = 0; i < v.length; i++) v[i] = cap * Math.tanh(v[i] / cap);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU by its tanh approximation (Gemma's "gelu_pytorch_tanh"). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

/** out = act(gate) * up for the activations the reference swiglu does not cover. */
export function gatedActivation(out: Float32Array, gate: Float32Array, up: Float32Array, act: 'gelu-tanh' | 'relu'): void {
  for (let i = 0; i < out.length; i++) {
    const g = gate[i];
    out[i] = (act === 'relu' ? Math.max(g, 0) : geluTanh(g)) * up[i];
  }
}

/** LayerNorm without bias: out = (x - mean) * weight / sqrt(var + eps). */
export function layernorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number): void {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) * (x[i] - mean);
  const inv = 1 / Math.sqrt(v / n + eps);
  for (let i = 0; i < n; i++) out[i] = weight[i] * ((x[i] - mean) * inv);
}

/**
 * The inverse frequency of each RoPE pair i < headSize/2: theta^(-2i/headSize), then Llama 3's
 * scaling when given. A pair whose wavelength (2 pi / frequency) is shorter than
 * originalMaxSeqLen / highFreqFactor is kept, one longer than originalMaxSeqLen / lowFreqFactor
 * is slowed by `factor`, and between the two the frequency blends linearly (in
 * originalMaxSeqLen / wavelength) from slowed to kept.
 */
export function ropeInvFreqs(headSize: number, theta: number, scaling: RopeScaling | undefined): Float64Array {
  const half = headSize / 2;
  const f = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const base = Math.pow(theta, (-2 * i) / headSize);
    if (!scaling) {
      f[i] = base;
      continue;
    }
    const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxSeqLen: ctx } = scaling;
    const wavelength = (2 * Math.PI) / base;
    if (wavelength < ctx / hi) f[i] = base;
    else if (wavelength > ctx / lo) f[i] = base / factor;
    else {
      const t = (ctx / wavelength - lo) / (hi - lo);
      f[i] = (1 - t) * (base / factor) + t * base;
    }
  }
  return f;
}

/** RoPE in place over a vector of heads with the given per-pair inverse frequencies (pairing as reference.rope). */
export function ropeWithFreqs(vec: Float32Array, headSize: number, pos: number, invFreq: Float64Array, style: RopeStyle): void {
  const half = headSize / 2;
  for (let h = 0; h < vec.length; h += headSize) {
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i];
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const a = style === 'interleaved' ? h + 2 * i : h + i;
      const b = style === 'interleaved' ? a + 1 : a + half;
      const x0 = vec[a];
      const x1 = vec[b];
      vec[a] = x0 * cos - x1 * sin;
      vec[b] = x0 * sin + x1 * cos;
    }
  }
}
