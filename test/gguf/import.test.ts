// GGUF import against hand-built files: a tiny llama GGUF written here from the spec, with tensors in
// every supported type whose values are computed from the block definitions (the K-quants in a
// model of dim 256), and the refusals (other architecture, unknown tensor type, truncated file,
// rows that are not whole blocks, block data cut short, ...).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { FormatError, SqzError, UnsupportedError } from '../../src/util/errors.ts';
import {
  type Built, type TestTensor, type TestValue, buildGguf, f16Tensor, f32Tensor, iq4Level, iq4XsTensor, k45Tensor, lcg, minLevel, nibbleTensor, q2kTensor, q3kTensor, q4Level, q5Level, q6kTensor, q8Tensor,
} from './_gguf.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-gguf-import-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// dim 32, hidden 64, 1 layer, 4 heads, 2 kv heads (head size 8), vocab 8, context 16
const DIM = 32;
const HIDDEN = 64;
const KV = 16;
const TOKENS = ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b', '\u2581a', 'ab'];
const SCORES = [0, 0, 0, -1, -2, -3, -4, -5];

function baseKv(over: Record<string, TestValue | null> = {}): Array<[string, TestValue]> {
  const kv: Record<string, TestValue | null> = {
    'general.architecture': ['string', 'llama'],
    'general.name': ['string', 'tiny'],
    'llama.context_length': ['u32', 16],
    'llama.embedding_length': ['u32', DIM],
    'llama.block_count': ['u32', 1],
    'llama.feed_forward_length': ['u32', HIDDEN],
    'llama.rope.dimension_count': ['u32', 8],
    'llama.attention.head_count': ['u32', 4],
    'llama.attention.head_count_kv': ['u64', 2],
    'llama.attention.layer_norm_rms_epsilon': ['f32', 1e-5],
    'llama.rope.freq_base': ['f32', 500000],
    'tokenizer.ggml.model': ['string', 'llama'],
    'tokenizer.ggml.tokens': ['array', 'string', TOKENS],
    'tokenizer.ggml.scores': ['array', 'f32', SCORES],
    'tokenizer.ggml.token_type': ['array', 'i32', [2, 3, 3, 1, 1, 1, 1, 1]],
    'tokenizer.ggml.bos_token_id': ['u32', 1],
    'tokenizer.ggml.eos_token_id': ['u32', 2],
    ...over,
  };
  return Object.entries(kv).filter((e): e is [string, TestValue] => e[1] !== null);
}

function normalValues(n: number, seed: number, scale = 1): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

const dBits = (nb: number, seed: number): number[] => {
  const r = lcg(seed);
  // f16 scales between 2^-8 and 2^-4, either sign
  return Array.from({ length: nb }, () => (r() < 0.5 ? 0x8000 : 0) | ((7 + Math.floor(r() * 4)) << 10) | Math.floor(r() * 1024));
};

function q8(rows: number, cols: number, seed: number): Built {
  const r = lcg(seed);
  const q = Int8Array.from({ length: rows * cols }, () => Math.floor(r() * 256) - 128);
  return q8Tensor(dBits((rows * cols) / 32, seed + 1), q);
}

/** Nibble blocks (Q4_0, IQ4_NL); with `opts`, a min (Q4_1, Q5_1) and/or the fifth bits (Q5_0, Q5_1). */
function nib(rows: number, cols: number, seed: number, level: (q: number) => number, opts: { min?: boolean; high?: boolean } = {}): Built {
  const r = lcg(seed);
  const nb = (rows * cols) / 32;
  const q = Uint8Array.from({ length: rows * cols }, () => Math.floor(r() * (opts.high ? 32 : 16)));
  return nibbleTensor(dBits(nb, seed + 1), q, level, { high: opts.high, mBits: opts.min ? dBits(nb, seed + 2) : undefined });
}

interface Model {
  tensors: TestTensor[];
  /** Canonical name -> expected f32 values. */
  expected: Map<string, Float32Array>;
}

