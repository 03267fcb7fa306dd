// ggml block formats: dequantization of hand-computed blocks (Q4_1, Q5_0 and Q5_1 from bytes
// written out here, the fifth bit of each of the 32 positions on its own), and the quantizers'
// defining steps (ggml's reference quantize_row_q8_0/q4_0/q4_1/q5_0/q5_1 and quantize_iq4_nl) on
// blocks worked out by hand, with their round-trip error bounds; the
// K-quants (Q2_K ... Q6_K, and the read-only IQ4_XS) decoded from bytes written
// here by hand and packed field by field in _gguf.ts, and our K-quant encoders' error bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { UnsupportedError } from '../../src/util/errors.ts';
import {
  decodeGgml, dequantizeIq4Nl, dequantizeIq4Xs, dequantizeQ2K, dequantizeQ3K, dequantizeQ4_0, dequantizeQ4K, dequantizeQ5K, dequantizeQ6K, dequantizeQ8_0, encodeGgml, quantizeIq4Nl, quantizeQ4_0, quantizeQ8_0,
} from '../../tools/gguf/blocks.ts';
import { GGML_TYPES, GT, IQ4_NL_VALUES } from '../../tools/gguf/spec.ts';
import {
  type KBlock2, type KBlock3, type KBlock45, type KBlock6, type KBlockIq4Xs, iq4XsTensor, k45Tensor, lcg, minLevel, nibbleTensor, q2kTensor, q3kTensor, q5Level, q6kTensor,
} from './_gguf.ts';

const H_HALF = 0x3800; // 0.5 in f16
const H_QUARTER = 0x3400; // 0.25

test('Q8_0: a hand-made block dequantizes to d * q', () => {
  const b = new Uint8Array(34);
  b[0] = H_HALF & 0xff;
  b[1] = H_HALF >> 8;
  for (let j = 0; j < 32; j++) b[2 + j] = (j * 9 - 128) & 0xff; // q = -128, -119, ..., 151 wraps to int8
  const got = dequantizeQ8_0(b, 32);
  for (let j = 0; j < 32; j++) {
    const q = ((j * 9 - 128) << 24) >> 24;
    assert.is(got[j], 0.5 * q, `weight ${j}`);
  }
});

test('Q4_0: byte j holds weight j (low nibble) and weight j+16 (high nibble), w = d * (q - 8)', () => {
  const b = new Uint8Array(18);
  b[0] = H_QUARTER & 0xff;
  b[1] = H_QUARTER >> 8;
  for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
  const got = dequantizeQ4_0(b, 32);
  for (let j = 0; j < 16; j++) {
    assert.is(got[j], 0.25 * (j - 8));
    assert.is(got[16 + j], 0.25 * (15 - j - 8));
  }
});

