// ggml block formats: dequantization of hand-computed blocks, and the quantizers' defining steps
// (ggml's reference quantize_row_q8_0/q4_0 and quantize_iq4_nl) on blocks worked out by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { UnsupportedError } from '../../src/util/errors.ts';
import {
  decodeGgml, dequantizeIq4Nl, dequantizeQ4_0, dequantizeQ8_0, encodeGgml, quantizeIq4Nl, quantizeQ4_0, quantizeQ8_0,
} from '../../tools/gguf/blocks.ts';
import { IQ4_NL_VALUES } from '../../tools/gguf/spec.ts';
import { lcg } from './_gguf.ts';

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
  assert.throws(() => decodeGgml(14, new Uint8Array(210), 256), (e: Error) => e instanceof UnsupportedError && /Q6_K/.test(e.message));
  assert.throws(() => encodeGgml(3, x), (e: Error) => e instanceof UnsupportedError && /Q4_1/.test(e.message));
});

test.run();
