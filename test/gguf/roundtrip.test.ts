// Export -> import round trips: f32 exact, f16 exactly f16-rounded, q8_0/q4_0/q4_1/q5_0/q5_1/iq4_nl
// and the K-quants equal to our quantizers' output (and within the formats' error), llama.cpp's
// Q4_K_M / Q5_K_M type choice, llama.cpp's fallbacks (iq4_nl, q5_0, q5_1, q8_0, f16) for rows that are not
// whole blocks, Hugging Face RoPE permuted so the imported model computes the same logits, SqueezeLLM
// .sqz exported dequantized, refusals leaving no file behind, the CLI, and stories260K.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dequantize, type TensorRecord } from '../../src/format/kinds.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/reference.ts';
import { LINEAR_LAYERS } from '../../src/model/config.ts';
import { UnsupportedError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import type { Checkpoint } from '../../tools/checkpoint/types.ts';
import { openModel } from '../../tools/convert.ts';
import { decodeGgml, encodeGgml } from '../../tools/gguf/blocks.ts';
import { exportCheckpointGguf, exportGguf, planTensors } from '../../tools/gguf/export.ts';
import { permuteHalfToInterleaved, permuteInterleavedToHalf } from '../../tools/gguf/llama.ts';
import { readGgufHeader } from '../../tools/gguf/read.ts';
import { GGML_TYPES, GT } from '../../tools/gguf/spec.ts';
import { tensorShapes } from '../../src/model/config.ts';
import { quantizeMatrix } from '../../tools/squeezellm/nuq.ts';
import { type SyntheticOptions, syntheticModel } from '../../tools/synthetic.ts';
import { createTokenizer, hfTokenizerSpec, type TokenizerSpec } from '../../src/tokenizer/index.ts';
import { byteLevelTokenizerJson, checkpointOf, spTokenizerJson, TOKENIZER_SAMPLES } from './_gguf.ts';
import { assertClose, maxRelErr, repoRoot, sharedFiles, skip } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-gguf-rt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function synthetic(name: string, opts: SyntheticOptions) {
  const m = syntheticModel(opts);
  const path = join(dir, `${name}.sqz`);
  await writeSqz(path, { config: m.config, tokenizer: m.tokenizer, quant: { method: 'f32', source: name } }, m.records);
  return { ...m, path, byName: new Map(m.records.map((r) => [r.name, r])) };
}

const BLOCK32 = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'] as const;
const TYPE_ID: Record<'f32' | 'f16' | (typeof BLOCK32)[number], number> = {
  f32: GT.F32, f16: GT.F16, q8_0: GT.Q8_0, q4_0: GT.Q4_0, q4_1: GT.Q4_1, q5_0: GT.Q5_0, q5_1: GT.Q5_1, iq4_nl: GT.IQ4_NL,
};
const TYPE_BY_NAME = new Map(Object.values(GGML_TYPES).map((t) => [t.name, t.id]));
const f16Round = (x: Float32Array) => Float32Array.from(x, (v) => halfToFloat(floatToHalf(v)));

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${what}[${i}] = ${a[i]}, expected ${b[i]}`);
}

test('synthetic model: every type round-trips (f32 exact, f16 rounded, block types = our quantizers, within their error)', async () => {
  const m = await synthetic('syn', { dim: 64, hiddenDim: 128, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 320, seed: 5 });
  for (const type of ['f32', 'f16', ...BLOCK32] as const) {
    const out = join(dir, `syn-${type}.gguf`);
    const res = await exportGguf(m.path, out, { type });
    assert.equal(res.notes, [], `${type}: notes`);
    const ck = await openCheckpoint(out);
    try {
      assert.equal(ck.config, m.config, `${type}: config`);
      assert.equal(ck.tokenizer, m.tokenizer, `${type}: tokenizer`);
      for (const name of ck.names()) {
        const x = (m.byName.get(name) as Extract<TensorRecord, { kind: 'f32' }>).data;
        const got = await ck.read(name);
        if (x.length === ck.config.dim) {
          sameBits(got, x, `${type} ${name} (1-D stays f32)`);
          continue;
        }
        const want = type === 'f32' ? x : type === 'f16' ? f16Round(x) : decodeGgml(TYPE_ID[type], encodeGgml(TYPE_ID[type], x), x.length);
        sameBits(got, want, `${type} ${name}`);
        const tol = { f32: 0, f16: 1e-3, q8_0: 0.01, q4_0: 0.15, q4_1: 0.14, q5_0: 0.08, q5_1: 0.07, iq4_nl: 0.13 }[type];
        assertClose(got, x, tol, `${type} ${name}`);
      }
    } finally {
      await ck.close();
    }
  }
});

test('rows that are not whole 32-weight blocks fall back to f16, and the export says which', async () => {
  const m = await synthetic('syn172', { dim: 64, hiddenDim: 172, nLayers: 1, nHeads: 8, nKvHeads: 4, vocabSize: 300, seed: 6 });
  const out = join(dir, 'syn172-q4.gguf');
  const res = await exportGguf(m.path, out, { type: 'q4_0' });
  assert.equal(res.notes, ['q4_0 needs rows that are a multiple of 32 weights; stored as f16 instead: blk.0.ffn_down.weight (172 columns)']);
  const types = Object.fromEntries(res.tensors.map((t) => [t.name, t.type]));
  assert.equal(types, {
    'token_embd.weight': 'Q4_0', 'blk.0.attn_norm.weight': 'F32', 'blk.0.attn_q.weight': 'Q4_0', 'blk.0.attn_k.weight': 'Q4_0',
    'blk.0.attn_v.weight': 'Q4_0', 'blk.0.attn_output.weight': 'Q4_0', 'blk.0.ffn_norm.weight': 'F32', 'blk.0.ffn_gate.weight': 'Q4_0',
    'blk.0.ffn_up.weight': 'Q4_0', 'blk.0.ffn_down.weight': 'F16', 'output_norm.weight': 'F32',
  });
  const ck = await openCheckpoint(out);
  const x = (m.byName.get('layers.0.mlp.down') as Extract<TensorRecord, { kind: 'f32' }>).data;
  sameBits(await ck.read('layers.0.mlp.down'), f16Round(x), 'ffn_down');
  await ck.close();
});

test('K-quants on a model with 256-weight rows: q2_k, q3_k, q4_k, q5_k, q6_k and the mixes round-trip as our encoders wrote them', async () => {
  const m = await synthetic('syn256', { dim: 256, hiddenDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seed: 12, tiedEmbeddings: false });
  const plain = { q2_k: 'Q2_K', q3_k: 'Q3_K', q4_k: 'Q4_K', q5_k: 'Q5_K', q6_k: 'Q6_K' } as const;
  for (const type of ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q4_k_m', 'q5_k_m'] as const) {
    const out = join(dir, `syn256-${type}.gguf`);
    const res = await exportGguf(m.path, out, { type });
    assert.equal(res.notes, [], `${type}: notes`);
    const base = type in plain ? plain[type as keyof typeof plain] : type === 'q4_k_m' ? 'Q4_K' : 'Q5_K';
    // the mixes: Q6_K for output.weight, and attn_v / ffn_down of layer 1 (llama.cpp's use_more_bits for 2 layers)
    const mixed = type.endsWith('_m') ? ['output.weight', 'blk.1.attn_v.weight', 'blk.1.ffn_down.weight'] : [];
    for (const t of res.tensors) {
      const want = t.name.endsWith('norm.weight') ? 'F32' : mixed.includes(t.name) ? 'Q6_K' : base;
      assert.is(t.type, want, `${type} ${t.name}`);
    }
    const ck = await openCheckpoint(out);
    try {
      assert.equal(ck.config, m.config, `${type}: config`);
      for (const t of res.tensors) {
        const x = (m.byName.get(t.canonical) as Extract<TensorRecord, { kind: 'f32' }>).data;
        const id = TYPE_BY_NAME.get(t.type)!;
        sameBits(await ck.read(t.canonical), id === GT.F32 ? x : decodeGgml(id, encodeGgml(id, x), x.length), `${type} ${t.name}`);
        if (id !== GT.F32) assertClose(await ck.read(t.canonical), x, { Q2_K: 0.5, Q3_K: 0.3, Q4_K: 0.15, Q5_K: 0.08, Q6_K: 0.04 }[t.type]!, `${type} ${t.name}`);
      }
    } finally {
      await ck.close();
    }
  }
});

/** A checkpoint with only a config and shapes, for planning an export. */
function shapesOnly(opts: SyntheticOptions): Checkpoint {
  const config = syntheticModel({ ...opts, vocabSize: 260, nLayers: 1 }).config;
  const c = { ...config, ...opts };
  const shapes = tensorShapes(c);
  return { source: 'plan', config: c, tokenizer: undefined, names: () => [...shapes.keys()], shape: (n) => shapes.get(n)!, read: async () => new Float32Array(0), close: async () => {} };
}

test("q4_k_m / q5_k_m follow llama.cpp's choice: Q6_K for the head (the embedding when tied), attn_v and ffn_down of some layers", () => {
  // 8 layers: use_more_bits picks 0 (first eighth), 7 (last eighth), and 3, 6 ((i - 1) % 3 == 2)
  const untied = planTensors(shapesOnly({ dim: 256, hiddenDim: 512, nLayers: 8, nHeads: 4, nKvHeads: 2, vocabSize: 300, tiedEmbeddings: false }), 'q4_k_m');
  const q6 = untied.plans.filter((p) => p.type === GT.Q6_K).map((p) => p.name);
  assert.equal(q6, ['blk.0.attn_v.weight', 'blk.0.ffn_down.weight', 'blk.3.attn_v.weight', 'blk.3.ffn_down.weight', 'blk.6.attn_v.weight', 'blk.6.ffn_down.weight', 'blk.7.attn_v.weight', 'blk.7.ffn_down.weight', 'output.weight']);
  assert.is(untied.plans.find((p) => p.name === 'token_embd.weight')!.type, GT.Q4_K);
  const tied = planTensors(shapesOnly({ dim: 256, hiddenDim: 512, nLayers: 8, nHeads: 4, nKvHeads: 2, vocabSize: 300, tiedEmbeddings: true }), 'q5_k_m');
  assert.is(tied.plans.find((p) => p.name === 'token_embd.weight')!.type, GT.Q6_K);
  assert.is(tied.plans.find((p) => p.name === 'blk.1.ffn_up.weight')!.type, GT.Q5_K);
});

test("q3_k_s / q3_k_m / q4_k_s follow llama.cpp's choice for attn_v, ffn_down and attn_output", () => {
  // 32 layers (n/8 = 4, n/16 = 2), untied: the rules of llama_tensor_get_type written out by layer
  const ck = shapesOnly({ dim: 256, hiddenDim: 512, nLayers: 32, nHeads: 4, nKvHeads: 2, vocabSize: 300, tiedEmbeddings: false });
  const typeOf = (t: 'q3_k_s' | 'q3_k_m' | 'q4_k_s') => new Map(planTensors(ck, t).plans.map((p) => [p.name, p.type]));
  const s3 = typeOf('q3_k_s');
  const m3 = typeOf('q3_k_m');
  const s4 = typeOf('q4_k_s');
  for (let i = 0; i < 32; i++) {
    const at = (m: Map<string, number>, part: string) => m.get(`blk.${i}.${part}.weight`);
    for (const part of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) assert.is(at(s3, part), GT.Q3_K, `q3_k_s ${i} ${part}`);
    assert.is(at(m3, 'attn_v'), i === 0 || i === 1 ? GT.Q5_K : GT.Q4_K, `q3_k_m ${i} attn_v`);
    assert.is(at(m3, 'ffn_down'), i < 2 ? GT.Q5_K : GT.Q4_K, `q3_k_m ${i} ffn_down`);
    assert.is(at(m3, 'attn_output'), GT.Q4_K);
    assert.is(at(m3, 'ffn_up'), GT.Q3_K);
    assert.is(at(s4, 'attn_v'), i < 4 ? GT.Q5_K : GT.Q4_K, `q4_k_s ${i} attn_v`);
    assert.is(at(s4, 'ffn_down'), i < 4 ? GT.Q5_K : GT.Q4_K, `q4_k_s ${i} ffn_down`);
    assert.is(at(s4, 'attn_output'), GT.Q4_K);
  }
  for (const m of [s3, m3, s4]) {
    assert.is(m.get('output.weight'), GT.Q6_K);
    assert.is(m.get('token_embd.weight'), m === s4 ? GT.Q4_K : GT.Q3_K);
  }
});

test("K-quant rows that are not whole 256-weight super-blocks fall back as llama.cpp's do (q2_k and q3_k to iq4_nl, q4_k to q5_0, q5_k to q5_1, q6_k to q8_0; f16 when not a multiple of 32), and the export says which", async () => {
  // stories260K's shape: dim 64, hidden 172; tied, so token_embd is the head (Q6_K in the mix)
  const m = await synthetic('synk172', { dim: 64, hiddenDim: 172, nLayers: 1, nHeads: 8, nKvHeads: 4, vocabSize: 300, seed: 13 });
  const out = join(dir, 'synk172.gguf');
  const res = await exportGguf(m.path, out, { type: 'q4_k_m' });
  assert.equal(res.notes, [
    "q6_k needs rows that are a multiple of 256 weights; stored as q8_0 instead (llama.cpp's fallback): token_embd.weight (64 columns), blk.0.attn_v.weight (64 columns)",
    "q4_k needs rows that are a multiple of 256 weights; stored as q5_0 instead (llama.cpp's fallback): blk.0.attn_q.weight (64 columns), blk.0.attn_k.weight (64 columns), blk.0.attn_output.weight (64 columns), blk.0.ffn_gate.weight (64 columns), blk.0.ffn_up.weight (64 columns)",
    'q6_k needs rows that are a multiple of 256 weights and q8_0 of 32; stored as f16 instead: blk.0.ffn_down.weight (172 columns)',
  ]);
  const ck = await openCheckpoint(out);
  for (const [name, type] of [['layers.0.mlp.up', GT.Q5_0], ['layers.0.attn.v', GT.Q8_0], ['embed', GT.Q8_0]] as const) {
    const x = (m.byName.get(name) as Extract<TensorRecord, { kind: 'f32' }>).data;
    sameBits(await ck.read(name), decodeGgml(type, encodeGgml(type, x), x.length), `${name} as ${GGML_TYPES[type].name}`);
  }
  await ck.close();
  const types = (plan: ReturnType<typeof planTensors>) => Object.fromEntries(plan.plans.map((p) => [p.name, GGML_TYPES[p.type].name]));
  // tinystories-656k's shape: dim 128, hidden 384 -- every row is a multiple of 32 but not of 256
  const t656 = shapesOnly({ dim: 128, hiddenDim: 384, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 2048 });
  for (const [type, want] of [['q2_k', 'IQ4_NL'], ['q3_k', 'IQ4_NL'], ['q4_k', 'Q5_0'], ['q5_k', 'Q5_1'], ['q6_k', 'Q8_0']] as const) {
    assert.equal([...new Set(planTensors(t656, type).plans.map((p) => GGML_TYPES[p.type].name))].sort(), ['F32', want], type);
  }
  assert.equal(planTensors(shapesOnly({ dim: 64, hiddenDim: 172, nLayers: 1, nHeads: 8, nKvHeads: 4 }), 'q3_k').notes, [
    "q3_k needs rows that are a multiple of 256 weights; stored as iq4_nl instead (llama.cpp's fallback): token_embd.weight (64 columns), blk.0.attn_q.weight (64 columns), blk.0.attn_k.weight (64 columns), blk.0.attn_v.weight (64 columns), blk.0.attn_output.weight (64 columns), blk.0.ffn_gate.weight (64 columns), blk.0.ffn_up.weight (64 columns)",
    'q3_k needs rows that are a multiple of 256 weights and iq4_nl of 32; stored as f16 instead: blk.0.ffn_down.weight (172 columns)',
  ]);
  // q5_k_m with 2 layers: Q6_K (-> Q8_0) for the tied head and layer 1's attn_v and ffn_down, Q5_K (-> Q5_1) for the rest
  const mix = types(planTensors(t656, 'q5_k_m'));
  assert.equal([mix['token_embd.weight'], mix['blk.1.attn_v.weight'], mix['blk.1.ffn_down.weight'], mix['blk.0.ffn_down.weight'], mix['blk.1.attn_q.weight']], ['Q8_0', 'Q8_0', 'Q8_0', 'Q5_1', 'Q5_1']);
});

test('Hugging Face (rotate-half) RoPE: q/k rows permuted on export, the imported model gives the same logits', async () => {
  // the permutation and its inverse
  const w = Float32Array.from({ length: 16 * 3 }, (_, i) => i);
  const p = permuteHalfToInterleaved(w, 16, 3, 8);
  // head 0, pair i = 1: interleaved rows 2, 3 are rotate-half rows 1, 5
  assert.equal(Array.from(p.subarray(2 * 3, 4 * 3)), [3, 4, 5, 15, 16, 17]);
  assert.equal(Array.from(permuteInterleavedToHalf(p, 16, 3, 8)), Array.from(w));

  const m = await synthetic('half', { dim: 64, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, rope: 'half', seed: 7, tiedEmbeddings: false });
  const out = join(dir, 'half.gguf');
  const res = await exportGguf(m.path, out, { type: 'f32' });
  assert.match(res.notes.join('\n'), /q and k rows permuted/);
  const ck = await openCheckpoint(out);
  assert.is(ck.config.rope, 'interleaved');
  const q = (m.byName.get('layers.0.attn.q') as Extract<TensorRecord, { kind: 'f32' }>).data;
  sameBits(await ck.read('layers.0.attn.q'), permuteHalfToInterleaved(q, 64, 64, 16), 'attn_q');
  await ck.close();

  const a = await openModel(m.path, { backend: 'js' });
  const b = await openModel(out, { backend: 'js' });
  const ids = a.tokenizer.encode('the cat sat on a hat, then it ran');
  assert.equal(b.tokenizer.encode('the cat sat on a hat, then it ran'), ids);
  const la = a.forward(ids, 0, 0);
  const lb = b.forward(ids, 0, 0);
  assertClose(lb, la, 1e-5, 'logits of the imported model');
  // without the permutation the logits would differ: the check above is not vacuous
  const c = await synthetic('half-as-interleaved', { dim: 64, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, rope: 'interleaved', seed: 7, tiedEmbeddings: false });
  const lc = (await openModel(c.path, { backend: 'js' })).forward(ids, 0, 0);
  assert.ok(maxRelErr(lc, la) > 1e-3, 'a rope-style mismatch should change the logits');
});

test('a SqueezeLLM .sqz exports dequantized (f16 or re-quantized)', async () => {
  const m = syntheticModel({ dim: 64, hiddenDim: 128, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 280, seed: 8 });
  const records: TensorRecord[] = [];
  for (const r of m.records) {
    const linear = LINEAR_LAYERS.some((l) => r.name.endsWith(`.${l}`));
    if (!linear || r.kind !== 'f32') records.push(r);
    else records.push((await quantizeMatrix(r.name, r.data, null, r.shape[0], r.shape[1], { bits: 4, outlierThreshold: 2, seed: 1 })).record);
  }
  const path = join(dir, 'nuq.sqz');
  await writeSqz(path, { config: m.config, tokenizer: m.tokenizer, quant: { method: 'squeezellm', bits: 4 } as never }, records);
  for (const type of ['f16', 'q8_0'] as const) {
    const out = join(dir, `nuq-${type}.gguf`);
    await exportGguf(path, out, { type });
    const ck = await openCheckpoint(out);
    for (const r of records) {
      const x = dequantize(r);
      const want = r.shape.length === 1 ? x : type === 'f16' ? f16Round(x) : decodeGgml(GT.Q8_0, encodeGgml(GT.Q8_0, x), x.length);
      sameBits(await ck.read(r.name), want, `${type} ${r.name} (${r.kind})`);
    }
    await ck.close();
  }
});

test('refused exports: a tokenizer.json of another kind, duplicate token texts; no file is left behind', async () => {
  const m = syntheticModel({ dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 260, seed: 9 });
  const fake = (tokenizer: Checkpoint['tokenizer']): Checkpoint => checkpointOf(m, tokenizer);
  const sub = mkdtempSync(join(dir, 'refused-'));
  const out = join(sub, 'x.gguf');
  const rejects = async (ck: Checkpoint, pattern: RegExp) => {
    const e = await exportCheckpointGguf(ck, out, { type: 'f16' }).then(() => null, (err: Error) => err);
    assert.instance(e, UnsupportedError, e ? e.message : 'export should fail');
    assert.match(e!.message, pattern);
  };
  const split = { model: { type: 'BPE', vocab: {}, merges: [] }, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split' }, { type: 'ByteLevel', use_regex: false }] } };
  await rejects(fake({ kind: 'hf', json: JSON.stringify(split), bos: null, eos: null }), /this one has model BPE, normalizer none, pre-tokenizer Split\+ByteLevel, decoder none/);
  // SentencePiece style without byte fallback
  const sp = JSON.parse(spTokenizerJson());
  await rejects(fake({ kind: 'hf', json: JSON.stringify({ ...sp, model: { ...sp.model, byte_fallback: false } }), bos: 1, eos: 2 }), /this one has model BPE, normalizer Prepend\+Replace/);
  const tk = m.tokenizer as Extract<typeof m.tokenizer, { kind: 'llama2c' }>;
  await rejects(fake({ ...tk, pieces: tk.pieces.map((p, i) => (i === 6 ? tk.pieces[5] : p)) }), /tokens 5 and 6 are both "<0x02>"/);
  await rejects(fake(undefined), /has no tokenizer/);
  assert.equal(readdirSync(sub), []);
});

/** Exports a synthetic model with `spec` and imports it again: the tokenizer read back. */
async function tokenizerRoundTrip(spec: TokenizerSpec, name: string): Promise<{ back: TokenizerSpec; md: Map<string, unknown> }> {
  const m = syntheticModel({ dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 270, seed: 12 });
  const out = join(dir, `${name}.gguf`);
  await exportCheckpointGguf(checkpointOf(m, spec), out, { type: 'f32' });
  const back = await openCheckpoint(out);
  await back.close();
  const fh = await open(out, 'r');
  try {
    return { back: back.tokenizer!, md: (await readGgufHeader(fh, (await fh.stat()).size, name)).metadata };
  } finally {
    await fh.close();
  }
}

test('a SentencePiece-style tokenizer.json exports as tokenizer.ggml.model llama; our import of it encodes as the original', async () => {
  const spec = hfTokenizerSpec(spTokenizerJson(), 'sp.json');
  const { back, md } = await tokenizerRoundTrip(spec, 'sp');
  assert.is(md.get('tokenizer.ggml.model'), 'llama');
  // scores: minus the merge rank of the token a merge makes, -1e10 for the rest
  const scores = Array.from((md.get('tokenizer.ggml.scores') as { values: Float32Array }).values);
  assert.equal(scores.slice(259), [-1e10, -1e10, -1e10, -1e10, -0, -1, -2, -1e10, -3, -4, -1e10].map(Math.fround));
  const types = Array.from((md.get('tokenizer.ggml.token_type') as { values: Int32Array }).values);
  assert.equal([types[0], types[1], types[2], types[3], types[258], types[259]], [2, 3, 3, 6, 6, 1]);
  const [ours, orig] = [createTokenizer(back), createTokenizer(spec)];
  for (const t of TOKENIZER_SAMPLES) assert.equal(ours.encode(t), orig.encode(t), JSON.stringify(t));
  assert.equal(orig.encode('a \u00e9'), [1, 263, 259, 0xc3 + 3, 0xa9 + 3], 'é by byte fallback');
});

test('a GPT-2 byte-level tokenizer.json exports as tokenizer.ggml.model gpt2 (pre gpt-2, merges); our import of it encodes as the original', async () => {
  const spec = hfTokenizerSpec(byteLevelTokenizerJson(), 'bl.json');
  const { back, md } = await tokenizerRoundTrip(spec, 'bl');
  assert.is(md.get('tokenizer.ggml.model'), 'gpt2');
  assert.is(md.get('tokenizer.ggml.pre'), 'gpt-2');
  assert.is((md.get('tokenizer.ggml.merges') as { values: string[] }).values[2], '\u0120t he');
  assert.is(md.get('tokenizer.ggml.add_bos_token'), false);
  assert.is((back as { bos: number | null }).bos, null);
  assert.is((back as { eos: number | null }).eos, 269);
  const [ours, orig] = [createTokenizer(back), createTokenizer(spec)];
  for (const t of [...TOKENIZER_SAMPLES, 'x<|endoftext|>y', '\u{1F600} \u4e2d\u6587']) assert.equal(ours.encode(t), orig.encode(t), JSON.stringify(t));
  assert.equal(orig.encode(' the cat'), [258, 261]);
});

test('tinystories-656k: its own tokenizer exported and imported encodes ASCII as the original; an unknown character differs', async () => {
  const folder = sharedFiles('models/tinystories-656k')?.[0];
  if (!folder) return;
  const out = join(dir, 'tiny.gguf');
  await exportGguf(folder, out, { type: 'f16' });
  const [a, b] = [await openCheckpoint(folder), await openCheckpoint(out)];
  await a.close();
  await b.close();
  const [orig, ours] = [createTokenizer(a.tokenizer!), createTokenizer(b.tokenizer!)];
  for (const t of TOKENIZER_SAMPLES.filter((t) => /^[\x00-\x7f]*$/.test(t))) assert.equal(ours.encode(t), orig.encode(t), JSON.stringify(t));
  // no <0xNN> pieces: tokenizers fuses é's two bytes into one <unk>, the llama2c runtime gives one per byte
  assert.equal(orig.encode('caf\u00e9'), [1, 80, 295, 58, 0]);
  assert.equal(ours.encode('caf\u00e9'), [1, 80, 295, 58, 0, 0]);
});

const sqzBin = join(repoRoot, 'bin', 'sqz.mjs');
const bundle = join(repoRoot, 'build', 'sqz.mjs');

test('sqz export / sqz convert from the command line', async () => {
  if (!existsSync(bundle)) return skip(`${bundle} is absent; run npm run build`);
  const m = await synthetic('cli', { dim: 64, hiddenDim: 172, nLayers: 1, nHeads: 8, nKvHeads: 4, vocabSize: 280, seed: 10 });
  const sqz = (...args: string[]) => spawnSync(process.execPath, [sqzBin, ...args], { encoding: 'utf8' });
  const out = join(dir, 'cli.gguf');
  const r = sqz('export', m.path, '--gguf', out, '--type', 'q8_0');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /note: q8_0 needs rows that are a multiple of 32 weights; stored as f16 instead: blk\.0\.ffn_down\.weight \(172 columns\)/);
  assert.match(r.stdout, /wrote .*cli\.gguf: [\d.]+ MB, 11 tensors \(7 Q8_0, 3 F32, 1 F16\)/);
  const back = join(dir, 'cli-back.sqz');
  const c = sqz('convert', out, '-o', back);
  assert.is(c.status, 0, c.stderr);
  const bad = sqz('export', m.path, '--gguf', out, '--type', 'q3_k_l');
  assert.is(bad.status, 1);
  assert.match(bad.stderr.trim(), /^sqz: --type must be one of f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, q3_k_s, q3_k_m, q4_k_s, q4_k_m, q5_k_m, got 'q3_k_l'$/);
  const k = sqz('export', m.path, '--gguf', join(dir, 'cli-k.gguf'), '--type', 'q4_k');
  assert.is(k.status, 0, k.stderr);
  assert.match(k.stdout, /note: q4_k needs rows that are a multiple of 256 weights; stored as q5_0 instead \(llama\.cpp's fallback\): token_embd\.weight \(64 columns\)/);
  assert.match(k.stdout, /note: q4_k needs rows that are a multiple of 256 weights and q5_0 of 32; stored as f16 instead: blk\.0\.ffn_down\.weight \(172 columns\)/);
  assert.match(k.stdout, /wrote .*cli-k\.gguf: [\d.]+ MB, 11 tensors \(7 Q5_0, 3 F32, 1 F16\)/);
  const none = sqz('export', m.path);
  assert.match(none.stderr.trim(), /^sqz: sqz export needs --gguf out\.gguf$/);
});

test('stories260K: f32 GGUF import generates the same tokens; q4_0 import = our q4_0 quantizer', async () => {
  const found = sharedFiles('models/stories260K.bin', 'models/tok512.bin');
  if (!found) return;
  const [model, tok] = found;
  const f32 = join(dir, 'stories-f32.gguf');
  await exportGguf(model, f32, { type: 'f32', tokenizer: tok });
  const greedy = async (src: string, opts: { tokenizer?: string }) => {
    const mm = await openModel(src, opts);
    const ids: number[] = [];
    for await (const _ of mm.generate('Once upon a time', { temperature: 0, maxTokens: 60, onToken: (id) => ids.push(id) }));
    await mm.close();
    return ids;
  };
  const want = await greedy(model, { tokenizer: tok });
  assert.equal(await greedy(f32, {}), want);

  const q4 = join(dir, 'stories-q4.gguf');
  const res = await exportGguf(model, q4, { type: 'q4_0', tokenizer: tok });
  assert.is(res.tensors.filter((t) => t.type === 'F16').length, 5, 'the five ffn_down (172 columns) fall back to f16');
  const src = await openCheckpoint(model, { tokenizer: tok });
  const ck = await openCheckpoint(q4);
  for (const name of src.names()) {
    const x = await src.read(name);
    const type = res.tensors.find((t) => t.canonical === name)!.type;
    const want = type === 'F32' ? x : type === 'F16' ? f16Round(x) : decodeGgml(GT.Q4_0, encodeGgml(GT.Q4_0, x), x.length);
    sameBits(await ck.read(name), want, `q4_0 ${name}`);
  }
  await src.close();
  await ck.close();
});

test.run();