test('IQ4_NL: same nibble order, w = d * kvalues_iq4nl[q]', () => {
  const b = new Uint8Array(36);
  for (const [k, h] of [[0, H_HALF], [1, H_QUARTER]]) {
    b[k * 18] = h & 0xff;
    b[k * 18 + 1] = h >> 8;
    for (let j = 0; j < 16; j++) b[k * 18 + 2 + j] = ((j + k) & 15) | ((15 - j) << 4);
  }
  const got = dequantizeIq4Nl(b, 64);
  const table = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
  for (const [k, d] of [[0, 0.5], [1, 0.25]]) {
    for (let j = 0; j < 16; j++) {
      assert.is(got[k * 32 + j], d * table[(j + k) & 15]);
      assert.is(got[k * 32 + 16 + j], d * table[15 - j]);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Q4_1, Q5_0, Q5_1

const H_MINUS_1_5 = 0xbe00; // -1.5 in f16
const H_TWO = 0x4000; // 2

/** The bytes of one block: f16 d, [f16 m], [4 bytes qh], 16 bytes of nibbles. */
const block = (...fields: number[][]): Uint8Array => Uint8Array.from(fields.flat());
const le16 = (h: number) => [h & 0xff, h >> 8];

test('Q4_1: f16 d, f16 m, byte j holds weight j (low nibble) and j+16 (high nibble), w = d * q + m', () => {
  const b = block(le16(H_QUARTER), le16(H_MINUS_1_5), Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)));
  assert.is(b.length, 20);
  const got = decodeGgml(GT.Q4_1, b, 32);
  assert.is(got[0], -1.5); // q = 0: the min
  assert.is(got[16], 2.25); // q = 15: 0.25 * 15 - 1.5
  for (let j = 0; j < 16; j++) {
    assert.is(got[j], 0.25 * j - 1.5, `weight ${j}`);
    assert.is(got[16 + j], 0.25 * (15 - j) - 1.5, `weight ${16 + j}`);
  }
});

// qh = 0xa5c30f96, little-endian: weights 0..7 take bits of 0x96, 8..15 of 0x0f, 16..23 of 0xc3, 24..31 of 0xa5
const QH = [0x96, 0x0f, 0xc3, 0xa5];
const QS = Array.from({ length: 16 }, (_, j) => ((3 * j + 1) & 15) | (((5 * j + 2) & 15) << 4));
const fifth = (i: number) => (QH[i >> 3] >> (i & 7)) & 1;
const low4 = (i: number) => (i < 16 ? QS[i] & 15 : QS[i - 16] >> 4);

test('Q5_0: f16 d, qh (bit i = fifth bit of weight i), nibbles; w = d * (q - 16)', () => {
  const b = block(le16(H_HALF), QH, QS);
  assert.is(b.length, 22);
  const got = decodeGgml(GT.Q5_0, b, 32);
  // spelled out: weight 0: bit 0 of 0x96 = 0, low nibble of byte 0 = 1: 0.5 * (1 - 16)
  assert.is(got[0], -7.5);
  // weight 1: bit 1 of 0x96 = 1, nibble 4: q = 20
  assert.is(got[1], 2);
  // weight 16: bit 0 of 0xc3 = 1, high nibble of byte 0 = 2: q = 18
  assert.is(got[16], 1);
  // weight 31: bit 7 of 0xa5 = 1, high nibble of byte 15 = 77 & 15 = 13: q = 29
  assert.is(got[31], 6.5);
  // weight 15: bit 7 of 0x0f = 0, low nibble of byte 15 = 46 & 15 = 14
  assert.is(got[15], -1);
  for (let i = 0; i < 32; i++) assert.is(got[i], 0.5 * (low4(i) + 16 * fifth(i) - 16), `weight ${i}`);
});

test('Q5_1: f16 d, f16 m, qh, nibbles; w = d * q + m', () => {
  const b = block(le16(H_QUARTER), le16(H_TWO), QH, QS);
  assert.is(b.length, 24);
  const got = decodeGgml(GT.Q5_1, b, 32);
  assert.is(got[1], 0.25 * 20 + 2);
  assert.is(got[31], 0.25 * 29 + 2);
  for (let i = 0; i < 32; i++) assert.is(got[i], 0.25 * (low4(i) + 16 * fifth(i)) + 2, `weight ${i}`);
});

test('Q5_0 / Q5_1: the fifth bit of each of the 32 positions, set on its own, lifts only that weight', () => {
  for (let i = 0; i < 32; i++) {
    const qh = [0, 0, 0, 0];
    qh[i >> 3] = 1 << (i & 7);
    const q50 = decodeGgml(GT.Q5_0, block(le16(H_HALF), qh, new Array(16).fill(0)), 32);
    const q51 = decodeGgml(GT.Q5_1, block(le16(H_HALF), le16(H_MINUS_1_5), qh, new Array(16).fill(0)), 32);
    for (let k = 0; k < 32; k++) {
      assert.is(q50[k], k === i ? 0 : -8, `Q5_0 bit ${i}, weight ${k}`);
      assert.is(q51[k], k === i ? 6.5 : -1.5, `Q5_1 bit ${i}, weight ${k}`);
    }
  }
});

test('Q4_1/Q5_0/Q5_1 decoders = blocks packed field by field (random d, m, quants, either sign of d, several blocks)', () => {
  const r = lcg(31);
  const int = (n: number) => Math.floor(r() * n);
  const halfBits = () => (r() < 0.3 ? 0x8000 : 0) | ((6 + int(10)) << 10) | int(1024);
  const nb = 7;
  const d = Array.from({ length: nb }, halfBits);
  const m = Array.from({ length: nb }, halfBits);
  for (const [type, bits, level, opts] of [
    [GT.Q4_1, 4, minLevel, { mBits: m }],
    [GT.Q5_0, 5, q5Level, { high: true }],
    [GT.Q5_1, 5, minLevel, { mBits: m, high: true }],
  ] as const) {
    const t = nibbleTensor(d, Uint8Array.from({ length: 32 * nb }, () => int(1 << bits)), level, opts);
    const got = decodeGgml(type, t.bytes, 32 * nb);
    for (let i = 0; i < got.length; i++) if (!Object.is(got[i], t.values[i])) assert.unreachable(`type ${type} weight ${i}: ${got[i]}, expected ${t.values[i]}`);
  }
});

test('Q4_1/Q5_0/Q5_1 quantizers (ggml reference): a block on their grid comes back exactly, the scale from min/max or the largest magnitude', () => {
  const d = (b: Uint8Array) => halfToFloat(b[0] | (b[1] << 8));
  // Q4_1: min -4, max 3.5, d = 7.5 / 15 = 0.5, q = j mod 16
  const x41 = Float32Array.from({ length: 32 }, (_, j) => -4 + (j % 16) * 0.5);
  const b41 = encodeGgml(GT.Q4_1, x41);
  assert.equal([d(b41), halfToFloat(b41[2] | (b41[3] << 8))], [0.5, -4]);
  assert.equal(Array.from(decodeGgml(GT.Q4_1, b41, 32)), Array.from(x41));
  // Q5_1: x = j - 16: min -16, max 15, d = 31 / 31 = 1, q = j
  const x51 = Float32Array.from({ length: 32 }, (_, j) => j - 16);
  const b51 = encodeGgml(GT.Q5_1, x51);
  assert.equal([d(b51), halfToFloat(b51[2] | (b51[3] << 8))], [1, -16]);
  assert.equal(Array.from(b51.subarray(4, 8)), [0, 0, 0xff, 0xff], 'qh: weights 16..31 have q >= 16');
  assert.equal(Array.from(decodeGgml(GT.Q5_1, b51, 32)), Array.from(x51));
  // Q5_0: the largest magnitude -4 gives d = -4 / -16 = 0.25 and q = j
  const x50 = Float32Array.from({ length: 32 }, (_, j) => (j - 16) * 0.25);
  const b50 = encodeGgml(GT.Q5_0, x50);
  assert.is(d(b50), 0.25);
  assert.equal(Array.from(decodeGgml(GT.Q5_0, b50, 32)), Array.from(x50));
  // a positive extreme flips the sign of d: 16 - j -> d = -1, q = j
  const y50 = Float32Array.from({ length: 32 }, (_, j) => 16 - j);
  const c50 = encodeGgml(GT.Q5_0, y50);
  assert.is(d(c50), -1);
  assert.equal(Array.from(decodeGgml(GT.Q5_0, c50, 32)), Array.from(y50));
  // +16 with -16 the largest magnitude first: it would need q = 32 and clips to 31, one step off
  const z = new Float32Array(32);
  z[0] = -16;
  z[1] = 16;
  assert.equal(Array.from(decodeGgml(GT.Q5_0, encodeGgml(GT.Q5_0, z), 32).subarray(0, 3)), [-16, 15, 0]);
  // zero blocks: d = 0, everything 0
  for (const t of [GT.Q4_1, GT.Q5_0, GT.Q5_1]) assert.equal(Array.from(decodeGgml(t, encodeGgml(t, new Float32Array(32)), 32)), new Array(32).fill(0));
});

const F16_ULP = 2 ** -11; // relative rounding of a normal f16

test('Q4_1/Q5_0/Q5_1 round trip: every weight within half a step, plus the f16 rounding of d and m', () => {
  const r = lcg(17);
  const n = 32 * 200;
  const x = Float32Array.from({ length: n }, () => {
    let s = 0;
    for (let k = 0; k < 6; k++) s += r();
    return (s - 3) * 0.05 * (r() < 0.02 ? 20 : 1);
  });
  x.fill(0, 0, 32);
  x.fill(0.3, 32, 64); // a constant block: d = 0 for Q4_1/Q5_1
  for (let i = 64; i < 96; i++) x[i] = Math.abs(x[i]) + 2; // all positive, far from 0
  for (let i = 96; i < 128; i++) x[i] = -Math.abs(x[i]) - 2;
  const rms: Record<number, number> = {};
  for (const [type, nmax, minMax] of [[GT.Q4_1, 15, true], [GT.Q5_0, 31, false], [GT.Q5_1, 31, true]] as const) {
    const y = decodeGgml(type, encodeGgml(type, x), n);
    let se = 0;
    for (let b = 0; b < n / 32; b++) {
      const xb = x.subarray(b * 32, b * 32 + 32);
      const lo = Math.min(...xb);
      const hi = Math.max(...xb);
      // the largest magnitude, with its sign (Q5_0's d = that / -16)
      const big = -lo >= hi ? lo : hi;
      const step = minMax ? (hi - lo) / nmax : Math.abs(big) / 16;
      // f16 rounding of d (times up to nmax or 16 quants) and of m
      const round = (minMax ? nmax * step + Math.abs(lo) : 16 * step) * F16_ULP + 2 ** -24;
      for (let j = 0; j < 32; j++) {
        const i = b * 32 + j;
        se += (y[i] - x[i]) ** 2;
        // Q5_0 (as Q4_0): a weight on the other side of zero from `big`, beyond 15.5 steps, clips to 15 steps
        const clipped = !minMax && x[i] * big < 0 && Math.abs(x[i]) > 15.5 * step;
        const bound = (clipped ? step : step / 2) * (1 + 1e-6) + round;
        if (!(Math.abs(y[i] - x[i]) <= bound)) assert.unreachable(`type ${type} weight ${i}: |${y[i]} - ${x[i]}| > ${bound} (step ${step})`);
      }
    }
    rms[type] = Math.sqrt(se / x.reduce((a, v) => a + v * v, 0));
  }
  // more bits, less error; the min makes Q5_1 no worse than Q5_0
  assert.ok(rms[GT.Q5_1] <= rms[GT.Q5_0] && rms[GT.Q5_0] < rms[GT.Q4_1], JSON.stringify(rms));
});

test('Q8_0 quantizer: d = amax / 127, q = round half away from zero', () => {
  // x = (j - 16) * 0.5 + a tie: amax = 8 (j = 0), d = 8/127, q = roundf(x * 127/8)
  const x = Float32Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5);
  const b = quantizeQ8_0(x);
  const dh = b[0] | (b[1] << 8);
  assert.is(dh, floatToHalf(Math.fround(8 / 127)));
  const id = Math.fround(1 / Math.fround(8 / 127));
  for (let j = 0; j < 32; j++) {
    const v = Math.fround(x[j] * id);
    const want = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
    assert.is((b[2 + j] << 24) >> 24, want, `q[${j}]`);
  }
  assert.is((b[2] << 24) >> 24, -127); // -8 -> -127
  // an exact tie: 2.5 / 127 * 127 -> 2.5 rounds away from zero to 3 (and -2.5 to -3)
  const t = new Float32Array(32);
  t[0] = 127;
  t[1] = 2.5;
  t[2] = -2.5;
  const bt = quantizeQ8_0(t);
  assert.is(bt[3], 3);
  assert.is((bt[4] << 24) >> 24, -3);
  // a zero block: d = 0, all q = 0
  assert.equal(Array.from(quantizeQ8_0(new Float32Array(32))), new Array(34).fill(0));
});

test('Q4_0 quantizer: d = (value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5))', () => {
  // x = j - 16: the largest magnitude is -16 (j = 0), so d = 2, and q = min(15, trunc(j/2 + 0.5))
  const x = Float32Array.from({ length: 32 }, (_, j) => j - 16);
  const b = quantizeQ4_0(x);
  assert.is(halfToFloat(b[0] | (b[1] << 8)), 2);
  const q = (j: number) => (j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4);
  for (let j = 0; j < 32; j++) assert.is(q(j), Math.min(15, Math.trunc(j / 2 + 0.5)), `q[${j}]`);
  // the largest-magnitude value is exact (q = 0 -> -8 d); +16 would need q = 16 and clips to 15
  const w = dequantizeQ4_0(b, 32);
  assert.is(w[0], -16);
  assert.is(w[31], 14);
  // a positive extreme flips the sign of d
  const y = Float32Array.from({ length: 32 }, (_, j) => 16 - j);
  const by = quantizeQ4_0(y);
  assert.is(halfToFloat(by[0] | (by[1] << 8)), -2);
  assert.is(dequantizeQ4_0(by, 32)[0], 16);
});

test('IQ4_NL quantizer: a block that is exactly d * table values comes back exactly; errors beat Q4_0 on average', () => {
  const r = lcg(7);
  const idx = Array.from({ length: 32 }, () => Math.floor(r() * 16));
  idx[5] = 0; // -127 present: the largest magnitude
  const x = Float32Array.from(idx, (i) => 0.5 * IQ4_NL_VALUES[i]);
  const back = dequantizeIq4Nl(quantizeIq4Nl(x), 32);
  assert.equal(Array.from(back), Array.from(x));
  // zero block: d = 0
  assert.equal(Array.from(dequantizeIq4Nl(quantizeIq4Nl(new Float32Array(32)), 32)), new Array(32).fill(0));

  // gaussian-ish weights: IQ4_NL's non-uniform levels and scale search give a lower error than Q4_0
  const n = 32 * 256;
  const w = Float32Array.from({ length: n }, () => {
    let s = 0;
    for (let k = 0; k < 6; k++) s += r();
    return (s - 3) * 0.05;
  });
  const err = (v: Float32Array) => v.reduce((acc, y, i) => acc + (y - w[i]) ** 2, 0);
  const eIq = err(dequantizeIq4Nl(quantizeIq4Nl(w), n));
  const eQ4 = err(dequantizeQ4_0(quantizeQ4_0(w), n));
  assert.ok(eIq < eQ4, `IQ4_NL error ${eIq} is not below Q4_0's ${eQ4}`);
});

test('quantizer error bounds: Q8_0 within d/2 (+ f16 rounding of d), Q4_0 within |d| per weight', () => {
  const r = lcg(3);
  const n = 32 * 64;
  const x = Float32Array.from({ length: n }, () => (r() - 0.5) * (r() < 0.1 ? 10 : 1));
  const q8 = dequantizeQ8_0(quantizeQ8_0(x), n);
  const q4 = dequantizeQ4_0(quantizeQ4_0(x), n);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    for (let j = 0; j < 32; j++) {
      const i = b * 32 + j;
      assert.ok(Math.abs(q8[i] - x[i]) <= (amax / 127) * 0.5 + amax * 2e-3, `Q8_0 weight ${i}`);
      assert.ok(Math.abs(q4[i] - x[i]) <= (amax / 8) * 1.01, `Q4_0 weight ${i}`);
    }
  }
});

