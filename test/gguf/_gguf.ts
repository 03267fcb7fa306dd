// A small GGUF writer for tests, written from the GGUF v3 spec on its own (it shares no code with
// tools/gguf/), plus hand-built tensor blocks whose f32 values are computed here from the block
// definitions (not by tools/gguf/blocks.ts); and tokenizer.json fixtures for the tokenizer export.
import { writeFileSync } from 'node:fs';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import type { Checkpoint } from '../../tools/checkpoint/types.ts';

export type TestValue =
  | ['u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'u64' | 'i64' | 'f64', number]
  | ['bool', boolean]
  | ['string', string]
  | ['array', 'string', string[]]
  | ['array', 'f32' | 'i32' | 'u32' | 'u8', number[]];

const TYPE_IDS: Record<string, number> = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 };

export interface TestTensor {
  name: string;
  /** ggml ne, innermost first. */
  ne: number[];
  type: number;
  data: Uint8Array;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}

function scalar(t: string, v: number | boolean): Buffer {
  const b = Buffer.alloc(t === 'u64' || t === 'i64' || t === 'f64' ? 8 : t === 'u8' || t === 'i8' || t === 'bool' ? 1 : t === 'u16' || t === 'i16' ? 2 : 4);
  switch (t) {
    case 'u8': b.writeUInt8(v as number); break;
    case 'i8': b.writeInt8(v as number); break;
    case 'u16': b.writeUInt16LE(v as number); break;
    case 'i16': b.writeInt16LE(v as number); break;
    case 'u32': b.writeUInt32LE(v as number); break;
    case 'i32': b.writeInt32LE(v as number); break;
    case 'f32': b.writeFloatLE(v as number); break;
    case 'bool': b.writeUInt8(v ? 1 : 0); break;
    case 'u64': b.writeBigUInt64LE(BigInt(v as number)); break;
    case 'i64': b.writeBigInt64LE(BigInt(v as number)); break;
    case 'f64': b.writeDoubleLE(v as number); break;
  }
  return b;
}

const u32 = (v: number): Buffer => scalar('u32', v);
const u64 = (v: number): Buffer => scalar('u64', v);

function value(v: TestValue): Buffer {
  if (v[0] === 'string') return Buffer.concat([u32(8), str(v[1])]);
  if (v[0] === 'array') {
    const [, et, items] = v;
    const parts = (items as Array<string | number>).map((x) => (et === 'string' ? str(x as string) : scalar(et, x as number)));
    return Buffer.concat([u32(9), u32(TYPE_IDS[et]), u64(items.length), ...parts]);
  }
  return Buffer.concat([u32(TYPE_IDS[v[0]]), scalar(v[0], v[1] as number | boolean)]);
}

/** The bytes of a GGUF file (version 3 unless told), alignment 32, tensors in the order given. */
export function buildGguf(kvs: Array<[string, TestValue]>, tensors: TestTensor[], opts: { version?: number; magic?: string } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from(opts.magic ?? 'GGUF', 'latin1'), u32(opts.version ?? 3), u64(tensors.length), u64(kvs.length)];
  for (const [k, v] of kvs) parts.push(str(k), value(v));
  let off = 0;
  const pad = (n: number) => (32 - (n % 32)) % 32;
  for (const t of tensors) {
    parts.push(str(t.name), u32(t.ne.length), ...t.ne.map(u64), u32(t.type), u64(off));
    off += t.data.length + pad(t.data.length);
  }
  let head = Buffer.concat(parts);
  head = Buffer.concat([head, Buffer.alloc(pad(head.length))]);
  const data = tensors.flatMap((t) => [Buffer.from(t.data), Buffer.alloc(pad(t.data.length))]);
  return Buffer.concat([head, ...data]);
}

