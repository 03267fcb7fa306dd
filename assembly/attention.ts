// The KV cache and the attention block of one layer: RoPE, the cache write and causal grouped-query
// attention for a batch of consecutive tokens in one call. The reference is src/kernels/attention.ts
// (RefKvCache); docs/KVCACHE.md and docs/KERNELS.md describe the layout and the kinds.
//
// Layout: the cache is one block; per layer, per KV head one region, so one head's keys are one
// contiguous stream of positions. A region holds, by mode:
//   KV_F32 (0): keys [ctx, hs] f32, values [ctx, hs] f32
//   KV_F16 (1): keys [ctx, hs] f16, values [ctx, hs] f16 (kvHalfBits: subnormals flushed, saturated)
//   bits 8/4/2 (KIVI): key codes [ctx, rowBytes], value codes [ctx, rowBytes], key params per group of
//     KV_GROUP positions [scale[hsPad], zero[hsPad]] f32, value scales [ctx] f32 and zeros [ctx] f32,
//     then the f16 window of `residual` positions: keys [residual, hs], values [residual, hs].
// A code row packs 128 / bits channels per 16 bytes: byte j of a chunk holds channel s·16 + j of the
// chunk in bits [s·bits, (s+1)·bits), so one 16-bit shift and a mask give 16 channels in order.
import { high16High, high16Low } from './f16';
import { rope, softmaxInPlace } from './ops';
import { hsum } from './simd';

const KV_F32 = 0;
const KV_F16 = 1;
const KV_GROUP = 32;
// Positions of the quantized value sum per int16 weight step: a pair of positions adds at most
// 2 * 32767 * 255 to an i32 lane, so 128 pairs never overflow (a multiple of KV_GROUP).
const VALUE_BLOCK = 256;

// f16 bits as the cache reads them: h << 16 shifted right by 3 with the sign and masked is the f32
// whose value is the half's times 2^-112 (exact for the normal halves the cache holds); the
// scores fold 2^100 into q and 2^12 into the scale, the value sums 2^112 into the weights.
const Q_LIFT: f32 = 1.2676506002282294e30; // 2^100
const SCORE_LIFT: f32 = 4096; // 2^12
const P_LIFT: f32 = 5.192296858534828e33; // 2^112
// Weights below this add nothing an f32 sum keeps (against the largest, 1/n or more), and skipping
// them keeps subnormal products out of the value sums.
const P_TINY: f32 = 8.673617379884035e-19; // 2^-60

// @ts-ignore: decorator
@inline function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

// Channels in one 16-byte chunk of a code row.
// @ts-ignore: decorator
@inline function chunkChannels(bits: i32): i32 {
  return 128 / bits;
}

// @ts-ignore: decorator
@inline function chunks(hs: i32, bits: i32): i32 {
  return (hs + chunkChannels(bits) - 1) / chunkChannels(bits);
}

// Offsets of the quantized region's sections, from its start.
// @ts-ignore: decorator
@inline function rowBytes(hs: i32, bits: i32): usize {
  return <usize>chunks(hs, bits) << 4;
}
// @ts-ignore: decorator
@inline function hsPad(hs: i32, bits: i32): i32 {
  return chunks(hs, bits) * chunkChannels(bits);
}
// @ts-ignore: decorator
@inline function valueCodesAt(hs: i32, ctx: i32, bits: i32): usize {
  return align16(<usize>ctx * rowBytes(hs, bits));
}
// @ts-ignore: decorator
@inline function keyParamsAt(hs: i32, ctx: i32, bits: i32): usize {
  return valueCodesAt(hs, ctx, bits) * 2;
}
// @ts-ignore: decorator
@inline function valueParamsAt(hs: i32, ctx: i32, bits: i32): usize {
  const groups = <usize>((ctx + KV_GROUP - 1) / KV_GROUP);
  return keyParamsAt(hs, ctx, bits) + groups * (<usize>hsPad(hs, bits) << 3);
}
// value parameters: scales [ctx] f32, then zeros [ctx] f32 at valueZerosAt
// @ts-ignore: decorator
@inline function valueZerosAt(hs: i32, ctx: i32, bits: i32): usize {
  return valueParamsAt(hs, ctx, bits) + align16(<usize>ctx << 2);
}
// @ts-ignore: decorator
@inline function windowKeysAt(hs: i32, ctx: i32, bits: i32): usize {
  return valueZerosAt(hs, ctx, bits) + align16(<usize>ctx << 2);
}
// @ts-ignore: decorator
@inline function windowValuesAt(hs: i32, ctx: i32, bits: i32, residual: i32): usize {
  return windowKeysAt(hs, ctx, bits) + align16(<usize>(residual * hs) << 1);
}