test('encodeGgml/decodeGgml: F32 exact, F16 = floatToHalf, refused types named', () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3.3);
  assert.equal(Array.from(decodeGgml(0, encodeGgml(0, x), 64)), Array.from(x));
  assert.equal(Array.from(decodeGgml(1, encodeGgml(1, x), 64)), Array.from(x, (v) => halfToFloat(floatToHalf(v))));
  // BF16: the top half of the f32 bits
  const bf = new Uint8Array(4);
  bf[1] = 0x3f;
  bf[0] = 0x80; // 0x3f80 -> 1.0
  bf[3] = 0xc0;
  bf[2] = 0x40; // 0xc040 -> -3.0
  assert.equal(Array.from(decodeGgml(30, bf, 2)), [1, -3]);
  assert.throws(() => decodeGgml(16, new Uint8Array(66), 256), (e: Error) => e instanceof UnsupportedError && /IQ2_XXS/.test(e.message));
  assert.throws(() => encodeGgml(GT.IQ4_XS, x), (e: Error) => e instanceof UnsupportedError && /IQ4_XS/.test(e.message));
});

// ---------------------------------------------------------------------------------------------
// K-quants

// 6-bit scales and mins of the 8 sub-blocks, and their 12 bytes worked out by hand:
//   bytes 0..3  = sc[j] | (sc[j+4] >> 4) << 6      1|2<<6, 2|3<<6, 3|3<<6, 4|1<<6
//   bytes 4..7  = m[j] | (m[j+4] >> 4) << 6        0|2<<6, 1|0<<6, 2|3<<6, 3|1<<6
//   bytes 8..11 = (sc[j+4] & 15) | (m[j+4] & 15) << 4   1|8<<4, 2|5<<4, 15|15<<4, 1|0<<4
const SC = [1, 2, 3, 4, 33, 50, 63, 17];
const MN = [0, 1, 2, 3, 40, 5, 63, 16];
const SCALE_BYTES = [0x81, 0xc2, 0xc3, 0x44, 0x80, 0x01, 0xc2, 0x43, 0x81, 0x52, 0xff, 0x01];
const H_ONE = 0x3c00;