/** Every tensor of the tiny model, each type used at least once; `head` adds output.weight (untied). */
function tinyModel(head: boolean): Model {
  const expected = new Map<string, Float32Array>();
  const tensors: TestTensor[] = [];
  const add = (canonical: string, name: string, shape: number[], type: number, b: Built) => {
    tensors.push({ name, ne: shape.slice().reverse(), type, data: b.bytes });
    expected.set(canonical, b.values);
  };
  add('embed', 'token_embd.weight', [8, DIM], 8, q8(8, DIM, 1));
  add('layers.0.attn_norm', 'blk.0.attn_norm.weight', [DIM], 0, f32Tensor(normalValues(DIM, 2)));
  add('layers.0.attn.q', 'blk.0.attn_q.weight', [DIM, DIM], 2, nib(DIM, DIM, 3, q4Level));
  add('layers.0.attn.k', 'blk.0.attn_k.weight', [KV, DIM], 7, nib(KV, DIM, 4, minLevel, { min: true, high: true }));
  add('layers.0.attn.v', 'blk.0.attn_v.weight', [KV, DIM], 0, f32Tensor(normalValues(KV * DIM, 5, 0.3)));
  add('layers.0.attn.o', 'blk.0.attn_output.weight', [DIM, DIM], 20, nib(DIM, DIM, 6, iq4Level));
  add('layers.0.mlp_norm', 'blk.0.ffn_norm.weight', [DIM], 0, f32Tensor(normalValues(DIM, 7)));
  add('layers.0.mlp.gate', 'blk.0.ffn_gate.weight', [HIDDEN, DIM], 3, nib(HIDDEN, DIM, 8, minLevel, { min: true }));
  add('layers.0.mlp.up', 'blk.0.ffn_up.weight', [HIDDEN, DIM], 6, nib(HIDDEN, DIM, 9, q5Level, { high: true }));
  add('layers.0.mlp.down', 'blk.0.ffn_down.weight', [DIM, HIDDEN], 1, f16Tensor(normalValues(DIM * HIDDEN, 10, 0.2)));
  add('norm', 'output_norm.weight', [DIM], 0, f32Tensor(normalValues(DIM, 11)));
  if (head) add('head', 'output.weight', [8, DIM], 0, f32Tensor(normalValues(8 * DIM, 12)));
  return { tensors, expected };
}