function regionBytes(mode: i32, hs: i32, ctx: i32, residual: i32): usize {
  const n = <usize>ctx * <usize>hs;
  if (mode == KV_F32) return align16(n << 2) * 2;
  if (mode == KV_F16) return align16(n << 1) * 2;
  return windowValuesAt(hs, ctx, mode, residual) + align16(<usize>(residual * hs) << 1);
}

// Bytes of a cache (f64: the host checks it fits before placing it).
export function kvCacheBytes(layers: i32, nKvHeads: i32, headSize: i32, ctx: i32, mode: i32, residual: i32): f64 {
  return <f64>layers * <f64>nKvHeads * <f64>regionBytes(mode, headSize, ctx, residual);
}

// Bytes of scratch attendBlock needs (attendHead's layout).
export function attendScratchBytes(headSize: i32, ctx: i32): usize {
  return align16(<usize>ctx << 2) + (<usize>roundHs(headSize) << 4) + (<usize>(VALUE_BLOCK * 6));
}

// headSize rounded up to 64 channels (the widest code chunk).
// @ts-ignore: decorator
@inline function roundHs(hs: i32): i32 {
  return (hs + 63) & ~63;
}

// The f16 bits the cache stores for x (as src/kernels/attention.ts kvHalfBits).
// @ts-ignore: decorator
@inline function kvHalfBits(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a < 0x38800000) return sign;
  if (a >= 0x477ff000) return sign | 0x7bff;
  const e = a - 0x38000000;
  return sign | ((e + 0xfff + ((e >> 13) & 1)) >> 13);
}

// The value of a half the cache holds (normal, zero or NaN), exactly.
// @ts-ignore: decorator
@inline function cachedHalf(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  if ((h & 0x7fff) == 0) return reinterpret<f32>(sign);
  if ((h & 0x7c00) == 0x7c00) return reinterpret<f32>(sign | 0x7fc00000);
  return reinterpret<f32>(sign | (((h & 0x7fff) << 13) + 0x38000000));
}

// The half at p as the SIMD reads see it (value times 2^-112), scalar.
// @ts-ignore: decorator
@inline function liftedHalf(p: usize): f32 {
  return reinterpret<f32>(((<i32>load<u16>(p) << 16) >> 3) & <i32>0x8fffe000);
}

// Four halves as h << 16 lanes, read as f32 values times 2^-112.
// @ts-ignore: decorator
@inline function lifted4(s: v128): v128 {
  return v128.and(i32x4.shr_s(s, 3), i32x4.splat(0x8fffe000));
}

// kvHalfBits of 4 lanes, in the low 16 bits of each.
// @ts-ignore: decorator
@inline function kvHalfBits4(b: v128): v128 {
  const sign = v128.and(i32x4.shr_u(b, 16), i32x4.splat(0x8000));
  const a = v128.and(b, i32x4.splat(0x7fffffff));
  const e = i32x4.sub(a, i32x4.splat(0x38000000));
  const odd = v128.and(i32x4.shr_u(e, 13), i32x4.splat(1));
  let r = i32x4.shr_u(i32x4.add(i32x4.add(e, i32x4.splat(0xfff)), odd), 13);
  r = v128.andnot(r, i32x4.lt_s(a, i32x4.splat(0x38800000)));
  r = v128.bitselect(i32x4.splat(0x7bff), r, i32x4.ge_s(a, i32x4.splat(0x477ff000)));
  r = v128.bitselect(i32x4.splat(0x7e00), r, i32x4.gt_s(a, i32x4.splat(0x7f800000)));
  return v128.or(sign, r);
}

// dst[0..n) = f16 of src[0..n) (f32), 8 at a time.
function storeHalves(dst: usize, src: usize, n: i32): void {
  const n8 = n & ~7;
  let c = 0;
  for (; c < n8; c += 8) {
    const p = src + (<usize>c << 2);
    v128.store(dst + (<usize>c << 1), i16x8.narrow_i32x4_u(kvHalfBits4(v128.load(p)), kvHalfBits4(v128.load(p, 16))));
  }
  for (; c < n; c++) store<u16>(dst + (<usize>c << 1), <u16>kvHalfBits(load<f32>(src + (<usize>c << 2))));
}

// Channels c..c+3 (second: c+4..c+7) of a row of values: f32 as they are, f16 lifted (times 2^-112).
// @ts-ignore: decorator
@inline function four(row: usize, c: i32, half: bool, second: bool): v128 {
  if (!half) return v128.load(row + (<usize>c << 2) + (second ? 16 : 0));
  const h = v128.load(row + (<usize>c << 1));
  return lifted4(second ? high16High(h) : high16Low(h));
}

// @ts-ignore: decorator
@inline function one(row: usize, c: i32, half: bool): f32 {
  return half ? liftedHalf(row + (<usize>c << 1)) : load<f32>(row + (<usize>c << 2));
}

