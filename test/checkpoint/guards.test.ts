// The checks every checkpoint reader makes beyond parsing (issue 11, points 5-7): tensors that
// overlap, leave holes or trailing bytes, are retyped, named twice or belong to layers the config
// does not have; JSON with repeated keys; a tokenizer whose ids pass the model's vocabulary; NaN
// and Inf weights. Each bad file is built here from the format descriptions (writers.ts, _gguf.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/index.ts';
import { createTokenizer, hfTokenizerSpec } from '../../src/tokenizer/index.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { FormatError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import { duplicateKey } from '../../tools/checkpoint/json.ts';
import { convertCheckpoint } from '../../tools/convert.ts';
import { syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import { type TestTensor, type TestValue, buildGguf, f32Tensor as ggufF32, spTokenizerJson } from '../gguf/_gguf.ts';
import { rejects, repoRoot, sharedFiles } from '../helpers.ts';
import {
  TINY_TOKENIZER_JSON, randomFolder, randomL2c, tempDir, tinyConfig, writeFolder, writeL2cTokenizer, writeL2cV1, writeSafetensors,
} from './writers.ts';

const t = tempDir('guards');
test.after(() => t.done());
let n = 0;
const fresh = (tag: string) => join(t.dir, `${tag}-${n++}`);

const hfc = (over: Partial<ModelConfig> = {}) => tinyConfig({ rope: 'half', normEps: 1e-6, ...over });

/** A good one-file HF folder for `c`; returns its path. */
function hfFolder(c: ModelConfig, o: Parameters<typeof writeFolder>[3] = {}): string {
  const dir = fresh('hf');
  writeFolder(dir, c, randomFolder(c, 3), o);
  return dir;
}

/** Rewrites a safetensors file's header (the data stays as it is) with `edit` of the header's JSON text. */
function editHeader(path: string, edit: (json: string) => string): void {
  const b = readFileSync(path);
  const len = Number(b.readBigUInt64LE(0));
  const json = edit(b.subarray(8, 8 + len).toString('utf8'));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([head, Buffer.from(json), b.subarray(8 + len)]));
}

/** The header as an object, edited, written back. */
const editEntries = (path: string, edit: (h: Record<string, { data_offsets: number[]; dtype: string; shape: number[] }>) => void) =>
  editHeader(path, (json) => {
    const h = JSON.parse(json);
    edit(h);
    return JSON.stringify(h);
  });

test('duplicateKey finds a key repeated in one object, at any depth, escapes decoded; not across objects or inside strings', () => {
  assert.is(duplicateKey('{"a":1,"b":{"a":2}}'), undefined);
  assert.is(duplicateKey('[{"a":1},{"a":1}]'), undefined);
  assert.is(duplicateKey('{"s":"{\\"a\\":1,\\"a\\":2}"}'), undefined);
  assert.is(duplicateKey('{"a":1,"a":2}'), '"a"');
  assert.is(duplicateKey('{"x":[0,{"k":1,"k":2}]}'), '"k" (in "x")');
  assert.is(duplicateKey('{"a":1,"\\u0061":2}'), '"a"');
  // text that is not JSON (the fuzzer's truncated tokenizer.json once hung here): no answer, at once
  assert.is(duplicateKey('{"a":1,"b'), undefined);
  assert.is(duplicateKey('{"a":1,"\\x":2,"a":3}'), undefined);
});