/** Every tensor of `ck` is bit for bit the expected values. */
async function readsBackExactly(ck: Awaited<ReturnType<typeof openCheckpoint>>, expected: Map<string, Float32Array>): Promise<void> {
  for (const [name, want] of expected) {
    const got = await ck.read(name);
    assert.is(got.length, want.length, name);
    for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.unreachable(`${name}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

let fileNo = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `m${fileNo++}.gguf`);
  writeFileSync(p, bytes);
  return p;
}

async function rejects(p: Promise<unknown>, cls: typeof SqzError, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, cls, `expected ${cls.name}, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${cls.name} matching ${pattern}`);
}

/** Opening `bytes` as a GGUF fails with a one-line FormatError matching `pattern`. */
async function oneLine(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const e = await openCheckpoint(file(bytes)).then((ck) => (ck.close(), null), (err: Error) => err);
  assert.instance(e, FormatError, e ? e.message : 'expected a FormatError');
  assert.match(e!.message, pattern);
  assert.not.match(e!.message, /\n/);
}

for (const head of [false, true]) {
  test(`hand-built GGUF (${head ? 'untied' : 'tied'}): config, tokenizer and every tensor type read back exactly`, async () => {
    const m = tinyModel(head);
    const path = file(buildGguf(baseKv(), m.tensors));
    const ck = await openCheckpoint(path);
    try {
      assert.equal(ck.config, {
        arch: 'llama', dim: DIM, hiddenDim: HIDDEN, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 8, maxSeqLen: 16,
        ropeTheta: 500000, normEps: 1e-5, tiedEmbeddings: !head, rope: 'interleaved',
      });
      assert.is(ck.source, `GGUF ${path.split('/').pop()}`);
      assert.equal(ck.tokenizer, { kind: 'llama2c', pieces: ['<unk>', '<s>', '</s>', ' ', 'a', 'b', ' a', 'ab'], scores: SCORES, bos: 1, eos: 2 });
      // "a ab": BOS, then " a" (dummy prefix merged), " a" ... the score-driven merges of llama2.c
      const tok = createTokenizer(ck.tokenizer!);
      assert.equal(tok.encode('a ab'), [1, 6, 6, 5]);
      assert.equal(ck.names(), [...m.expected.keys()]);
      await readsBackExactly(ck, m.expected);
    } finally {
      await ck.close();
    }
  });
}

// dim 256, hidden 256 (head size 64, kv dim 128): every matrix row is one 256-weight super-block
const KDIM = 256;
const kKv = baseKv({ 'llama.embedding_length': ['u32', KDIM], 'llama.feed_forward_length': ['u32', KDIM], 'llama.rope.dimension_count': ['u32', 64] });

function kTensor(rows: number, cols: number, type: 12 | 13 | 14, seed: number): Built {
  const r = lcg(seed);
  const int = (n: number) => Math.floor(r() * n);
  const halfBits = () => ((4 + int(6)) << 10) | int(1024);
  const nb = (rows * cols) / 256;
  if (type === 14) return q6kTensor(Array.from({ length: nb }, () => ({ dBits: halfBits(), sc: Array.from({ length: 16 }, () => int(256) - 128), q: Array.from({ length: 256 }, () => int(64)) })));
  const bits = type === 12 ? 4 : 5;
  return k45Tensor(
    Array.from({ length: nb }, () => ({ dBits: halfBits(), dminBits: halfBits(), sc: Array.from({ length: 8 }, () => int(64)), m: Array.from({ length: 8 }, () => int(64)), q: Array.from({ length: 256 }, () => int(1 << bits)) })),
    bits,
  );
}

/** The tiny model with dim 256 and its matrices in Q4_K, Q5_K and Q6_K. */
function kModel(): Model {
  const expected = new Map<string, Float32Array>();
  const tensors: TestTensor[] = [];
  const add = (canonical: string, name: string, shape: number[], type: number, b: Built) => {
    tensors.push({ name, ne: shape.slice().reverse(), type, data: b.bytes });
    expected.set(canonical, b.values);
  };
  add('embed', 'token_embd.weight', [8, KDIM], 12, kTensor(8, KDIM, 12, 1));
  add('layers.0.attn_norm', 'blk.0.attn_norm.weight', [KDIM], 0, f32Tensor(normalValues(KDIM, 2)));
  add('layers.0.attn.q', 'blk.0.attn_q.weight', [KDIM, KDIM], 13, kTensor(KDIM, KDIM, 13, 3));
  add('layers.0.attn.k', 'blk.0.attn_k.weight', [128, KDIM], 14, kTensor(128, KDIM, 14, 4));
  add('layers.0.attn.v', 'blk.0.attn_v.weight', [128, KDIM], 12, kTensor(128, KDIM, 12, 5));
  add('layers.0.attn.o', 'blk.0.attn_output.weight', [KDIM, KDIM], 14, kTensor(KDIM, KDIM, 14, 6));
  add('layers.0.mlp_norm', 'blk.0.ffn_norm.weight', [KDIM], 0, f32Tensor(normalValues(KDIM, 7)));
  add('layers.0.mlp.gate', 'blk.0.ffn_gate.weight', [KDIM, KDIM], 13, kTensor(KDIM, KDIM, 13, 8));
  add('layers.0.mlp.up', 'blk.0.ffn_up.weight', [KDIM, KDIM], 12, kTensor(KDIM, KDIM, 12, 9));
  add('layers.0.mlp.down', 'blk.0.ffn_down.weight', [KDIM, KDIM], 14, kTensor(KDIM, KDIM, 14, 10));
  add('norm', 'output_norm.weight', [KDIM], 0, f32Tensor(normalValues(KDIM, 11)));
  return { tensors, expected };
}

test('hand-built GGUF with Q4_K, Q5_K and Q6_K matrices (dim 256): every tensor reads back exactly', async () => {
  const m = kModel();
  const ck = await openCheckpoint(file(buildGguf(kKv, m.tensors)));
  try {
    assert.is(ck.config.dim, KDIM);
    await readsBackExactly(ck, m.expected);
  } finally {
    await ck.close();
  }
});

test('K-quant refusals: rows that are not whole super-blocks, data cut short; one line naming the tensor', async () => {
  // hidden 128: ffn_down rows are 128 weights, half a Q6_K super-block
  const m = kModel();
  const half = m.tensors.map((t) =>
    t.name === 'blk.0.ffn_down.weight' ? { ...t, ne: [128, KDIM], data: t.data.subarray(0, 128 * 210) }
    : t.name === 'blk.0.ffn_gate.weight' || t.name === 'blk.0.ffn_up.weight' ? { ...t, ne: [KDIM, 128], data: t.data.subarray(0, t.data.length / 2) }
    : t);
  await oneLine(buildGguf(baseKv({ ...Object.fromEntries(kKv), 'llama.feed_forward_length': ['u32', 128] }), half), /tensor blk\.0\.ffn_down\.weight has 128 columns, not a multiple of Q6_K's block of 256/);
  // a Q5_K tensor placed last, its data cut 10 blocks short
  const last = [...m.tensors.filter((t) => t.name !== 'blk.0.attn_q.weight'), m.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!];
  const cut = buildGguf(kKv, last);
  await oneLine(cut.subarray(0, cut.length - 176 * 10), /truncated: tensor blk\.0\.attn_q\.weight \(Q5_K\) needs bytes \d+\.\.\d+, the file has \d+/);
});

/** Q2_K (10), Q3_K (11) or IQ4_XS (23) blocks with random fields, for a rows x cols matrix. */
function lowBitTensor(rows: number, cols: number, type: 10 | 11 | 23, seed: number): Built {
  const r = lcg(seed);
  const int = (n: number) => Math.floor(r() * n);
  const halfBits = () => ((4 + int(6)) << 10) | int(1024);
  const nb = (rows * cols) / 256;
  const ints = (count: number, n: number) => Array.from({ length: count }, () => int(n));
  if (type === 10) return q2kTensor(Array.from({ length: nb }, () => ({ dBits: halfBits(), dminBits: halfBits(), sc: ints(16, 16), m: ints(16, 16), q: ints(256, 4) })));
  if (type === 11) return q3kTensor(Array.from({ length: nb }, () => ({ dBits: halfBits(), sc: ints(16, 64), q: ints(256, 8) })));
  return iq4XsTensor(Array.from({ length: nb }, () => ({ dBits: halfBits(), sc: ints(8, 64), q: ints(256, 16) })));
}

/** kModel with its matrices in Q2_K, Q3_K and IQ4_XS (as llama.cpp's Q2_K, Q3_K_* and IQ4_XS mixes store them). */
function lowBitModel(): Model {
  const m = kModel();
  const types: Record<string, 10 | 11 | 23> = {
    'token_embd.weight': 10, 'blk.0.attn_q.weight': 11, 'blk.0.attn_k.weight': 23, 'blk.0.attn_v.weight': 10,
    'blk.0.attn_output.weight': 11, 'blk.0.ffn_gate.weight': 23, 'blk.0.ffn_up.weight': 10, 'blk.0.ffn_down.weight': 11,
  };
  const canonical: Record<string, string> = {
    'token_embd.weight': 'embed', 'blk.0.attn_q.weight': 'layers.0.attn.q', 'blk.0.attn_k.weight': 'layers.0.attn.k', 'blk.0.attn_v.weight': 'layers.0.attn.v',
    'blk.0.attn_output.weight': 'layers.0.attn.o', 'blk.0.ffn_gate.weight': 'layers.0.mlp.gate', 'blk.0.ffn_up.weight': 'layers.0.mlp.up', 'blk.0.ffn_down.weight': 'layers.0.mlp.down',
  };
  const tensors = m.tensors.map((t, k) => {
    const type = types[t.name];
    if (type === undefined) return t;
    const b = lowBitTensor(t.ne[1], t.ne[0], type, 40 + k);
    m.expected.set(canonical[t.name], b.values);
    return { ...t, type, data: b.bytes };
  });
  return { tensors, expected: m.expected };
}

test('hand-built GGUF with Q2_K, Q3_K and IQ4_XS matrices (dim 256): every tensor reads back exactly', async () => {
  const m = lowBitModel();
  const ck = await openCheckpoint(file(buildGguf(kKv, m.tensors)));
  try {
    await readsBackExactly(ck, m.expected);
  } finally {
    await ck.close();
  }
});

test('Q2_K/Q3_K/IQ4_XS refusals: rows that are not whole super-blocks, data cut short; one line naming the tensor', async () => {
  const m = lowBitModel();
  for (const [name, type, size] of [['blk.0.ffn_up.weight', 'Q2_K', 84], ['blk.0.attn_output.weight', 'Q3_K', 110], ['blk.0.attn_k.weight', 'IQ4_XS', 136]] as const) {
    // the tensor placed last, its data cut one block (and then one byte) short
    const last = [...m.tensors.filter((t) => t.name !== name), m.tensors.find((t) => t.name === name)!];
    const whole = buildGguf(kKv, last);
    const pad = (32 - (last[last.length - 1].data.length % 32)) % 32;
    for (const cut of [pad + size, pad + 1]) {
      await oneLine(whole.subarray(0, whole.length - cut), new RegExp(`truncated: tensor ${name.replace(/\./g, '\\.')} \\(${type}\\) needs bytes \\d+\\.\\.\\d+, the file has \\d+`));
    }
  }
  // hidden 128: ffn_down (Q3_K) rows are 128 weights, half a super-block; ffn_gate (IQ4_XS) and ffn_up (Q2_K) are [128, 256]
  const half = m.tensors.map((t) =>
    t.name === 'blk.0.ffn_down.weight' ? { ...t, ne: [128, KDIM], data: t.data.subarray(0, 128 * 110) }
    : t.name === 'blk.0.ffn_gate.weight' || t.name === 'blk.0.ffn_up.weight' ? { ...t, ne: [KDIM, 128], data: t.data.subarray(0, t.data.length / 2) }
    : t);
  await oneLine(buildGguf(baseKv({ ...Object.fromEntries(kKv), 'llama.feed_forward_length': ['u32', 128] }), half), /tensor blk\.0\.ffn_down\.weight has 128 columns, not a multiple of Q3_K's block of 256/);
  // the same for Q2_K and IQ4_XS rows: ffn_down in each type
  for (const [type, name] of [[10, 'Q2_K'], [23, 'IQ4_XS']] as const) {
    const down = half.map((t) => (t.name === 'blk.0.ffn_down.weight' ? { ...t, type } : t));
    await oneLine(buildGguf(baseKv({ ...Object.fromEntries(kKv), 'llama.feed_forward_length': ['u32', 128] }), down), new RegExp(`tensor blk\\.0\\.ffn_down\\.weight has 128 columns, not a multiple of ${name}'s block of 256`));
  }
});

