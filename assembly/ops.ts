// Elementwise and per-token ops of the forward pass: norm, rotary embedding, softmax, SwiGLU,
// residual add, and single-query attention over the KV cache. Vectors are f32 at byte addresses.
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
  const half = headSize >> 1;
  for (let i = 0; i < half; i++) {
    const angle = <f64>pos * Math.pow(theta, <f64>(-2 * i) / <f64>headSize);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    for (let h = 0; h < n; h += headSize) {
      const a = vec + (<usize>(h + 2 * i) << 2);
      const x0 = <f64>load<f32>(a);
      const x1 = <f64>load<f32>(a, 4);
      store<f32>(a, <f32>(x0 * c - x1 * s));
      store<f32>(a, <f32>(x0 * s + x1 * c), 4);
    }
  }
}

// Rotary position embedding in place, Hugging Face rotate_half style: the pairs (i, i + headSize/2)
// of every head turn by pos * theta^(-2i / headSize). Same arithmetic as ropeInterleaved.
export function ropeHalf(vec: usize, n: i32, headSize: i32, pos: i32, theta: f64): void {
  const half = headSize >> 1;
  const halfBytes = <usize>half << 2;
  for (let i = 0; i < half; i++) {
    const angle = <f64>pos * Math.pow(theta, <f64>(-2 * i) / <f64>headSize);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    for (let h = 0; h < n; h += headSize) {
      const a = vec + (<usize>(h + i) << 2);
      const b = a + halfBytes;
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

// @ts-ignore: decorator
@inline function softmaxInPlace(x: usize, n: i32): void {
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

// Causal attention of one query over nPos cached positions, grouped-query style. q and out are
// [nHeads * headSize]; kCache and vCache are [nPos, kvDim] with kvDim = nKvHeads * headSize; att is
// host scratch of at least nPos f32. Head h reads KV head h / (nHeads / nKvHeads):
//   att[t] = (q_h . k_t) / sqrt(headSize), att = softmax(att), out_h = sum_t att[t] * v_t.
// SIMD dot products for the scores; the weighted V sum runs over positions four at a time,
// accumulating into out_h in SIMD chunks of four floats.
export function attention(out: usize, q: usize, kCache: usize, vCache: usize, att: usize, nHeads: i32, nKvHeads: i32, headSize: i32, nPos: i32): void {
  const kvStride = <usize>(nKvHeads * headSize) << 2;
  const group = nHeads / nKvHeads;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headSize));
  const hs4 = headSize & ~3;
  const headBytes = <usize>headSize << 2;
  const nPos4 = nPos & ~3;
  for (let h = 0; h < nHeads; h++) {
    const qh = q + <usize>h * headBytes;
    const kvOff = <usize>(h / group) * headBytes;
    for (let t = 0; t < nPos; t++) {
      store<f32>(att + (<usize>t << 2), dot(qh, kCache + <usize>t * kvStride + kvOff, headSize) * scale);
    }
    softmaxInPlace(att, nPos);
    const oh = out + <usize>h * headBytes;
    memory.fill(oh, 0, headBytes);
    let t = 0;
    for (; t < nPos4; t += 4) {
      const pa = att + (<usize>t << 2);
      const w0 = load<f32>(pa);
      const w1 = load<f32>(pa, 4);
      const w2 = load<f32>(pa, 8);
      const w3 = load<f32>(pa, 12);
      const va0 = f32x4.splat(w0);
      const va1 = f32x4.splat(w1);
      const va2 = f32x4.splat(w2);
      const va3 = f32x4.splat(w3);
      const v0 = vCache + <usize>t * kvStride + kvOff;
      const v1 = v0 + kvStride;
      const v2 = v1 + kvStride;
      const v3 = v2 + kvStride;
      let i = 0;
      for (; i < hs4; i += 4) {
        const o = <usize>i << 2;
        const s01 = f32x4.add(f32x4.mul(va0, v128.load(v0 + o)), f32x4.mul(va1, v128.load(v1 + o)));
        const s23 = f32x4.add(f32x4.mul(va2, v128.load(v2 + o)), f32x4.mul(va3, v128.load(v3 + o)));
        v128.store(oh + o, f32x4.add(v128.load(oh + o), f32x4.add(s01, s23)));
      }
      for (; i < headSize; i++) {
        const o = <usize>i << 2;
        const s = (w0 * load<f32>(v0 + o) + w1 * load<f32>(v1 + o)) + (w2 * load<f32>(v2 + o) + w3 * load<f32>(v3 + o));
        store<f32>(oh + o, load<f32>(oh + o) + s);
      }
    }
    for (; t < nPos; t++) {
      const w0 = load<f32>(att + (<usize>t << 2));
      const va0 = f32x4.splat(w0);
      const v0 = vCache + <usize>t * kvStride + kvOff;
      let i = 0;
      for (; i < hs4; i += 4) {
        const o = <usize>i << 2;
        v128.store(oh + o, f32x4.add(v128.load(oh + o), f32x4.mul(va0, v128.load(v0 + o))));
      }
      for (; i < headSize; i++) {
        const o = <usize>i << 2;
        store<f32>(oh + o, load<f32>(oh + o) + w0 * load<f32>(v0 + o));
      }
    }
  }
}