/** A Q4_K (or Q5_K) block: d = 1, dmin = 0.5, the scales above, qs byte 32c + l = 7l + c (mod 256). */
function handK45(bits: 4 | 5): Uint8Array {
  const b = new Uint8Array(bits === 4 ? 144 : 176);
  b.set([H_ONE & 0xff, H_ONE >> 8, H_HALF & 0xff, H_HALF >> 8, ...SCALE_BYTES]);
  const qs = bits === 4 ? 16 : 48;
  for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) b[qs + 32 * c + l] = (7 * l + c) & 0xff;
  if (bits === 5) for (let l = 0; l < 32; l++) b[16 + l] = (37 * l + 11) & 0xff;
  return b;
}

test('Q4_K: a hand-made block: 6-bit scales/mins unpacked, nibbles of sub-blocks 2c and 2c+1 share bytes, w = d*sc*q - dmin*m', () => {
  const got = dequantizeQ4K(handK45(4), 256);
  // spelled out: sub-block 5, weight 3: byte 32*2 + 3 = 7*3 + 2 = 0x17, high nibble 1: 50*1 - 0.5*5
  assert.is(got[32 * 5 + 3], 47.5);
  // sub-block 6, weight 0: byte 96 = 3, low nibble 3: 63*3 - 0.5*63
  assert.is(got[32 * 6], 157.5);
  // sub-block 4, weight 31: byte 64 + 31 = 219 = 0xdb, low nibble 11: 33*11 - 0.5*40
  assert.is(got[32 * 4 + 31], 343);
  // sub-block 0 has min 0, sub-block 1 weight 0: byte 0 = 0, high nibble 0: -0.5*1
  assert.is(got[0], 0);
  assert.is(got[32], -0.5);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) {
      const byte = (7 * l + (j >> 1)) & 0xff;
      const q = j & 1 ? byte >> 4 : byte & 15;
      assert.is(got[32 * j + l], SC[j] * q - 0.5 * MN[j], `sub-block ${j} weight ${l}`);
    }
  }
});