test('Q4_1/Q5_0/Q5_1 refusals: rows that are not whole 32-weight blocks, block data cut short; one line naming the tensor', async () => {
  const m = tinyModel(false);
  for (const [name, type, size] of [['blk.0.ffn_gate.weight', 'Q4_1', 20], ['blk.0.ffn_up.weight', 'Q5_0', 22], ['blk.0.attn_k.weight', 'Q5_1', 24]] as const) {
    // the tensor placed last, its data cut one block (and then one byte) short
    const last = [...m.tensors.filter((t) => t.name !== name), m.tensors.find((t) => t.name === name)!];
    const whole = buildGguf(baseKv(), last);
    const pad = (32 - (last[last.length - 1].data.length % 32)) % 32;
    for (const cut of [pad + size, pad + 1]) {
      await oneLine(whole.subarray(0, whole.length - cut), new RegExp(`truncated: tensor ${name.replace(/\./g, '\\.')} \\(${type}\\) needs bytes \\d+\\.\\.\\d+, the file has \\d+`));
    }
  }
  // hidden 48: ffn_down rows of 48 weights, a block and a half
  const ffn = (name: string, ne: number[], type: number, b: Built) => ({ name, ne, type, data: b.bytes });
  const h48 = m.tensors.map((t) =>
    t.name === 'blk.0.ffn_down.weight' ? ffn(t.name, [48, DIM], 7, nib(DIM, 48, 20, minLevel, { min: true, high: true }))
    : t.name === 'blk.0.ffn_gate.weight' || t.name === 'blk.0.ffn_up.weight' ? ffn(t.name, [DIM, 48], 2, nib(48, DIM, 21, q4Level))
    : t);
  await oneLine(buildGguf(baseKv({ 'llama.feed_forward_length': ['u32', 48] }), h48), /tensor blk\.0\.ffn_down\.weight has 48 columns, not a multiple of Q5_1's block of 32/);
});

test('bigger metadata than the first read, nested arrays, every scalar type: parsed', async () => {
  const m = tinyModel(false);
  const big = Array.from({ length: 40000 }, (_, i) => `padding-string-${i}`);
  const kvs = baseKv({
    'x.big': ['array', 'string', big],
    'x.u8': ['u8', 200], 'x.i8': ['i8', -5], 'x.u16': ['u16', 60000], 'x.i16': ['i16', -300], 'x.i32': ['i32', -7],
    'x.i64': ['i64', -9], 'x.f64': ['f64', 0.25], 'x.bool': ['bool', true],
  });
  const ck = await openCheckpoint(file(buildGguf(kvs, m.tensors)));
  assert.is(ck.config.dim, DIM);
  assert.equal(Array.from(await ck.read('norm')), Array.from(m.expected.get('norm')!));
  await ck.close();
});

test('refused: another architecture, an unknown or unsupported tensor type, a foreign tokenizer', async () => {
  const m = tinyModel(false);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'general.architecture': ['string', 'gpt2'] }), m.tensors))), UnsupportedError, /architecture 'gpt2' is not supported/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'general.architecture': null }), m.tensors))), FormatError, /general\.architecture is missing/);

  const iq2 = m.tensors.map((t) => (t.name === 'blk.0.ffn_up.weight' ? { ...t, type: 16 } : t));
  await rejects(openCheckpoint(file(buildGguf(baseKv(), iq2))), UnsupportedError, /blk\.0\.ffn_up\.weight \(layers\.0\.mlp\.up\) has type IQ2_XXS, which is not supported \(supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16\)/);
  const t99 = m.tensors.map((t) => (t.name === 'blk.0.attn_k.weight' ? { ...t, type: 99 } : t));
  await rejects(openCheckpoint(file(buildGguf(baseKv(), t99))), UnsupportedError, /blk\.0\.attn_k\.weight .*unknown type 99/);

  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'tokenizer.ggml.model': ['string', 'bert'] }), m.tensors))), UnsupportedError, /tokenizer\.ggml\.model 'bert' is not supported/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'tokenizer.ggml.model': ['string', 'gpt2'] }), m.tensors))), FormatError, /tokenizer\.ggml\.merges \(an array of strings\) is missing/);
  const bias = [...m.tensors, { name: 'blk.0.attn_q.bias', ne: [DIM], type: 0, data: new Uint8Array(DIM * 4) }];
  await rejects(openCheckpoint(file(buildGguf(baseKv(), bias))), UnsupportedError, /blk\.0\.attn_q\.bias is not supported/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.rope.scaling.type': ['string', 'yarn'] }), m.tensors))), UnsupportedError, /RoPE scaling 'yarn'/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.rope.dimension_count': ['u32', 4] }), m.tensors))), UnsupportedError, /dimension_count 4/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.expert_count': ['u32', 8] }), m.tensors))), UnsupportedError, /mixture of experts/);
});