test('safetensors: overlapping data_offsets, a hole, trailing bytes and a tensor named twice are refused, naming them', async () => {
  const c = hfc();
  const st = (dir: string) => join(dir, 'model.safetensors');

  let dir = hfFolder(c);
  editEntries(st(dir), (h) => {
    // norm's bytes made to start inside the ones before it, keeping its size
    const e = h['model.norm.weight'];
    e.data_offsets = [e.data_offsets[0] - 4, e.data_offsets[1] - 4];
  });
  await rejects(openCheckpoint(dir), FormatError, /model\.safetensors: tensors .+ and .+ overlap/);

  dir = hfFolder(c);
  editEntries(st(dir), (h) => {
    // the first tensor moved on by 8 bytes: they belong to nothing
    const first = Object.entries(h).find(([, e]) => e.data_offsets?.[0] === 0)![1];
    first.data_offsets = [8, first.data_offsets[1] + 8];
  });
  await rejects(openCheckpoint(dir), FormatError, /data bytes 0\.\.8 belong to no tensor/);

  dir = hfFolder(c);
  writeFileSync(st(dir), Buffer.concat([readFileSync(st(dir)), Buffer.alloc(12)]));
  await rejects(openCheckpoint(dir), FormatError, /12 bytes after the last tensor .*belong to no tensor/);

  dir = hfFolder(c);
  // the same entry written twice in the header text (JSON.parse would keep the second silently)
  editHeader(st(dir), (json) => {
    const h = JSON.parse(json);
    const entry = JSON.stringify(h['model.norm.weight']);
    return json.replace(/^\{/, `{"model.norm.weight":${entry},`);
  });
  await rejects(openCheckpoint(dir), FormatError, /header: key "model\.norm\.weight" appears twice/);
});

test('HF: config.json with a repeated key, a tensor in two shards, layers past num_hidden_layers, biases', async () => {
  let dir = hfFolder(hfc());
  const cfg = readFileSync(join(dir, 'config.json'), 'utf8');
  writeFileSync(join(dir, 'config.json'), cfg.replace(/^\{/, '{"num_hidden_layers":1,'));
  await rejects(openCheckpoint(dir), FormatError, /config\.json: key "num_hidden_layers" appears twice/);

  dir = hfFolder(hfc(), { shards: 2 });
  // shard 2 gets a copy of a tensor shard 1 holds (the index points at shard 1's)
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;
  const [name, inFirst] = Object.entries(index).find(([, f]) => f.includes('00001'))!;
  const second = Object.values(index).find((f) => f !== inFirst)!;
  const mine = Object.entries(index).filter(([, f]) => f === second).map(([k]) => k);
  const f = randomFolder(hfc(), 3);
  writeSafetensors(join(dir, second), Object.fromEntries([...mine, name].map((k) => [k, f.tensors[k]])), { format: 'pt' });
  await rejects(openCheckpoint(dir), FormatError, new RegExp(`tensor ${name.replace(/\./g, '\\.')} is stored twice`));

  // a file of two layers under a config of one: refused naming the tensors of layer 1
  const two = hfc({ nLayers: 2 });
  dir = fresh('hf');
  writeFolder(dir, two, randomFolder(two, 4), { config: { num_hidden_layers: 1 } });
  const msg = await rejects(openCheckpoint(dir), FormatError, /num_hidden_layers is 1, but the file holds more layers: model\.layers\.1\./);
  assert.match(msg, /\(9 tensors\)/);
  // and the other way: a count past the layers stored is refused before anything is sized by it
  // (num_hidden_layers 2^53 once looped for minutes building the tensor table)
  for (const count of [3, 2 ** 53]) {
    dir = fresh('hf');
    writeFolder(dir, two, randomFolder(two, 4), { config: { num_hidden_layers: count } });
    // a plausible count meets the tensor check, an absurd one the config bounds (validateConfig) first
    const why = count > 1024 ? `config num_hidden_layers \\(nLayers\\) = ${count}` : `num_hidden_layers is ${count}, but the file holds tensors of 2 layers`;
    await rejects(openCheckpoint(dir), FormatError, new RegExp(why));
  }

  dir = fresh('hf');
  const fb = randomFolder(hfc(), 5);
  fb.tensors['model.layers.0.self_attn.q_proj.bias'] = { dtype: 'F32', shape: [16], data: new Uint8Array(64) };
  writeFolder(dir, hfc(), fb);
  await rejects(openCheckpoint(dir), Error, /q_proj\.bias is not supported/);
});

test('.sqz as a checkpoint: records of layers past the header\'s nLayers are refused, naming them', async () => {
  const two = { ...tinyConfig(), vocabSize: 260, nLayers: 2 };
  const path = fresh('extra') + '.sqz';
  await writeSqz(path, { config: { ...two, nLayers: 1 }, tokenizer: syntheticTokenizer(260), quant: { method: 'f32', source: 'test' } }, syntheticRecords(two));
  await rejects(openCheckpoint(path), FormatError, /nLayers is 1, but the file holds more layers: layers\.1\.attn_norm/);
});

// ---- GGUF ----

const DIM = 32;
const HIDDEN = 64;
const KV = 16;
const TOKENS = ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b', '\u2581a', 'ab'];

function ggufKv(): Array<[string, TestValue]> {
  return [
    ['general.architecture', ['string', 'llama']],
    ['llama.context_length', ['u32', 16]],
    ['llama.embedding_length', ['u32', DIM]],
    ['llama.block_count', ['u32', 1]],
    ['llama.feed_forward_length', ['u32', HIDDEN]],
    ['llama.rope.dimension_count', ['u32', 8]],
    ['llama.attention.head_count', ['u32', 4]],
    ['llama.attention.head_count_kv', ['u32', 2]],
    ['llama.attention.layer_norm_rms_epsilon', ['f32', 1e-5]],
    ['tokenizer.ggml.model', ['string', 'llama']],
    ['tokenizer.ggml.tokens', ['array', 'string', TOKENS]],
    ['tokenizer.ggml.scores', ['array', 'f32', TOKENS.map((_, i) => -i)]],
    ['tokenizer.ggml.bos_token_id', ['u32', 1]],
    ['tokenizer.ggml.eos_token_id', ['u32', 2]],
  ];
}

/** Every tensor of a 1-layer model in F32 (tied head), in file order; `at` puts `value` at one element of one tensor. */
function ggufTensors(at?: { name: string; index: number; value: number }): TestTensor[] {
  const r = new Rng(7);
  const shapes: Array<[string, number[]]> = [
    ['token_embd.weight', [TOKENS.length, DIM]], ['blk.0.attn_norm.weight', [DIM]], ['blk.0.attn_q.weight', [DIM, DIM]],
    ['blk.0.attn_k.weight', [KV, DIM]], ['blk.0.attn_v.weight', [KV, DIM]], ['blk.0.attn_output.weight', [DIM, DIM]],
    ['blk.0.ffn_norm.weight', [DIM]], ['blk.0.ffn_gate.weight', [HIDDEN, DIM]], ['blk.0.ffn_up.weight', [HIDDEN, DIM]],
    ['blk.0.ffn_down.weight', [DIM, HIDDEN]], ['output_norm.weight', [DIM]],
  ];
  return shapes.map(([name, shape]) => {
    const v = r.normals(shape.reduce((a, b) => a * b, 1), 0.3);
    if (at?.name === name) v[at.index] = at.value;
    return { name, ne: shape.slice().reverse(), type: 0, data: ggufF32(v).bytes };
  });
}

function ggufFile(bytes: Uint8Array): string {
  const p = fresh('m') + '.gguf';
  writeFileSync(p, bytes);
  return p;
}

/** Byte position of tensor `name`'s data offset field in a GGUF built by buildGguf (name string, n_dims, ne, type, offset). */
function offsetField(b: Buffer, name: string, nDims: number): number {
  const at = b.indexOf(Buffer.from(name, 'utf8'));
  return at + name.length + 4 + 8 * nDims + 4;
}

test('GGUF: a tensor retyped F32 -> Q4_1 fails on its size; overlapping offsets and trailing bytes are refused', async () => {
  const good = buildGguf(ggufKv(), ggufTensors());
  const ck = await openCheckpoint(ggufFile(good));
  await ck.close();

  // the F32 data left as it is, the type field saying Q4_1 (20 bytes per 32 weights instead of 128)
  const retyped = ggufTensors().map((x) => (x.name === 'blk.0.attn_v.weight' ? { ...x, type: 3 } : x));
  await rejects(
    openCheckpoint(ggufFile(buildGguf(ggufKv(), retyped))),
    FormatError,
    /tensor blk\.0\.attn_output\.weight has data offset \d+, but blk\.0\.attn_v\.weight \(Q4_1 .*\) ends at \d+/,
  );
  // the last tensor retyped: its bytes run past what Q4_1 takes
  const lastRetyped = ggufTensors().map((x) => (x.name === 'output_norm.weight' ? { ...x, ne: [DIM], type: 3 } : x));
  await rejects(openCheckpoint(ggufFile(buildGguf(ggufKv(), lastRetyped))), FormatError, /\d+ bytes after the last tensor's data \(output_norm\.weight \(Q4_1/);

  // attn_k's data offset set to attn_q's: the two overlap
  const b = Buffer.from(good);
  const qOff = b.readBigUInt64LE(offsetField(b, 'blk.0.attn_q.weight', 2));
  b.writeBigUInt64LE(qOff, offsetField(b, 'blk.0.attn_k.weight', 2));
  await rejects(openCheckpoint(ggufFile(b)), FormatError, /tensor blk\.0\.attn_k\.weight has data offset \d+, but blk\.0\.attn_q\.weight .* ends at/);

  await rejects(openCheckpoint(ggufFile(Buffer.concat([good, Buffer.alloc(64)]))), FormatError, /64 bytes after the last tensor's data/);

  // block_count past the stored layers (2^31 - 1 once ran for a minute to 2.5 GB before a RangeError)
  const kv = ggufKv().map(([k, v]): [string, TestValue] => (k === 'llama.block_count' ? [k, ['u32', 2 ** 31 - 1]] : [k, v]));
  await rejects(openCheckpoint(ggufFile(buildGguf(kv, ggufTensors()))), FormatError, /config block_count \(nLayers\) = 2147483647 /);
  const kv3 = ggufKv().map(([k, v]): [string, TestValue] => (k === 'llama.block_count' ? [k, ['u32', 3]] : [k, v]));
  await rejects(openCheckpoint(ggufFile(buildGguf(kv3, ggufTensors()))), FormatError, /block_count is 3, but the file holds tensors of 1 layer$/);
});

// ---- tokenizer against the model's vocabulary ----

/** tokenizer.json of TINY_TOKENIZER_JSON with its vocab or added tokens reaching `id`. */
function tokenizerReaching(id: number, where: 'vocab' | 'added'): string {
  const tok = JSON.parse(TINY_TOKENIZER_JSON);
  if (where === 'vocab') tok.model.vocab.c = id;
  else tok.added_tokens.push({ id, content: '<extra>', special: true });
  return JSON.stringify(tok);
}

test('a tokenizer with ids past the model vocabulary is refused at open and at convert (vocab, added tokens); a smaller one is fine', async () => {
  const c = hfc(); // vocab 10
  for (const where of ['vocab', 'added'] as const) {
    const dir = hfFolder(c);
    writeFileSync(join(dir, 'tokenizer.json'), tokenizerReaching(10, where));
    await rejects(openCheckpoint(dir), FormatError, /the tokenizer has ids up to 10 but the model's vocabulary has 10/);
    const out = fresh('tok') + '.sqz';
    await rejects(convertCheckpoint(dir, out), FormatError, /ids up to 10/);
    assert.not.ok(existsSync(out), 'nothing written');
  }
  const dir = hfFolder(c);
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerReaching(9, 'vocab'));
  await (await openCheckpoint(dir)).close();

  // a llama2.c checkpoint with a tokenizer.json given by --tokenizer: the message names the file
  const l2c = tinyConfig();
  const bin = fresh('l2c') + '.bin';
  writeL2cV1(bin, l2c, randomL2c(l2c, 1, false));
  const tj = fresh('tok') + '.json';
  writeFileSync(tj, tokenizerReaching(15, 'added'));
  await rejects(openCheckpoint(bin, { tokenizer: tj }), FormatError, new RegExp(`with tokenizer ${tj}: the tokenizer has ids up to 15`));
});

test('loadModel refuses a .sqz whose tokenizer has ids past the model vocabulary', async () => {
  const config = { ...tinyConfig(), dim: 16, vocabSize: 270 };
  const path = fresh('big-tok') + '.sqz';
  await writeSqz(path, { config, tokenizer: syntheticTokenizer(300), quant: { method: 'f32', source: 'test' } }, syntheticRecords(config));
  await rejects(loadModel(path), FormatError, /ids up to 299 but the model's vocabulary has 270/);
  // the same model with a tokenizer that fits loads
  const ok = fresh('tok') + '.sqz';
  await writeSqz(ok, { config, tokenizer: syntheticTokenizer(270), quant: { method: 'f32', source: 'test' } }, syntheticRecords(config));
  await (await loadModel(ok)).close();
});

// ---- non-finite weights ----

test('NaN or Inf in a weight is refused when read, naming the tensor and element: llama2.c, safetensors f16, GGUF f32', async () => {
  const c = tinyConfig();
  const w = randomL2c(c, 2, false);
  // layers.1.attn.q is [dim, dim]: flat index 37 is row 2, column 5
  w.wq[1][37] = NaN;
  const bin = fresh('nan') + '.bin';
  writeL2cV1(bin, c, w);
  const out = fresh('nan') + '.sqz';
  await rejects(convertCheckpoint(bin, out), FormatError, /llama2\.c .*: tensor layers\.1\.attn\.q holds NaN at \[2, 5\]/);
  assert.not.ok(existsSync(out));

  const hc = hfc();
  const f = randomFolder(hc, 6, () => 'F16');
  const up = f.tensors['model.layers.0.mlp.up_proj.weight'];
  new DataView(up.data.buffer, up.data.byteOffset).setUint16(2 * (3 * hc.dim + 1), 0xfc00, true); // -Inf at [3, 1]
  const dir = fresh('hf');
  writeFolder(dir, hc, f);
  await rejects(convertCheckpoint(dir, fresh('x') + '.sqz'), FormatError, /tensor layers\.0\.mlp\.up holds -Infinity at \[3, 1\]/);

  const g = ggufFile(buildGguf(ggufKv(), ggufTensors({ name: 'output_norm.weight', index: 7, value: Infinity })));
  await rejects(convertCheckpoint(g, fresh('x') + '.sqz'), FormatError, /tensor norm holds Infinity at \[7\]/);
});

test('a weight of 2^32 or more (one flipped exponent bit) is refused when read; 1e9 is not', async () => {
  const c = tinyConfig();
  const w = randomL2c(c, 4, false);
  // 3.1e38 is what flipping bit 30 of a weight near 0.9 gives; it overflowed RMSNorm to NaN logits
  w.w3[0][3 * c.dim + 7] = 3.1e38;
  w.w1[1][0] = -1e9;
  const bin = fresh('big') + '.bin';
  writeL2cV1(bin, c, w);
  const ck = await openCheckpoint(bin);
  try {
    const gate = await ck.read('layers.1.mlp.gate');
    assert.is(gate[0], -1e9);
    await rejects(ck.read('layers.0.mlp.up'), FormatError, /tensor layers\.0\.mlp\.up holds 3\.0\d*e\+38 at \[3, 7\]; no trained weight is 2\^32 or more/);
  } finally {
    await ck.close();
  }
});

test('a tokenizer.json whose post_processor template holds a number is refused at load (it threw a TypeError at every encode)', async () => {
  const tok = JSON.parse(spTokenizerJson());
  tok.post_processor.single[1] = 1;
  const json = JSON.stringify(tok);
  assert.throws(() => hfTokenizerSpec(json, 'tokenizer.json'), (e: Error) => e instanceof FormatError && /tokenizer\.json: the tokenizer fails on a test text/.test(e.message));
  assert.throws(() => createTokenizer({ kind: 'hf', json, bos: 1, eos: 2 }), (e: Error) => e instanceof FormatError);
});

const sqz = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });

test('CLI: a NaN checkpoint for convert, export and quantize is one line, exit 1 (not "internal error")', () => {
  const oneLine = (r: ReturnType<typeof sqz>, re: RegExp) => {
    assert.is(r.status, 1, r.stderr);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  };
  const c = tinyConfig();
  const w = randomL2c(c, 3, false);
  w.rmsFfn[0][4] = NaN;
  const bin = fresh('nan') + '.bin';
  writeL2cV1(bin, c, w);
  oneLine(sqz('convert', bin, '-o', fresh('x') + '.sqz'), /tensor layers\.0\.mlp_norm holds NaN at \[4\]/);
  const tok = fresh('tok') + '.bin';
  writeL2cTokenizer(tok, Array.from({ length: c.vocabSize }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i] : `p${i}`)), new Array(c.vocabSize).fill(0));
  oneLine(sqz('export', bin, '--tokenizer', tok, '--gguf', fresh('x') + '.gguf', '--type', 'f32'), /tensor layers\.0\.mlp_norm holds NaN/);
  oneLine(sqz('quantize', bin, '--bits', '4', '--no-fisher', '--tokenizer', tok, '-o', fresh('q') + '.sqz'), /tensor layers\.0\.mlp_norm holds NaN/);
});

test("CLI: sqz run stories260K.bin --tokenizer tinystories-656k/tokenizer.json is one line, exit 1 (it ran garbage, exit 0)", () => {
  const shared = sharedFiles('models/stories260K.bin', 'models/tinystories-656k/tokenizer.json');
  if (!shared) return;
  const r = sqz('run', shared[0], '--tokenizer', shared[1], '-n', '4');
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stdout, '');
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^sqz: llama2\.c stories260K\.bin with tokenizer .*tokenizer\.json: the tokenizer has ids up to 2047 but the model's vocabulary has 512/);
});

test.run();