test('Q5_K: bit j of qh[l] is the fifth bit of weight l of sub-block j', () => {
  const got = dequantizeQ5K(handK45(5), 256);
  // sub-block 3, weight 2: byte 32 + 2 = 15, high nibble 0; qh[2] = 85 = 0b1010101, bit 3 = 0
  assert.is(got[32 * 3 + 2], -0.5 * 3);
  // sub-block 2, weight 2: low nibble 15; bit 2 of 85 = 1, q = 31: 3*31 - 0.5*2
  assert.is(got[32 * 2 + 2], 92);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) {
      const byte = (7 * l + (j >> 1)) & 0xff;
      const q = (j & 1 ? byte >> 4 : byte & 15) + (((37 * l + 11) >> j) & 1) * 16;
      assert.is(got[32 * j + l], SC[j] * q - 0.5 * MN[j], `sub-block ${j} weight ${l}`);
    }
  }
});

test('Q6_K: a hand-made block: ql/qh split, int8 scales per 16 weights (negative ones too), w = d*sc*(q - 32)', () => {
  const b = new Uint8Array(210);
  for (let i = 0; i < 128; i++) b[i] = (11 * i + 5) & 0xff; // ql
  for (let i = 0; i < 64; i++) b[128 + i] = (29 * i + 3) & 0xff; // qh
  const sc = [-128, -1, 1, 127, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12, -13];
  sc.forEach((v, j) => (b[192 + j] = v & 0xff));
  b[208] = H_HALF & 0xff;
  b[209] = H_HALF >> 8;
  const got = dequantizeQ6K(b, 256);
  // weight 0: ql[0] = 5, low nibble 5; qh[0] = 3, bits 0-1 = 3: q = 53, scale[0] = -128: 0.5*-128*21
  assert.is(got[0], -1344);
  // weight 64 + 1 (k = 2, l = 1): ql[1] = 16, high nibble 1; qh[1] = 32, bits 4-5 = 2: q = 33, scale[4] = 2
  assert.is(got[65], 1);
  // weight 128 + 96 + 31 = 255 (h = 1, k = 3, l = 31): ql[64 + 32 + 31] = 11*127 + 5 = 1402 & 255 = 122 = 0x7a,
  // high nibble 7; qh[32 + 31] = 29*63 + 3 = 1830 & 255 = 38 = 0b00100110, bits 6-7 = 0: q = 7, scale[15] = -13
  assert.is(got[255], 0.5 * -13 * (7 - 32));
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const qh = (29 * (32 * h + l) + 3) & 0xff;
      const lo = (11 * (64 * h + l) + 5) & 0xff;
      const hi = (11 * (64 * h + 32 + l) + 5) & 0xff;
      const q = [(lo & 15) | ((qh & 3) << 4), (hi & 15) | (((qh >> 2) & 3) << 4), (lo >> 4) | (((qh >> 4) & 3) << 4), (hi >> 4) | (((qh >> 6) & 3) << 4)];
      for (let k = 0; k < 4; k++) {
        const i = 128 * h + 32 * k + l;
        assert.is(got[i], 0.5 * sc[i >> 4] * (q[k] - 32), `weight ${i}`);
      }
    }
  }
});

test('K-quant decoders = blocks packed field by field from the ggml layout (random scales, mins, quants, several blocks)', () => {
  const r = lcg(21);
  const int = (n: number) => Math.floor(r() * n);
  const halfBits = () => (r() < 0.2 ? 0x8000 : 0) | ((6 + int(8)) << 10) | int(1024);
  const k45: KBlock45[] = Array.from({ length: 5 }, () => ({
    dBits: halfBits(), dminBits: halfBits(), sc: Array.from({ length: 8 }, () => int(64)), m: Array.from({ length: 8 }, () => int(64)), q: [],
  }));
  for (const bits of [4, 5] as const) {
    const blocks = k45.map((blk) => ({ ...blk, q: Array.from({ length: 256 }, () => int(1 << bits)) }));
    const t = k45Tensor(blocks, bits);
    const got = decodeGgml(bits === 4 ? GT.Q4_K : GT.Q5_K, t.bytes, 256 * blocks.length);
    for (let i = 0; i < got.length; i++) if (!Object.is(got[i], t.values[i])) assert.unreachable(`Q${bits}_K weight ${i}: ${got[i]}, expected ${t.values[i]}`);
  }
  const q6: KBlock6[] = Array.from({ length: 5 }, () => ({ dBits: halfBits(), sc: Array.from({ length: 16 }, () => int(256) - 128), q: Array.from({ length: 256 }, () => int(64)) }));
  const t6 = q6kTensor(q6);
  const got6 = decodeGgml(GT.Q6_K, t6.bytes, 256 * q6.length);
  for (let i = 0; i < got6.length; i++) if (!Object.is(got6[i], t6.values[i])) assert.unreachable(`Q6_K weight ${i}: ${got6[i]}, expected ${t6.values[i]}`);
});