// att[t] = (ql . k_t) * scale for the keys k_t at keys (rows of hs f32, or f16 when half: then ql
// is q * 2^100 and scale carries 2^12), 0 <= t < n; four positions at a time, so each chunk of ql is
// loaded once for four and one transposed reduction makes their four scores. Inlined per element type.
// @ts-ignore: decorator
@inline function scoresPlain(att: usize, ql: usize, keys: usize, n: i32, hs: i32, scale: f32, half: bool): void {
  const hs8 = hs & ~7;
  const rowB = <usize>hs << (half ? 1 : 2);
  const n4 = n & ~3;
  const vscale = f32x4.splat(scale);
  let t = 0;
  for (; t < n4; t += 4) {
    const r0 = keys + <usize>t * rowB;
    const r1 = r0 + rowB;
    const r2 = r1 + rowB;
    const r3 = r2 + rowB;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let c = 0;
    for (; c < hs8; c += 8) {
      const qp = ql + (<usize>c << 2);
      const q0 = v128.load(qp);
      const q1 = v128.load(qp, 16);
      a0 = f32x4.add(a0, f32x4.add(f32x4.mul(four(r0, c, half, false), q0), f32x4.mul(four(r0, c, half, true), q1)));
      a1 = f32x4.add(a1, f32x4.add(f32x4.mul(four(r1, c, half, false), q0), f32x4.mul(four(r1, c, half, true), q1)));
      a2 = f32x4.add(a2, f32x4.add(f32x4.mul(four(r2, c, half, false), q0), f32x4.mul(four(r2, c, half, true), q1)));
      a3 = f32x4.add(a3, f32x4.add(f32x4.mul(four(r3, c, half, false), q0), f32x4.mul(four(r3, c, half, true), q1)));
    }
    const pa = att + (<usize>t << 2);
    v128.store(pa, f32x4.mul(sums4(a0, a1, a2, a3, true), vscale));
    for (; c < hs; c++) {
      const qc = load<f32>(ql + (<usize>c << 2)) * scale;
      store<f32>(pa, load<f32>(pa) + one(r0, c, half) * qc);
      store<f32>(pa, load<f32>(pa, 4) + one(r1, c, half) * qc, 4);
      store<f32>(pa, load<f32>(pa, 8) + one(r2, c, half) * qc, 8);
      store<f32>(pa, load<f32>(pa, 12) + one(r3, c, half) * qc, 12);
    }
  }
  for (; t < n; t++) {
    const r0 = keys + <usize>t * rowB;
    let a0 = f32x4.splat(0);
    let c = 0;
    for (; c < hs8; c += 8) {
      const qp = ql + (<usize>c << 2);
      a0 = f32x4.add(a0, f32x4.add(f32x4.mul(four(r0, c, half, false), v128.load(qp)), f32x4.mul(four(r0, c, half, true), v128.load(qp, 16))));
    }
    let sc = hsum(a0);
    for (; c < hs; c++) sc += one(r0, c, half) * load<f32>(ql + (<usize>c << 2));
    store<f32>(att + (<usize>t << 2), sc * scale);
  }
}

// A softmax weight as the value sums take it: f16 values are lifted, so times 2^112, and weights
// below P_TINY are 0 there (no subnormal products).
// @ts-ignore: decorator
@inline function weightOf(p: f32, half: bool): f32 {
  if (!half) return p;
  return p < P_TINY ? 0 : p * P_LIFT;
}

