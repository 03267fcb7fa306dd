// Llama 3's RoPE scaling (src/kernels/family.ts llama3Frequencies) against an independent
// computation: the per-pair divisors as llama.cpp's converter writes them into GGUF's rope_freqs
// (written here from that form: factor 1 / ((1 - smooth) / factor + smooth) in the blended band),
// and against what the formula must give at its ends on Llama 3.1 8B's parameters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dividedFrequencies, llama3Frequencies } from '../../src/kernels/family.ts';

const LLAMA31 = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeqLen: 8192 };

/** The divisor of each pair, by wavelength band (the converter's loop). */
function converterDivisors(headSize: number, theta: number, s: typeof LLAMA31): number[] {
  const lowWavelen = s.originalMaxSeqLen / s.lowFreqFactor;
  const highWavelen = s.originalMaxSeqLen / s.highFreqFactor;
  const out: number[] = [];
  for (let i = 0; i < headSize; i += 2) {
    const freq = 1 / theta ** (i / headSize);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out.push(1);
    else if (wavelen > lowWavelen) out.push(s.factor);
    else {
      const smooth = (s.originalMaxSeqLen / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return out;
}

test('llama3Frequencies = theta^(-2i/d) divided by the converter-form divisors, on Llama 3.1 8B and a small test shape', () => {
  for (const [hs, theta, s] of [[128, 500000, LLAMA31], [8, 10000, { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeqLen: 16 }], [64, 500000, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeqLen: 8192 }]] as const) {
    const got = llama3Frequencies(hs, theta, s);
    const want = dividedFrequencies(hs, theta, converterDivisors(hs, theta, s));
    for (let i = 0; i < hs / 2; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-15 * want[i], `hs ${hs} pair ${i}: ${got[i]} vs ${want[i]}`);
  }
});

test('Llama 3.1 8B: the fastest pair kept, the slowest divided by 8, the blend monotone between them', () => {
  const f = llama3Frequencies(128, 500000, LLAMA31);
  assert.is(f[0], 1);
  assert.ok(Math.abs(f[63] - 500000 ** (-126 / 128) / 8) <= 1e-15 * f[63]);
  const divisors = Array.from(f, (v, i) => 500000 ** ((-2 * i) / 128) / v);
  // the bands: wavelengths below 8192 / 4 = 2048 kept, above 8192 divided by 8, between strictly in (1, 8)
  let blended = 0;
  for (let i = 0; i < 64; i++) {
    const wavelen = 2 * Math.PI * 500000 ** ((2 * i) / 128);
    if (wavelen < 2048) assert.ok(Math.abs(divisors[i] - 1) < 1e-12, `pair ${i}`);
    else if (wavelen > 8192) assert.ok(Math.abs(divisors[i] - 8) < 1e-12, `pair ${i}`);
    else {
      blended++;
      assert.ok(divisors[i] > 1 && divisors[i] < 8 && divisors[i] > divisors[i - 1], `pair ${i}: ${divisors[i]}`);
    }
  }
  assert.ok(blended >= 3, `${blended} pairs in the blended band`);
});

test.run();