// Q2_K, Q3_K and IQ4_XS (read only)

test('Q2_K: a hand-made block: 4-bit scale (low nibble) and min (high nibble) per 16 weights, 2-bit quants, w = d*sc*q - dmin*m', () => {
  // scale j = j, min j = 15 - j: every nibble value in both places
  const sc = Array.from({ length: 16 }, (_, j) => j);
  const mn = sc.map((j) => 15 - j);
  const b = new Uint8Array(84);
  b.set([0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f]);
  for (let t = 0; t < 64; t++) b[16 + t] = (37 * t + 11) & 0xff; // qs
  b.set([H_ONE & 0xff, H_ONE >> 8, H_HALF & 0xff, H_HALF >> 8], 80); // d = 1, dmin = 0.5
  const got = dequantizeQ2K(b, 256);
  // weight 0: qs[0] = 11 = 0b00001011, bits 0-1 = 3; sub-block 0 (scale 0, min 15): 0*3 - 0.5*15
  assert.is(got[0], -7.5);
  // weight 101 = 32*3 + 5 (half 0, bits 6-7 of qs[5] = 196 = 0b11000100): q = 3; sub-block 6 (6, 9)
  assert.is(got[101], 6 * 3 - 0.5 * 9);
  // weight 200 = 128 + 32*2 + 8 (half 1, bits 4-5 of qs[32 + 8] = 1491 & 255 = 0b11010011): q = 1; sub-block 12 (12, 3)
  assert.is(got[200], 12 - 0.5 * 3);
  for (let i = 0; i < 256; i++) {
    const byte = (37 * (32 * (i >> 7) + (i & 31)) + 11) & 0xff;
    const q = (byte >> (2 * ((i >> 5) & 3))) & 3;
    assert.is(got[i], sc[i >> 4] * q - 0.5 * mn[i >> 4], `weight ${i}`);
  }
});

// Q3_K's 16 six-bit scales (stored with +32) and their 12 bytes worked out by hand:
//   bytes 0..7  = (sc[j] & 15) | (sc[j+8] & 15) << 4
//   bytes 8..11 = sc[m] >> 4 | (sc[m+4] >> 4) << 2 | (sc[m+8] >> 4) << 4 | (sc[m+12] >> 4) << 6   (m = 0..3)
//   e.g. byte 9 = 3 | 1 << 2 | 3 << 4 | 3 << 6 = 0xf7
const Q3_SC = [0, 63, 1, 62, 32, 31, 16, 47, 5, 58, 21, 42, 10, 53, 33, 30];
const Q3_SCALE_BYTES = [0x50, 0xaf, 0x51, 0xae, 0xa0, 0x5f, 0x10, 0xef, 0x08, 0xf7, 0x94, 0x6b];

test('Q3_K: a hand-made block: hmask high bits, 2-bit quants, packed 6-bit scales, w = d*(sc - 32)*q', () => {
  const b = new Uint8Array(110);
  for (let t = 0; t < 32; t++) b[t] = (29 * t + 3) & 0xff; // hmask
  for (let t = 0; t < 64; t++) b[32 + t] = (11 * t + 5) & 0xff; // qs
  b.set(Q3_SCALE_BYTES, 96);
  b.set([H_HALF & 0xff, H_HALF >> 8], 108); // d = 0.5
  const got = dequantizeQ3K(b, 256);
  // weight 0: qs[0] = 5, bits 0-1 = 1; hmask[0] = 3, bit 0 set: q = 1; scale 0 - 32: 0.5*-32*1
  assert.is(got[0], -16);
  // weight 17 (sub-block 1): qs[17] = 192 = 0b11000000, bits 0-1 = 0; hmask[17] = 496 & 255 = 0xf0, bit 0 clear: q = -4; scale 63 - 32
  assert.is(got[17], 0.5 * 31 * -4);
  // weight 255 = 128 + 96 + 31 (sub-block 15): qs[63] = 698 & 255 = 0xba, bits 6-7 = 2; hmask[31] = 902 & 255 = 0x86, bit 7 set: q = 2; scale 30 - 32
  assert.is(got[255], 0.5 * -2 * 2);
  // weight 72 = 64 + 8 (sub-block 4, whose scale is exactly 32): 0 whatever q is
  assert.is(got[72], 0);
  for (let i = 0; i < 256; i++) {
    const lo = (((11 * (32 * (i >> 7) + (i & 31)) + 5) & 0xff) >> (2 * ((i >> 5) & 3))) & 3;
    const high = ((((29 * (i & 31) + 3) & 0xff) >> (i >> 5)) & 1) === 1;
    const q = lo - (high ? 0 : 4);
    assert.is(got[i], 0.5 * (Q3_SC[i >> 4] - 32) * q, `weight ${i}`);
  }
  // each scale's top bits on their own: only bit 2k of byte 8 + m set gives sub-block m + 4k scale 16 (- 32)
  for (let m = 0; m < 4; m++) {
    for (let k = 0; k < 4; k++) {
      const one = new Uint8Array(110);
      one.fill(0xff, 0, 32); // every high bit set and every bit pair 1: q = 1
      one.fill(0x55, 32, 96);
      one[96 + 8 + m] = 1 << (2 * k);
      one.set([H_ONE & 0xff, H_ONE >> 8], 108);
      const w = dequantizeQ3K(one, 256);
      for (let j = 0; j < 16; j++) assert.is(w[16 * j], j === m + 4 * k ? (16 - 32) * 1 : -32, `top bits m ${m} k ${k}, sub-block ${j}`);
    }
  }
});