// acc[0..hs) += sum_t att[t] * v_t over the values v_t at vals (rows of hs f32, or f16 when half),
// 0 <= t < n, four positions at a time. Inlined per element type.
// @ts-ignore: decorator
@inline function valuesPlain(acc: usize, att: usize, vals: usize, n: i32, hs: i32, half: bool): void {
  const hs8 = hs & ~7;
  const rowB = <usize>hs << (half ? 1 : 2);
  const n4 = n & ~3;
  let t = 0;
  for (; t < n4; t += 4) {
    const pa = att + (<usize>t << 2);
    const w0 = weightOf(load<f32>(pa), half);
    const w1 = weightOf(load<f32>(pa, 4), half);
    const w2 = weightOf(load<f32>(pa, 8), half);
    const w3 = weightOf(load<f32>(pa, 12), half);
    const s0 = f32x4.splat(w0);
    const s1 = f32x4.splat(w1);
    const s2 = f32x4.splat(w2);
    const s3 = f32x4.splat(w3);
    const r0 = vals + <usize>t * rowB;
    const r1 = r0 + rowB;
    const r2 = r1 + rowB;
    const r3 = r2 + rowB;
    let c = 0;
    for (; c < hs8; c += 8) {
      const lo = f32x4.add(
        f32x4.add(f32x4.mul(s0, four(r0, c, half, false)), f32x4.mul(s1, four(r1, c, half, false))),
        f32x4.add(f32x4.mul(s2, four(r2, c, half, false)), f32x4.mul(s3, four(r3, c, half, false))),
      );
      const hi = f32x4.add(
        f32x4.add(f32x4.mul(s0, four(r0, c, half, true)), f32x4.mul(s1, four(r1, c, half, true))),
        f32x4.add(f32x4.mul(s2, four(r2, c, half, true)), f32x4.mul(s3, four(r3, c, half, true))),
      );
      const ap = acc + (<usize>c << 2);
      v128.store(ap, f32x4.add(v128.load(ap), lo));
      v128.store(ap, f32x4.add(v128.load(ap, 16), hi), 16);
    }
    for (; c < hs; c++) {
      const s = (w0 * one(r0, c, half) + w1 * one(r1, c, half)) + (w2 * one(r2, c, half) + w3 * one(r3, c, half));
      const ap = acc + (<usize>c << 2);
      store<f32>(ap, load<f32>(ap) + s);
    }
  }
  for (; t < n; t++) {
    const w = weightOf(load<f32>(att + (<usize>t << 2)), half);
    if (w == 0) continue;
    const s0 = f32x4.splat(w);
    const r0 = vals + <usize>t * rowB;
    let c = 0;
    for (; c < hs8; c += 8) {
      const ap = acc + (<usize>c << 2);
      v128.store(ap, f32x4.add(v128.load(ap), f32x4.mul(s0, four(r0, c, half, false))));
      v128.store(ap, f32x4.add(v128.load(ap, 16), f32x4.mul(s0, four(r0, c, half, true))), 16);
    }
    for (; c < hs; c++) {
      const ap = acc + (<usize>c << 2);
      store<f32>(ap, load<f32>(ap) + w * one(r0, c, half));
    }
  }
}

// Codes s·16 .. s·16+15 of a 16-byte chunk v as u8 lanes.
// @ts-ignore: decorator
@inline function subCodes(v: v128, s: i32, bits: i32): v128 {
  if (bits == 8) return v;
  const m: i32 = (1 << bits) - 1;
  const mask = i8x16.splat(<i8>m);
  return v128.and(i16x8.shr_u(v, <i32>(s * bits)), mask);
}

// The codes s·16 .. s·16+15 of the 16-byte chunk at p.
// @ts-ignore: decorator
@inline function codesAt(p: usize, s: i32, bits: i32): v128 {
  return subCodes(v128.load(p), s, bits);
}

// w[0..n) as int16 at dst, nearest(w / step) with step = max|w| / 32767 (returned; 0 when all are 0).
function toInt16(dst: usize, w: usize, n: i32): f32 {
  const n8 = n & ~7;
  let vm = f32x4.splat(0);
  let i = 0;
  for (; i < n8; i += 4) vm = f32x4.max(vm, f32x4.abs(v128.load(w + (<usize>i << 2))));
  let m = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  for (; i < n; i++) m = max(m, abs(load<f32>(w + (<usize>i << 2))));
  if (m == 0) {
    memory.fill(dst, 0, <usize>n << 1);
    return 0;
  }
  const step = m / 32767;
  const inv = <f32>1 / step;
  const vinv = f32x4.splat(inv);
  for (i = 0; i < n8; i += 8) {
    const p = w + (<usize>i << 2);
    const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), vinv)));
    const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), vinv)));
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_s(a, b));
  }
  for (; i < n; i++) store<i16>(dst + (<usize>i << 1), <i16>nearest(load<f32>(w + (<usize>i << 2)) * inv));
  return step;
}

// The four lane sums of a, b, c, d as one vector (f32 lanes, or i32 when not float).
// @ts-ignore: decorator
@inline function sums4(a: v128, b: v128, c: v128, d: v128, float: bool): v128 {
  const x = v128.shuffle<i32>(a, b, 0, 1, 4, 5);
  const y = v128.shuffle<i32>(a, b, 2, 3, 6, 7);
  const z = v128.shuffle<i32>(c, d, 0, 1, 4, 5);
  const w = v128.shuffle<i32>(c, d, 2, 3, 6, 7);
  const ab = float ? f32x4.add(x, y) : i32x4.add(x, y);
  const cd = float ? f32x4.add(z, w) : i32x4.add(z, w);
  const e = v128.shuffle<i32>(ab, cd, 0, 2, 4, 6);
  const f = v128.shuffle<i32>(ab, cd, 1, 3, 5, 7);
  return float ? f32x4.add(e, f) : i32x4.add(e, f);
}