export function writeGgufFile(path: string, kvs: Array<[string, TestValue]>, tensors: TestTensor[], opts: { version?: number; magic?: string } = {}): Buffer {
  const b = buildGguf(kvs, tensors, opts);
  writeFileSync(path, b);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Hand-built tensors: bytes and the f32 values the block definitions give.

const f = Math.fround;

export interface Built {
  bytes: Uint8Array;
  values: Float32Array;
}

export function f32Tensor(values: Float32Array): Built {
  return { bytes: new Uint8Array(values.buffer.slice(0)), values };
}

/** F16 bits of `values` rounded; values are what those bits mean. */
export function f16Tensor(values: Float32Array): Built {
  const b = Buffer.alloc(values.length * 2);
  const out = new Float32Array(values.length);
  values.forEach((v, i) => {
    const h = floatToHalf(v);
    b.writeUInt16LE(h, 2 * i);
    out[i] = halfToFloat(h);
  });
  return { bytes: b, values: out };
}

/** Q8_0 blocks with scale bits `dBits[b]` and int8 quants q: w = d * q. */
export function q8Tensor(dBits: number[], q: Int8Array): Built {
  const nb = q.length / 32;
  const b = Buffer.alloc(nb * 34);
  const values = new Float32Array(q.length);
  for (let k = 0; k < nb; k++) {
    b.writeUInt16LE(dBits[k], k * 34);
    const d = halfToFloat(dBits[k]);
    for (let j = 0; j < 32; j++) {
      b.writeInt8(q[k * 32 + j], k * 34 + 2 + j);
      values[k * 32 + j] = d * q[k * 32 + j];
    }
  }
  return { bytes: b, values };
}

/**
 * 32-weight nibble blocks (ggml's block_q4_0, q4_1, q5_0, q5_1, iq4_nl): f16 d; with `mBits`, an f16
 * min m (Q4_1, Q5_1); with `high`, 4 bytes qh whose bit i (a little-endian u32) is bit 4 of quant i
 * (Q5_0, Q5_1); then 16 bytes holding the low 4 bits of weight j in byte j's low nibble and of weight
 * j+16 in its high nibble. w = d * level(q), + m in f32 when there is a min.
 */
export function nibbleTensor(dBits: number[], q: Uint8Array, level: (q: number) => number, opts: { mBits?: number[]; high?: boolean } = {}): Built {
  const nb = q.length / 32;
  const hasMin = opts.mBits !== undefined;
  const qh = hasMin ? 4 : 2;
  const qs = qh + (opts.high ? 4 : 0);
  const size = qs + 16;
  const b = Buffer.alloc(nb * size);
  const values = new Float32Array(q.length);
  for (let k = 0; k < nb; k++) {
    const o = k * size;
    b.writeUInt16LE(dBits[k], o);
    if (hasMin) b.writeUInt16LE(opts.mBits![k], o + 2);
    const d = halfToFloat(dBits[k]);
    const m = hasMin ? halfToFloat(opts.mBits![k]) : 0;
    let bits = 0;
    for (let i = 0; i < 32; i++) {
      const v = q[k * 32 + i];
      b[o + qs + (i % 16)] |= (v & 15) << (i < 16 ? 0 : 4);
      if (v >= 16) bits = (bits | (1 << i)) >>> 0;
      values[k * 32 + i] = hasMin ? f(f(d * level(v)) + m) : d * level(v);
    }
    if (opts.high) b.writeUInt32LE(bits, o + qh);
  }
  return { bytes: b, values };
}

export const q4Level = (q: number): number => q - 8;
export const q5Level = (q: number): number => q - 16;
export const minLevel = (q: number): number => q;
const IQ4 = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
export const iq4Level = (q: number): number => IQ4[q];

// K-quant super-blocks (256 weights), packed here field by field from ggml's block_q4_K, block_q5_K
// and block_q6_K descriptions; values computed in f32 in the order ggml's dequantize_row_* does.


/** One Q4_K/Q5_K super-block: f16 bits of d and dmin, 8 six-bit scales and mins, 256 quants. */
export interface KBlock45 {
  dBits: number;
  dminBits: number;
  sc: number[];
  m: number[];
  q: number[];
}

/**
 * Q4_K (bits 4, 144 bytes) or Q5_K (bits 5, 176 bytes) blocks. Layout: d, dmin (f16); 12 bytes
 * `scales`: for sub-block j < 4, scale = scales[j] & 63 and min = scales[j+4] & 63; for j >= 4,
 * scale = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4 and min = (scales[j+4] >> 4) | (scales[j] >> 6) << 4;
 * Q5_K only: 32 bytes qh, where bit j of qh[l] is bit 4 of weight l of sub-block j; then 128 bytes
 * qs: weight l of sub-block 2c in the low nibble of qs[32c + l], of sub-block 2c+1 in its high
 * nibble. w = (d*scale) * q - dmin*min.
 */
export function k45Tensor(blocks: KBlock45[], bits: 4 | 5): Built {
  const size = bits === 4 ? 144 : 176;
  const b = Buffer.alloc(blocks.length * size);
  const values = new Float32Array(blocks.length * 256);
  blocks.forEach((blk, k) => {
    const o = k * size;
    b.writeUInt16LE(blk.dBits, o);
    b.writeUInt16LE(blk.dminBits, o + 2);
    const scales = o + 4;
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        b[scales + j] |= blk.sc[j];
        b[scales + j + 4] |= blk.m[j];
      } else {
        b[scales + j + 4] |= (blk.sc[j] & 15) | ((blk.m[j] & 15) << 4);
        b[scales + j - 4] |= (blk.sc[j] >> 4) << 6;
        b[scales + j] |= (blk.m[j] >> 4) << 6;
      }
    }
    const qh = o + 16;
    const qs = o + (bits === 4 ? 16 : 48);
    const d = halfToFloat(blk.dBits);
    const dmin = halfToFloat(blk.dminBits);
    for (let j = 0; j < 8; j++) {
      for (let l = 0; l < 32; l++) {
        const q = blk.q[32 * j + l];
        b[qs + 32 * Math.floor(j / 2) + l] |= (q & 15) << (j % 2 === 0 ? 0 : 4);
        if (bits === 5 && q >= 16) b[qh + l] |= 1 << j;
        values[k * 256 + 32 * j + l] = f(f(f(d * blk.sc[j]) * q) - f(dmin * blk.m[j]));
      }
    }
  });
  return { bytes: b, values };
}