// IQ4_XS's 8 six-bit scales (stored with +32): scales_l = (sc[2p] & 15) | (sc[2p+1] & 15) << 4 and
// scales_h = sum of (sc[j] >> 4) << 2j, worked out by hand: 0b11_00_10_01_01_10_11_00 = 0xc96c
const XS_SC = [0, 63, 33, 30, 17, 46, 8, 55];

test('IQ4_XS: a hand-made block: scales_h/scales_l split, IQ4_NL nibbles per 32 weights, w = d*(ls - 32)*T[q]', () => {
  const b = new Uint8Array(136);
  b.set([H_HALF & 0xff, H_HALF >> 8, 0x6c, 0xc9, 0xf0, 0xe1, 0xe1, 0x78]); // d = 0.5, scales_h, scales_l
  for (let t = 0; t < 128; t++) b[8 + t] = (7 * t + 3) & 0xff; // qs
  const got = dequantizeIq4Xs(b, 256);
  // weight 0: qs[0] = 3, low nibble 3: T[3] = -65; scale 0 - 32
  assert.is(got[0], 0.5 * -32 * -65);
  // weight 32 + 16 + 2 (sub-block 1, high nibble of its byte 2 = qs[18] = 129 = 0x81): T[8] = 1; scale 63 - 32
  assert.is(got[50], 0.5 * 31 * 1);
  // weight 255 (sub-block 7, high nibble of qs[127] = 892 & 255 = 0x7c): T[7] = -10; scale 55 - 32
  assert.is(got[255], 0.5 * 23 * -10);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) {
      const byte = (7 * (16 * j + (l & 15)) + 3) & 0xff;
      const q = l < 16 ? byte & 15 : byte >> 4;
      assert.is(got[32 * j + l], 0.5 * (XS_SC[j] - 32) * IQ4_NL_VALUES[q], `sub-block ${j} weight ${l}`);
    }
  }
  // each scale bit on its own (stored scales 0 otherwise, d = 1, every q = 8 so T[q] = 1: w = ls - 32):
  // bit 2j or 2j+1 of scales_h is 16 or 32 of sub-block j, bit k of its scales_l nibble 2^k
  const scalesWith = (where: number, value: number) => {
    const one = new Uint8Array(136);
    one.set([H_ONE & 0xff, H_ONE >> 8]);
    one[where] = value;
    one.fill(0x88, 8);
    const w = dequantizeIq4Xs(one, 256);
    return Array.from({ length: 8 }, (_, s) => w[32 * s + 31]);
  };
  for (let j = 0; j < 8; j++) {
    for (let k = 0; k < 2; k++) {
      const v = 1 << (2 * j + k);
      assert.equal(scalesWith(2 + (j >> 2), v >> (8 * (j >> 2))), XS_SC.map((_, s) => (s === j ? 16 * (k + 1) : 0) - 32), `scales_h bit ${2 * j + k}`);
    }
    for (let k = 0; k < 4; k++) {
      assert.equal(scalesWith(4 + (j >> 1), 1 << (4 * (j & 1) + k)), XS_SC.map((_, s) => (s === j ? 1 << k : 0) - 32), `scales_l sub-block ${j} bit ${k}`);
    }
  }
});

test('Q2_K/Q3_K/IQ4_XS decoders = blocks packed field by field from the ggml layout (random scales, quants, several blocks)', () => {
  const r = lcg(33);
  const int = (n: number) => Math.floor(r() * n);
  const halfBits = () => (r() < 0.2 ? 0x8000 : 0) | ((6 + int(8)) << 10) | int(1024);
  const same = (type: number, t: { bytes: Uint8Array; values: Float32Array }, name: string) => {
    const got = decodeGgml(type, t.bytes, t.values.length);
    for (let i = 0; i < got.length; i++) if (!Object.is(got[i], t.values[i])) assert.unreachable(`${name} weight ${i}: ${got[i]}, expected ${t.values[i]}`);
  };
  const q2: KBlock2[] = Array.from({ length: 5 }, () => ({
    dBits: halfBits(), dminBits: halfBits(), sc: Array.from({ length: 16 }, () => int(16)), m: Array.from({ length: 16 }, () => int(16)), q: Array.from({ length: 256 }, () => int(4)),
  }));
  same(GT.Q2_K, q2kTensor(q2), 'Q2_K');
  const q3: KBlock3[] = Array.from({ length: 5 }, () => ({ dBits: halfBits(), sc: Array.from({ length: 16 }, () => int(64)), q: Array.from({ length: 256 }, () => int(8)) }));
  same(GT.Q3_K, q3kTensor(q3), 'Q3_K');
  const xs: KBlockIq4Xs[] = Array.from({ length: 5 }, () => ({ dBits: halfBits(), sc: Array.from({ length: 8 }, () => int(64)), q: Array.from({ length: 256 }, () => int(16)) }));
  same(GT.IQ4_XS, iq4XsTensor(xs), 'IQ4_XS');
});

/** Gaussian-ish weights with a few large ones, plus super-blocks that are zero, all positive, all negative, or one loud sub-block. */
function kTestData(seed: number): Float32Array {
  const r = lcg(seed);
  const x = Float32Array.from({ length: 256 * 40 }, () => {
    let s = 0;
    for (let k = 0; k < 6; k++) s += r();
    return (s - 3) * 0.05 * (r() < 0.01 ? 20 : 1);
  });
  x.fill(0, 0, 256);
  for (let i = 256; i < 512; i++) x[i] = Math.abs(x[i]) + 0.01;
  for (let i = 512; i < 768; i++) x[i] = -Math.abs(x[i]) - 0.5;
  for (let i = 768; i < 800; i++) x[i] *= 1000;
  return x;
}