// att[t] = (q . k_t) * scale for the quantized positions 0 <= t < nq (a multiple of KV_GROUP): per
// group, qs = q * scale_c (0 past hs) as int16 with one step, and bias = q . zero; per position the
// codes are dotted with qs in i32 (exact: at most hs/4 products of 32767 * 255 per lane) and
// scaled back. qs: 64-channel-rounded hs f32, qi as many int16.
// (Inlined where it is called with bits a constant, so the unpacking, the chunk arithmetic and the
// loop over a chunk's sub-codes are specialized per kind.)
// @ts-ignore: decorator
@inline function scoresQuant(att: usize, q: usize, qs: usize, qi: usize, region: usize, nq: i32, hs: i32, ctx: i32, bits: i32, scale: f32): void {
  const nCh = chunks(hs, bits);
  const pad = hsPad(hs, bits);
  const rowB = rowBytes(hs, bits);
  const subs = 8 / bits;
  const params = region + keyParamsAt(hs, ctx, bits);
  const paramB = <usize>pad << 3;
  const hs4 = hs & ~3;
  const vscale = f32x4.splat(scale);
  for (let g = 0; g < nq / KV_GROUP; g++) {
    const ks = params + <usize>g * paramB;
    const kz = ks + (<usize>pad << 2);
    let vb = f32x4.splat(0);
    let c = 0;
    for (; c < hs4; c += 4) {
      const o = <usize>c << 2;
      const qv = v128.load(q + o);
      v128.store(qs + o, f32x4.mul(qv, v128.load(ks + o)));
      vb = f32x4.add(vb, f32x4.mul(qv, v128.load(kz + o)));
    }
    let bias = hsum(vb);
    for (; c < hs; c++) {
      const qc = load<f32>(q + (<usize>c << 2));
      store<f32>(qs + (<usize>c << 2), qc * load<f32>(ks + (<usize>c << 2)));
      bias += qc * load<f32>(kz + (<usize>c << 2));
    }
    for (; c < pad; c++) store<f32>(qs + (<usize>c << 2), 0);
    const step = f32x4.splat(toInt16(qi, qs, pad));
    const vbias = f32x4.splat(bias);
    // four positions at a time: each weight chunk is loaded once for the four
    for (let i = 0; i < KV_GROUP; i += 4) {
      const t = g * KV_GROUP + i;
      const r0 = region + <usize>t * rowB;
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      for (let ch = 0; ch < nCh; ch++) {
        const p = r0 + (<usize>ch << 4);
        const wp = qi + (<usize>(ch * chunkChannels(bits)) << 1);
        for (let s = 0; s < subs; s++) {
          const wl = v128.load(wp + (<usize>s << 5));
          const wh = v128.load(wp + (<usize>s << 5), 16);
          const u0 = codesAt(p, s, bits);
          const u1 = codesAt(p + rowB, s, bits);
          const u2 = codesAt(p + 2 * rowB, s, bits);
          const u3 = codesAt(p + 3 * rowB, s, bits);
          a0 = i32x4.add(a0, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u0), wl), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u0), wh)));
          a1 = i32x4.add(a1, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u1), wl), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u1), wh)));
          a2 = i32x4.add(a2, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u2), wl), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u2), wh)));
          a3 = i32x4.add(a3, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u3), wl), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u3), wh)));
        }
      }
      const sc = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(sums4(a0, a1, a2, a3, false)), step), vbias);
      v128.store(att + (<usize>t << 2), f32x4.mul(sc, vscale));
    }
  }
}