test('refused: bad magic, other versions, missing or misshapen tensors, missing config keys', async () => {
  const m = tinyModel(false);
  await rejects(openCheckpoint(file(buildGguf(baseKv(), m.tensors, { magic: 'GGML' }))), FormatError, /not a GGUF file \(starts with 'GGML'/);
  await rejects(openCheckpoint(file(buildGguf(baseKv(), m.tensors, { version: 1 }))), UnsupportedError, /GGUF version 1 is not supported/);
  const noUp = m.tensors.filter((t) => t.name !== 'blk.0.ffn_up.weight');
  await rejects(openCheckpoint(file(buildGguf(baseKv(), noUp))), FormatError, /tensor blk\.0\.ffn_up\.weight \(layers\.0\.mlp\.up\) is missing/);
  const wrong = m.tensors.map((t) => (t.name === 'blk.0.attn_v.weight' ? { ...t, ne: [KV, DIM] } : t));
  await rejects(openCheckpoint(file(buildGguf(baseKv(), wrong))), FormatError, /blk\.0\.attn_v\.weight \(layers\.0\.attn\.v\) has shape \[32, 16\].*expected \[16, 32\]/);
  const extra = [...m.tensors, { ...m.tensors[1], name: 'blk.1.attn_norm.weight' }];
  await rejects(openCheckpoint(file(buildGguf(baseKv(), extra))), FormatError, /block_count is 1, but the file holds more layers: blk\.1\.attn_norm\.weight/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.embedding_length': null }), m.tensors))), FormatError, /llama\.embedding_length is missing/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.block_count': ['string', 'one'] }), m.tensors))), FormatError, /llama\.block_count is "one", not a number/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'llama.vocab_size': ['u32', 9] }), m.tensors))), FormatError, /llama\.vocab_size 9 differs from the tokenizer's 8 tokens/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'tokenizer.ggml.scores': ['array', 'f32', [0, 1]] }), m.tensors))), FormatError, /tokenizer\.ggml\.scores has 2 entries, tokenizer\.ggml\.tokens has 8/);
  await rejects(openCheckpoint(file(buildGguf(baseKv({ 'tokenizer.ggml.bos_token_id': ['u32', 8] }), m.tensors))), FormatError, /bos_token_id 8 is outside the 8 tokens/);
});