/** One Q6_K super-block: f16 bits of d, 16 int8 scales (one per 16 weights), 256 quants 0..63. */
export interface KBlock6 {
  dBits: number;
  sc: number[];
  q: number[];
}

/**
 * Q6_K blocks (210 bytes): 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. In each 128-weight half
 * h, weight 32k + l (k = 0..3, l < 32) keeps its low 4 bits in ql[64h + l] (k = 0: low nibble,
 * k = 2: high nibble) or ql[64h + 32 + l] (k = 1: low, k = 3: high), and its top 2 bits in bits
 * 2k, 2k+1 of qh[32h + l]; weight i uses scales[i / 16]. w = (d*scale) * (q - 32).
 */
export function q6kTensor(blocks: KBlock6[]): Built {
  const b = Buffer.alloc(blocks.length * 210);
  const values = new Float32Array(blocks.length * 256);
  blocks.forEach((blk, k) => {
    const o = k * 210;
    for (let j = 0; j < 16; j++) b.writeInt8(blk.sc[j], o + 192 + j);
    b.writeUInt16LE(blk.dBits, o + 208);
    const d = halfToFloat(blk.dBits);
    for (let h = 0; h < 2; h++) {
      for (let kk = 0; kk < 4; kk++) {
        for (let l = 0; l < 32; l++) {
          const i = 128 * h + 32 * kk + l;
          const q = blk.q[i];
          const ql = o + 64 * h + (kk === 1 || kk === 3 ? 32 : 0) + l;
          b[ql] |= (q & 15) << (kk >= 2 ? 4 : 0);
          b[o + 128 + 32 * h + l] |= (q >> 4) << (2 * kk);
          values[k * 256 + i] = f(f(d * blk.sc[Math.floor(i / 16)]) * (q - 32));
        }
      }
    }
  });
  return { bytes: b, values };
}

/** One Q2_K super-block: f16 bits of d and dmin, 16 four-bit scales and mins, 256 quants 0..3. */
export interface KBlock2 {
  dBits: number;
  dminBits: number;
  sc: number[];
  m: number[];
  q: number[];
}

/**
 * The 2-bit quants of Q2_K and Q3_K, as ggml's dequantize_row_q2_K walks them: for each 128-weight
 * half h, qs bytes 32h..32h+31 hold four 32-weight runs r = 0..3, run r in bits 2r, 2r+1.
 */