// acc[0..pad) += sum_t (att[t] * scale_t) * codes_t over the quantized positions 0 <= t < nq;
// returns sum_t att[t] * zero_t, which every channel adds. Per block of positions the weights
// att[t] * scale_t become int16 with one step; two positions' codes are interleaved byte by byte so
// that one i32x4.dot_i16x8_s multiplies both by their weights and adds them, into i32 sums (accI,
// pad i32) scaled into acc at the end of the block. w: scratch of valueBlock f32, wi as many int16.
// (Inlined per kind, as scoresQuant.)
// @ts-ignore: decorator
@inline function valuesQuant(acc: usize, accI: usize, w: usize, wi: usize, att: usize, region: usize, nq: i32, hs: i32, ctx: i32, bits: i32): f32 {
  const nCh = chunks(hs, bits);
  const pad = hsPad(hs, bits);
  const rowB = rowBytes(hs, bits);
  const subs = 8 / bits;
  const codes = region + valueCodesAt(hs, ctx, bits);
  const scales = region + valueParamsAt(hs, ctx, bits);
  const zeros = region + valueZerosAt(hs, ctx, bits);
  let vb = f32x4.splat(0);
  for (let t0 = 0; t0 < nq; t0 += VALUE_BLOCK) {
    const n = min(VALUE_BLOCK, nq - t0);
    // nq and VALUE_BLOCK are multiples of KV_GROUP, so n is a multiple of 4
    for (let i = 0; i < n; i += 4) {
      const o = <usize>(t0 + i) << 2;
      const p = v128.load(att + o);
      vb = f32x4.add(vb, f32x4.mul(p, v128.load(zeros + o)));
      v128.store(w + (<usize>i << 2), f32x4.mul(p, v128.load(scales + o)));
    }
    const step = toInt16(wi, w, n);
    if (step == 0) continue;
    memory.fill(accI, 0, <usize>pad << 2);
    // four positions at a time: two pairs, each pair's codes interleaved byte by byte
    for (let i = 0; i < n; i += 4) {
      const w01 = load<u32>(wi + (<usize>i << 1));
      const w23 = load<u32>(wi + (<usize>i << 1), 4);
      if ((w01 | w23) == 0) continue;
      const p01 = i32x4.splat(w01);
      const p23 = i32x4.splat(w23);
      const r0 = codes + <usize>(t0 + i) * rowB;
      for (let ch = 0; ch < nCh; ch++) {
        const p = r0 + (<usize>ch << 4);
        const ap = accI + (<usize>(ch * chunkChannels(bits)) << 2);
        for (let s = 0; s < subs; s++) {
          const c0 = codesAt(p, s, bits);
          const c1 = codesAt(p + rowB, s, bits);
          const c2 = codesAt(p + 2 * rowB, s, bits);
          const c3 = codesAt(p + 3 * rowB, s, bits);
          const lo01 = i8x16.shuffle(c0, c1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
          const hi01 = i8x16.shuffle(c0, c1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
          const lo23 = i8x16.shuffle(c2, c3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
          const hi23 = i8x16.shuffle(c2, c3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
          const sp = ap + (<usize>s << 6);
          const d0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo01), p01), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo23), p23));
          const d1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo01), p01), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo23), p23));
          const d2 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi01), p01), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi23), p23));
          const d3 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi01), p01), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi23), p23));
          v128.store(sp, i32x4.add(v128.load(sp), d0));
          v128.store(sp, i32x4.add(v128.load(sp, 16), d1), 16);
          v128.store(sp, i32x4.add(v128.load(sp, 32), d2), 32);
          v128.store(sp, i32x4.add(v128.load(sp, 48), d3), 48);
        }
      }
    }
    const vstep = f32x4.splat(step);
    for (let c = 0; c < pad; c += 4) {
      const o = <usize>c << 2;
      v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(f32x4.convert_i32x4_s(v128.load(accI + o)), vstep)));
    }
  }
  return hsum(vb);
}

// Quantizes the full f16 window of a region, which holds positions first .. first + residual - 1:
// keys per channel over each group of KV_GROUP positions, values per position over the channels
// (asymmetric: zero = min, scale = (max - min) / levels, code = nearest((x - zero) / scale)).
function flushWindow(region: usize, first: i32, hs: i32, ctx: i32, bits: i32, residual: i32): void {
  const levels = <f32>((1 << bits) - 1);
  const pad = hsPad(hs, bits);
  const rowB = rowBytes(hs, bits);
  const wk = region + windowKeysAt(hs, ctx, bits);
  const wv = region + windowValuesAt(hs, ctx, bits, residual);
  const vCodes = region + valueCodesAt(hs, ctx, bits);
  memory.fill(region + <usize>first * rowB, 0, <usize>residual * rowB);
  memory.fill(vCodes + <usize>first * rowB, 0, <usize>residual * rowB);
  for (let j = 0; j < residual / KV_GROUP; j++) {
    const g = first / KV_GROUP + j;
    const ks = region + keyParamsAt(hs, ctx, bits) + <usize>g * (<usize>pad << 3);
    const kz = ks + (<usize>pad << 2);
    for (let c = 0; c < pad; c++) {
      let mn: f32 = 0;
      let sc: f32 = 0;
      if (c < hs) {
        mn = Infinity;
        let mx: f32 = -Infinity;
        for (let i = 0; i < KV_GROUP; i++) {
          const x = cachedHalf(<u32>load<u16>(wk + (<usize>((j * KV_GROUP + i) * hs + c) << 1)));
          mn = min(mn, x);
          mx = max(mx, x);
        }
        sc = (mx - mn) / levels;
        for (let i = 0; i < KV_GROUP; i++) {
          const x = cachedHalf(<u32>load<u16>(wk + (<usize>((j * KV_GROUP + i) * hs + c) << 1)));
          orCode(region + <usize>(g * KV_GROUP + i) * rowB, c, codeOf(x, mn, sc, levels), bits);
        }
      }
      store<f32>(ks + (<usize>c << 2), sc);
      store<f32>(kz + (<usize>c << 2), mn);
    }
  }
  const vParams = region + valueParamsAt(hs, ctx, bits);
  const vZeros = region + valueZerosAt(hs, ctx, bits);
  for (let r = 0; r < residual; r++) {
    const src = wv + (<usize>(r * hs) << 1);
    let mn: f32 = Infinity;
    let mx: f32 = -Infinity;
    for (let c = 0; c < hs; c++) {
      const x = cachedHalf(<u32>load<u16>(src + (<usize>c << 1)));
      mn = min(mn, x);
      mx = max(mx, x);
    }
    const sc = (mx - mn) / levels;
    const row = vCodes + <usize>(first + r) * rowB;
    for (let c = 0; c < hs; c++) orCode(row, c, codeOf(cachedHalf(<u32>load<u16>(src + (<usize>c << 1))), mn, sc, levels), bits);
    store<f32>(vParams + (<usize>(first + r) << 2), sc);
    store<f32>(vZeros + (<usize>(first + r) << 2), mn);
  }
}