test('truncated anywhere (header or data): a FormatError that says truncated, and no open file handle', async () => {
  const m = tinyModel(true);
  const whole = buildGguf(baseKv(), m.tensors);
  const fds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
  const before = fds();
  const r = lcg(99);
  const cuts = [0, 3, 4, 7, 8, 15, 23, 24, 30, 100, 500, whole.length - 1, whole.length - 32, whole.length - 200];
  for (let i = 0; i < 40; i++) cuts.push(Math.floor(r() * whole.length));
  for (const cut of cuts) {
    const p = file(whole.subarray(0, cut));
    try {
      const ck = await openCheckpoint(p);
      await ck.close();
      assert.unreachable(`a file cut at ${cut} of ${whole.length} bytes was accepted`);
    } catch (e) {
      if ((e as Error).name === 'Assertion') throw e;
      assert.instance(e, FormatError, `cut at ${cut}: ${(e as Error).message}`);
      assert.match((e as Error).message, /truncated|too short/, `cut at ${cut}: ${(e as Error).message}`);
    }
  }
  assert.is(fds(), before, 'file handles leaked');
});

test('a GGUF without tokenizer metadata needs --tokenizer; with one, the file is used', async () => {
  const m = tinyModel(false);
  const kvs = baseKv({ 'tokenizer.ggml.model': null, 'tokenizer.ggml.tokens': null, 'tokenizer.ggml.scores': null, 'tokenizer.ggml.token_type': null, 'llama.vocab_size': ['u32', 8] });
  const p = file(buildGguf(kvs, m.tensors));
  await rejects(openCheckpoint(p), FormatError, /tokenizer\.ggml\.model is missing \(give --tokenizer\)/);
  // a llama2.c tokenizer.bin with 8 entries
  const parts: Buffer[] = [Buffer.from(new Int32Array([8]).buffer)];
  for (let i = 0; i < 8; i++) {
    const piece = Buffer.from(TOKENS[i].replace('\u2581', ' '));
    parts.push(Buffer.from(new Float32Array([SCORES[i]]).buffer), Buffer.from(new Int32Array([piece.length]).buffer), piece);
  }
  const tokPath = join(dir, 'tok8.bin');
  writeFileSync(tokPath, Buffer.concat(parts));
  const ck = await openCheckpoint(p, { tokenizer: tokPath });
  assert.is(ck.tokenizer?.kind, 'llama2c');
  assert.is(ck.config.vocabSize, 8);
  await ck.close();
});

test.run();