function pack2Bit(b: Buffer, qs: number, q: number[]): void {
  for (let h = 0; h < 2; h++) {
    for (let r = 0; r < 4; r++) {
      for (let l = 0; l < 32; l++) b[qs + 32 * h + l] |= (q[128 * h + 32 * r + l] & 3) << (2 * r);
    }
  }
}

/**
 * Q2_K blocks (84 bytes): 16 bytes scales (sub-block j of 16 weights: scale in the low nibble of
 * byte j, min in its high nibble), 64 bytes qs (pack2Bit), f16 d, f16 dmin.
 * w = (d*scale) * q - dmin*min.
 */
export function q2kTensor(blocks: KBlock2[]): Built {
  const b = Buffer.alloc(blocks.length * 84);
  const values = new Float32Array(blocks.length * 256);
  blocks.forEach((blk, k) => {
    const o = k * 84;
    for (let j = 0; j < 16; j++) b[o + j] = blk.sc[j] | (blk.m[j] << 4);
    pack2Bit(b, o + 16, blk.q);
    b.writeUInt16LE(blk.dBits, o + 80);
    b.writeUInt16LE(blk.dminBits, o + 82);
    const d = halfToFloat(blk.dBits);
    const dmin = halfToFloat(blk.dminBits);
    for (let i = 0; i < 256; i++) {
      const j = Math.floor(i / 16);
      values[k * 256 + i] = f(f(f(d * blk.sc[j]) * blk.q[i]) - f(dmin * blk.m[j]));
    }
  });
  return { bytes: b, values };
}

/** One Q3_K super-block: f16 bits of d, 16 six-bit scales (stored values 0..63), 256 quants 0..7. */
export interface KBlock3 {
  dBits: number;
  sc: number[];
  q: number[];
}

/**
 * Q3_K blocks (110 bytes): 32 bytes hmask, 64 bytes qs, 12 bytes scales, f16 d. Quant q's low 2 bits
 * go to qs (pack2Bit) and its bit 2 to bit i / 32 of hmask[i % 32]. Scale j (0..15): low 4 bits in
 * the low nibble of scales[j] (j < 8) or the high nibble of scales[j - 8], top 2 bits in bits
 * 2*floor(j / 4), +1 of scales[8 + j % 4]. w = (d*(scale - 32)) * (q - 4).
 */
export function q3kTensor(blocks: KBlock3[]): Built {
  const b = Buffer.alloc(blocks.length * 110);
  const values = new Float32Array(blocks.length * 256);
  blocks.forEach((blk, k) => {
    const o = k * 110;
    for (let i = 0; i < 256; i++) if (blk.q[i] & 4) b[o + (i % 32)] |= 1 << Math.floor(i / 32);
    pack2Bit(b, o + 32, blk.q);
    for (let j = 0; j < 16; j++) {
      b[o + 96 + (j % 8)] |= (blk.sc[j] & 15) << (j < 8 ? 0 : 4);
      b[o + 96 + 8 + (j % 4)] |= (blk.sc[j] >> 4) << (2 * Math.floor(j / 4));
    }
    b.writeUInt16LE(blk.dBits, o + 108);
    const d = halfToFloat(blk.dBits);
    for (let i = 0; i < 256; i++) values[k * 256 + i] = f(f(d * (blk.sc[Math.floor(i / 16)] - 32)) * (blk.q[i] - 4));
  });
  return { bytes: b, values };
}

/** One IQ4_XS super-block: f16 bits of d, 8 six-bit scales (stored values 0..63), 256 table indices. */
export interface KBlockIq4Xs {
  dBits: number;
  sc: number[];
  q: number[];
}

/**
 * IQ4_XS blocks (136 bytes): f16 d, u16 scales_h (bits 2j, 2j+1: the top 2 bits of scale j), 4 bytes
 * scales_l (scale j's low 4 bits in the low nibble of byte j/2 for even j, the high nibble for odd
 * j), 128 bytes qs: sub-block j of 32 weights in qs[16j..16j+15], weight l in the low nibble of byte
 * l and weight l + 16 in the high one. w = (d*(scale - 32)) * IQ4_NL[q].
 */