// @ts-ignore: decorator
@inline function codeOf(x: f32, zero: f32, scale: f32, levels: f32): u32 {
  if (scale == 0) return 0;
  return <u32>min(max(nearest((x - zero) / scale), <f32>0), levels);
}

// ORs channel c's code into a code row (zeroed before).
// @ts-ignore: decorator
@inline function orCode(row: usize, c: i32, code: u32, bits: i32): void {
  const cpc = chunkChannels(bits);
  const w = c % cpc;
  const p = row + (<usize>(c / cpc) << 4) + <usize>(w & 15);
  store<u8>(p, load<u8>(p) | <u8>(code << <u32>((w >> 4) * bits)));
}

// Writes one KV head's k and v (hs f32 each) for position pos into its region.
function storeHead(region: usize, k: usize, v: usize, pos: i32, hs: i32, ctx: i32, mode: i32, residual: i32): void {
  if (mode == KV_F32) {
    const rowB = <usize>hs << 2;
    memory.copy(region + <usize>pos * rowB, k, rowB);
    memory.copy(region + align16(<usize>ctx * rowB) + <usize>pos * rowB, v, rowB);
    return;
  }
  if (mode == KV_F16) {
    const rowB = <usize>hs << 1;
    storeHalves(region + <usize>pos * rowB, k, hs);
    storeHalves(region + align16(<usize>ctx * rowB) + <usize>pos * rowB, v, hs);
    return;
  }
  const slot = pos % residual;
  storeHalves(region + windowKeysAt(hs, ctx, mode) + (<usize>(slot * hs) << 1), k, hs);
  storeHalves(region + windowValuesAt(hs, ctx, mode, residual) + (<usize>(slot * hs) << 1), v, hs);
  if (slot == residual - 1) flushWindow(region, pos + 1 - residual, hs, ctx, mode, residual);
}

// The scores att[0..nPos) into attention weights: positions below `lo` (outside a sliding window)
// get 0, the rest cap * tanh(s / cap) when cap > 0 (Gemma 2's attention soft-cap), then softmax.
function weighScores(att: usize, nPos: i32, lo: i32, cap: f32): void {
  if (cap > 0) {
    for (let t = lo; t < nPos; t++) {
      const p = att + (<usize>t << 2);
      store<f32>(p, <f32>(<f64>cap * Math.tanh(<f64>(load<f32>(p) / cap))));
    }
  }
  softmaxInPlace(att + (<usize>lo << 2), nPos - lo);
  memory.fill(att, 0, <usize>lo << 2);
}