const F16_UP = 1 + 2 ** -10;

test('K-quant encoders: every weight within half its sub-block step, the step bounded by the sub-block range', () => {
  const x = kTestData(5);
  const nb = x.length / 256;
  // [type, sub-block length, levels 0..nmax, largest scale and min]
  for (const [type, len, nmax, scMax] of [[GT.Q2_K, 16, 3, 15], [GT.Q4_K, 32, 15, 63], [GT.Q5_K, 32, 31, 63]] as const) {
    const name = GGML_TYPES[type].name;
    const n = 256 / len;
    const y = decodeGgml(type, encodeGgml(type, x), x.length);
    for (let b = 0; b < nb; b++) {
      // step of sub-block j <= (its range from min(0, lowest) to highest + dmin) / nmax + d, where
      // dmin <= (largest -min(0, lowest)) / scMax and d <= (largest such range) / (scMax nmax), both f16 rounded up
      const lo = Array.from({ length: n }, (_, j) => Math.min(0, ...x.subarray(b * 256 + len * j, b * 256 + len * j + len)));
      const hi = Array.from({ length: n }, (_, j) => Math.max(...x.subarray(b * 256 + len * j, b * 256 + len * j + len)));
      const dmin = (Math.max(...lo.map((v) => -v)) / scMax) * F16_UP + 2 ** -24;
      const top = hi.map((h, j) => h - lo[j] + dmin);
      const d = (Math.max(...top) / (scMax * nmax)) * F16_UP + 2 ** -24;
      for (let j = 0; j < n; j++) {
        const step = top[j] / nmax + d;
        for (let l = 0; l < len; l++) {
          const i = b * 256 + len * j + l;
          const err = Math.abs(y[i] - x[i]);
          if (err > step / 2 + 1e-6 * (Math.abs(x[i]) + step)) assert.unreachable(`${name} weight ${i}: |${y[i]} - ${x[i]}| > half the step ${step}`);
        }
      }
    }
    for (let i = 0; i < 256; i++) assert.is(y[i], 0, `${name}: a zero super-block stays zero`);
  }
  // [type, levels -half..half-1, largest scale]
  for (const [type, half, scMax] of [[GT.Q3_K, 4, 31], [GT.Q6_K, 32, 127]] as const) {
    const name = GGML_TYPES[type].name;
    const y = decodeGgml(type, encodeGgml(type, x), x.length);
    for (let b = 0; b < nb; b++) {
      // step of sub-block j <= max|w| / (half - 0.5) + d, d <= largest such / scMax, f16 rounded up
      const amax = Array.from({ length: 16 }, (_, j) => Math.max(...Array.from(x.subarray(b * 256 + 16 * j, b * 256 + 16 * j + 16), Math.abs)));
      const d = (Math.max(...amax) / (half - 0.5) / scMax) * F16_UP + 2 ** -24;
      for (let i = b * 256; i < b * 256 + 256; i++) {
        const step = amax[(i - b * 256) >> 4] / (half - 0.5) + d;
        if (Math.abs(y[i] - x[i]) > step / 2 + 1e-6 * (Math.abs(x[i]) + step)) assert.unreachable(`${name} weight ${i}: |${y[i]} - ${x[i]}| > half the step ${step}`);
      }
    }
    for (let i = 0; i < 256; i++) assert.is(y[i], 0, `${name}: a zero super-block stays zero`);
  }
});

test('K-quant encoders: more bits, less error (Q6_K < Q5_K < Q4_K < Q3_K < Q2_K), Q4_K no worse than Q4_0 at the same 4.5 bits', () => {
  const x = kTestData(9).subarray(1024);
  const err = (t: number) => {
    const y = decodeGgml(t, encodeGgml(t, x), x.length);
    return Math.sqrt(y.reduce((a, v, i) => a + (v - x[i]) ** 2, 0) / x.reduce((a, v) => a + v * v, 0));
  };
  const [q2k, q3k, q4k, q5k, q6k, q40] = [GT.Q2_K, GT.Q3_K, GT.Q4_K, GT.Q5_K, GT.Q6_K, GT.Q4_0].map(err);
  assert.ok(q6k < q5k && q5k < q4k && q4k < q3k && q3k < q2k, `relative errors Q6_K ${q6k}, Q5_K ${q5k}, Q4_K ${q4k}, Q3_K ${q3k}, Q2_K ${q2k}`);
  assert.ok(q3k < 0.3 && q2k < 0.5, `relative errors Q3_K ${q3k}, Q2_K ${q2k}`);
  assert.ok(q4k <= q40, `Q4_K ${q4k} vs Q4_0 ${q40}`);
  assert.ok(q6k < 0.05 && q5k < 0.08 && q4k < 0.15, `relative errors Q6_K ${q6k}, Q5_K ${q5k}, Q4_K ${q4k}`);
});

test('K-quants need whole 256-weight super-blocks', () => {
  assert.throws(() => encodeGgml(GT.Q4_K, new Float32Array(128)), /Q4_K: 128 weights is not a whole number of 256-weight blocks/);
  assert.throws(() => decodeGgml(GT.Q6_K, new Uint8Array(210), 320), /Q6_K: 320 weights is not a whole number of 256-weight blocks/);
  for (const [type, name] of [[GT.Q2_K, 'Q2_K'], [GT.Q3_K, 'Q3_K'], [GT.IQ4_XS, 'IQ4_XS']] as const) {
    assert.throws(() => decodeGgml(type, new Uint8Array(136), 288), new RegExp(`${name}: 288 weights is not a whole number of 256-weight blocks`));
  }
});

test.run();