export function iq4XsTensor(blocks: KBlockIq4Xs[]): Built {
  const b = Buffer.alloc(blocks.length * 136);
  const values = new Float32Array(blocks.length * 256);
  blocks.forEach((blk, k) => {
    const o = k * 136;
    b.writeUInt16LE(blk.dBits, o);
    let scalesH = 0;
    for (let j = 0; j < 8; j++) {
      scalesH |= (blk.sc[j] >> 4) << (2 * j);
      b[o + 4 + Math.floor(j / 2)] |= (blk.sc[j] & 15) << (j % 2 ? 4 : 0);
      for (let l = 0; l < 16; l++) b[o + 8 + 16 * j + l] = blk.q[32 * j + l] | (blk.q[32 * j + 16 + l] << 4);
    }
    b.writeUInt16LE(scalesH, o + 2);
    const d = halfToFloat(blk.dBits);
    for (let i = 0; i < 256; i++) values[k * 256 + i] = f(f(d * (blk.sc[Math.floor(i / 32)] - 32)) * IQ4[blk.q[i]]);
  });
  return { bytes: b, values };
}

/** Deterministic small pseudo-random numbers (LCG) for test data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// ---------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json files for the tokenizer export tests

/**
 * A SentencePiece-style tokenizer.json (as Llama 2's: Prepend/Replace normalizer, byte fallback with
 * all 256 <0xNN> pieces) of 270 tokens. Merge ranks: "▁ a" 0, "a b" 1, "▁a b" 2, "b c" 3, "▁ c" 4.
 */
export function spTokenizerJson(): string {
  const pieces = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    '\u2581', 'a', 'b', '\n', '\u2581a', 'ab', '\u2581ab', 'c', 'bc', '\u2581c', 'x'];
  return JSON.stringify({
    version: '1.0',
    added_tokens: pieces.slice(0, 3).map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: Object.fromEntries(pieces.map((p, i) => [p, i])), merges: ['\u2581 a', 'a b', '\u2581a b', 'b c', '\u2581 c'] },
  });
}

/**
 * A GPT-2-style byte-level tokenizer.json (ByteLevel pre-tokenizer with its regex, ByteLevel decoder)
 * of 270 tokens: byte b has id b (its GPT-2 character), merges 0..12 give ids 256..268, then
 * <|endoftext|> 269, a special added token.
 */
export function byteLevelTokenizerJson(): string {
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest get code points from 256 on
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars[b] = String.fromCodePoint(printable ? b : next++);
  }
  const vocab: Record<string, number> = Object.fromEntries(chars.map((c, b) => [c, b]));
  const merges = [['\u0120', 't'], ['h', 'e'], ['\u0120t', 'he'], ['\u0120', 'c'], ['a', 't'], ['\u0120c', 'at'], ["'", 's'], ['1', '2'], ['12', '3'], ['\u0120', '\u0120'], ['\u010a', '\u010a'], ['\u0120', 'a'], ['o', 'n']];
  merges.forEach(([a, b], i) => (vocab[a + b] = 256 + i));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 269, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: bl,
    post_processor: { ...bl, trim_offsets: false },
    decoder: bl,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map((m) => m.join(' ')) },
  });
}

/** Texts for the tokenizer export tests: ASCII, runs of spaces, newlines, non-ASCII. */
export const TOKENIZER_SAMPLES = ['ab abc', ' a\nb  c\n\n', 'xa b', 'a \u00e9 b', 'Once upon a time, the cat\'s "Hi!" 123'];

/** A synthetic model (f32 records) as a Checkpoint with the given tokenizer. */
export function checkpointOf(m: { config: ModelConfig; records: TensorRecord[] }, tokenizer: TokenizerSpec | undefined, source = 'fake'): Checkpoint {
  const rec = (n: string) => m.records.find((r) => r.name === n) as Extract<TensorRecord, { kind: 'f32' }>;
  return { source, config: m.config, tokenizer, names: () => m.records.map((r) => r.name), shape: (n) => rec(n).shape, read: async (n) => rec(n).data, close: async () => {} };
}