// out_h [hs] = attention of query head q_h [hs] over positions lo..nPos-1 of one KV head's region
// (lo > 0: a sliding window), its scores soft-capped by cap when cap > 0.
// scratch: att (ctx f32); ql, acc, accI (roundHs(hs) f32/f32/i32), qi (as many int16, padded to
// f32 size); w (VALUE_BLOCK f32) and wi (as many int16).
function attendHead(out: usize, q: usize, region: usize, nPos: i32, lo: i32, cap: f32, hs: i32, ctx: i32, mode: i32, residual: i32, scratch: usize): void {
  const att = scratch;
  const vecB = <usize>roundHs(hs) << 2;
  const ql = scratch + align16(<usize>ctx << 2);
  const acc = ql + vecB;
  const accI = acc + vecB;
  const qi = accI + vecB;
  const w = qi + vecB;
  const wi = w + (<usize>VALUE_BLOCK << 2);
  const scale = <f32>(1.0 / Math.sqrt(<f64>hs));
  const hsB = <usize>hs << 2;
  if (mode == KV_F32) {
    scoresPlain(att, q, region, nPos, hs, scale, false);
    weighScores(att, nPos, lo, cap);
    memory.fill(out, 0, hsB);
    valuesPlain(out, att, region + align16(<usize>ctx * hsB), nPos, hs, false);
    return;
  }
  // f16 part: all positions (KV_F16), or the window after the quantized ones
  const nq = mode == KV_F16 ? 0 : (nPos / residual) * residual;
  const keys = mode == KV_F16 ? region : region + windowKeysAt(hs, ctx, mode);
  const vals = mode == KV_F16 ? region + align16(<usize>(ctx * hs) << 1) : region + windowValuesAt(hs, ctx, mode, residual);
  memory.fill(acc, 0, vecB);
  if (nq > 0) {
    if (mode == 8) scoresQuant(att, q, ql, qi, region, nq, hs, ctx, 8, scale);
    else if (mode == 4) scoresQuant(att, q, ql, qi, region, nq, hs, ctx, 4, scale);
    else scoresQuant(att, q, ql, qi, region, nq, hs, ctx, 2, scale);
  }
  const lift = f32x4.splat(Q_LIFT);
  let c = 0;
  for (; c < (hs & ~3); c += 4) v128.store(ql + (<usize>c << 2), f32x4.mul(v128.load(q + (<usize>c << 2)), lift));
  for (; c < hs; c++) store<f32>(ql + (<usize>c << 2), load<f32>(q + (<usize>c << 2)) * Q_LIFT);
  scoresPlain(att + (<usize>nq << 2), ql, keys, nPos - nq, hs, scale * SCORE_LIFT, true);
  weighScores(att, nPos, lo, cap);
  let bias: f32 = 0;
  if (nq > 0) {
    if (mode == 8) bias = valuesQuant(acc, accI, w, wi, att, region, nq, hs, ctx, 8);
    else if (mode == 4) bias = valuesQuant(acc, accI, w, wi, att, region, nq, hs, ctx, 4);
    else bias = valuesQuant(acc, accI, w, wi, att, region, nq, hs, ctx, 2);
  }
  valuesPlain(acc, att + (<usize>nq << 2), vals, nPos - nq, hs, true);
  for (let c = 0; c < hs; c++) store<f32>(out + (<usize>c << 2), load<f32>(acc + (<usize>c << 2)) + bias);
}

// The attention sublayer of one layer for n consecutive tokens at positions pos .. pos + n - 1, in
// order: token i's q (q + i·nHeads·hs·4) and k (k + i·kvDim·4) are rotated in place (RoPE: pairs
// (i, i + hs/2) when halfPairs, else interleaved; by theta, or by the f64 per-pair frequencies at
// freqs when it is not 0), its k and v (v + i·kvDim·4) written to the cache, then out + i·nHeads·hs·4
// gets its attention over positions 0 .. pos + i, or the last `window` of them when window > 0, the
// scores soft-capped by cap when cap > 0. mode: 0 f32, 1 f16, 8/4/2 the quantized kinds; residual:
// their f16 window. scratch: attendScratchBytes(headSize, ctx).
export function attendBlock(
  out: usize, q: usize, k: usize, v: usize, cache: usize, layer: i32, pos: i32, n: i32,
  nHeads: i32, nKvHeads: i32, headSize: i32, ctx: i32, mode: i32, residual: i32, theta: f64, halfPairs: i32, scratch: usize,
  freqs: usize, window: i32, cap: f32,
): void {
  const hs = headSize;
  const regionB = regionBytes(mode, hs, ctx, residual);
  const layerBase = cache + <usize>layer * <usize>nKvHeads * regionB;
  const qDim = nHeads * hs;
  const kvDim = nKvHeads * hs;
  const group = nHeads / nKvHeads;
  for (let i = 0; i < n; i++) {
    const p = pos + i;
    const qi = q + (<usize>(i * qDim) << 2);
    const ki = k + (<usize>(i * kvDim) << 2);
    const vi = v + (<usize>(i * kvDim) << 2);
    rope(qi, qDim, hs, p, theta, freqs, halfPairs != 0);
    rope(ki, kvDim, hs, p, theta, freqs, halfPairs != 0);
    for (let g = 0; g < nKvHeads; g++) {
      const o = <usize>(g * hs) << 2;
      storeHead(layerBase + <usize>g * regionB, ki + o, vi + o, p, hs, ctx, mode, residual);
    }
    const oi = out + (<usize>(i * qDim) << 2);
    const lo = window > 0 && p + 1 > window ? p + 1 - window : 0;
    for (let h = 0; h < nHeads; h++) {
      const o = <usize>(h * hs) << 2;
      attendHead(oi + o, qi + o, layerBase + <usize>(h / group) * regionB, p + 1, lo, cap, hs, ctx, mode, residual, scratch);
    }
  }
}
