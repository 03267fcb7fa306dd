// The ops some model families add to the Llama 2 block (issue 17), as plain TypeScript over f32
// arrays. They are elementwise or one pass over a vector — a small share of a token's time next to
// the matrix products — so the js and wasm backends both run these on views of their memory.

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

/** v = act(v) in place: an ungated feed-forward's activation (OPT's ReLU). */
export function activation(v: Float32Array, act: 'silu' | 'gelu-tanh' | 'relu'): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    v[i] = act === 'relu' ? Math.max(x, 0) : act === 'gelu-tanh' ? geluTanh(x) : x / (1 + Math.exp(-x));
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

/** Llama 3's RoPE scaling parameters (config.json rope_scaling, rope_type "llama3"). */
export interface Llama3Scaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxSeqLen: number;
}

/**
 * Llama 3's per-pair RoPE frequencies (Transformers' _compute_llama3_parameters): pair i's base
 * frequency theta^(-2i/headSize) is kept when its wavelength 2 pi / f is shorter than
 * originalMaxSeqLen / highFreqFactor, divided by `factor` when longer than originalMaxSeqLen /
 * lowFreqFactor, and between the two blended linearly, in originalMaxSeqLen / wavelength, from
 * divided to kept.
 */
export function llama3Frequencies(headSize: number, theta: number, s: Llama3Scaling): Float64Array {
  const f = new Float64Array(headSize / 2);
  for (let i = 0; i < f.length; i++) {
    const base = Math.pow(theta, (-2 * i) / headSize);
    const wavelength = (2 * Math.PI) / base;
    if (wavelength < s.originalMaxSeqLen / s.highFreqFactor) f[i] = base;
    else if (wavelength > s.originalMaxSeqLen / s.lowFreqFactor) f[i] = base / s.factor;
    else {
      const t = (s.originalMaxSeqLen / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      f[i] = (1 - t) * (base / s.factor) + t * base;
    }
  }
  return f;
}

/** Per-pair frequencies from divisors (GGUF's rope_freqs): theta^(-2i/headSize) / divisors[i]. */
export function dividedFrequencies(headSize: number, theta: number, divisors: readonly number[]): Float64Array {
  return Float64Array.from({ length: headSize / 2 }, (_, i) => Math.pow(theta, (-2 * i) / headSize) / divisors[i]);
}
