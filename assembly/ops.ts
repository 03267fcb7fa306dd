// Elementwise and per-token ops of the forward pass: norm, rotary embedding, softmax, SwiGLU,
// residual add. Vectors are f32 at byte addresses. Attention and the KV cache are in attention.ts.
import { dot, exp4, hsum } from './simd';

// out[i] = weight[i] * (x[i] / sqrt(mean(x^2) + eps)) for 0 <= i < n; out may equal x.
// SIMD sum of squares (two accumulators), the scale computed in f64, SIMD scaling.
export function rmsnorm(out: usize, x: usize, weight: usize, n: i32, eps: f32): void {
  const ss = dot(x, x, n);
  const inv = <f32>(1.0 / Math.sqrt(<f64>ss / <f64>n + <f64>eps));
  const vinv = f32x4.splat(inv);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(weight + o), f32x4.mul(v128.load(x + o), vinv)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(weight + o) * (load<f32>(x + o) * inv));
  }
}

// Rotary position embedding in place over n = heads * headSize floats, llama2.c / GGUF style: the
// pairs (2i, 2i + 1) of every head turn by pos * theta^(-2i / headSize). Angle, cos and sin in f64,
// once per pair index for all heads; the rotation in f64, stored as f32.
export function ropeInterleaved(vec: usize, n: i32, headSize: i32, pos: i32, theta: f64): void {
  rope(vec, n, headSize, pos, theta, 0, false);
}

// Rotary position embedding in place, Hugging Face rotate_half style: the pairs (i, i + headSize/2)
// of every head turn by pos * theta^(-2i / headSize). Same arithmetic as ropeInterleaved.
export function ropeHalf(vec: usize, n: i32, headSize: i32, pos: i32, theta: f64): void {
  rope(vec, n, headSize, pos, theta, 0, true);
}

// Both RoPE pairings: pair i turns by pos * freq_i, where freq_i is theta^(-2i / headSize), or
// freqs[i] (f64, headSize / 2 of them) when freqs is not 0: a model's own per-pair frequencies
// (Llama 3's scaling, GGUF's rope_freqs), computed by the host (src/kernels/family.ts ropeFrequencies).
export function rope(vec: usize, n: i32, headSize: i32, pos: i32, theta: f64, freqs: usize, halfPairs: bool): void {
  const half = headSize >> 1;
  const second: usize = halfPairs ? <usize>half << 2 : 4;
  for (let i = 0; i < half; i++) {
    const freq = freqs ? load<f64>(freqs + (<usize>i << 3)) : Math.pow(theta, <f64>(-2 * i) / <f64>headSize);
    const angle = <f64>pos * freq;
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    for (let h = 0; h < n; h += headSize) {
      const a = vec + (<usize>(h + (halfPairs ? i : 2 * i)) << 2);
      const b = a + second;
      const x0 = <f64>load<f32>(a);
      const x1 = <f64>load<f32>(b);
      store<f32>(a, <f32>(x0 * c - x1 * s));
      store<f32>(b, <f32>(x0 * s + x1 * c));
    }
  }
}

// x[i] = e^(x[i] - max) / sum_j e^(x[j] - max) in place, 0 <= i < n (max-subtracted, so large
// magnitudes do not overflow). SIMD max, SIMD exp (simd.ts exp4) and sum, SIMD scaling.
export function softmax(x: usize, n: i32): void {
  softmaxInPlace(x, n);
}

// (inlined here and in attention.ts)
// @ts-ignore: decorator
@inline export function softmaxInPlace(x: usize, n: i32): void {
  const n4 = n & ~3;
  let vmax = f32x4.splat(-Infinity);
  let i = 0;
  for (; i < n4; i += 4) vmax = f32x4.max(vmax, v128.load(x + (<usize>i << 2)));
  let m = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; i < n; i++) m = max(m, load<f32>(x + (<usize>i << 2)));
  const vm = f32x4.splat(m);
  let vsum = f32x4.splat(0);
  for (i = 0; i < n4; i += 4) {
    const p = x + (<usize>i << 2);
    const e = exp4(f32x4.sub(v128.load(p), vm));
    v128.store(p, e);
    vsum = f32x4.add(vsum, e);
  }
  let sum = hsum(vsum);
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const e = <f32>Math.exp(<f64>(load<f32>(p) - m));
    store<f32>(p, e);
    sum += e;
  }
  const inv: f32 = 1 / sum;
  const vinv = f32x4.splat(inv);
  for (i = 0; i < n4; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), vinv));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * inv);
  }
}

// out[i] = silu(gate[i]) * up[i] with silu(g) = g / (1 + e^-g), 0 <= i < n. SIMD (exp4).
export function swiglu(out: usize, gate: usize, up: usize, n: i32): void {
  const n4 = n & ~3;
  const one = f32x4.splat(1);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const e = exp4(f32x4.neg(g));
    v128.store(out + o, f32x4.mul(f32x4.div(g, f32x4.add(one, e)), v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, <f32>(<f64>g / (1.0 + Math.exp(-<f64>g))) * load<f32>(up + o));
  }
}

// out[i] = a[i] + b[i], 0 <= i < n (residual connections; out may equal a or b). SIMD.
export function add(out: usize, a: usize, b: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}
