import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import { FormatError, SqzError, UnsupportedError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import { rejects, sharedFiles, skip } from '../helpers.ts';
import {
  type StDtype, type StTensor, TINY_TOKENIZER_JSON, f32Tensor, hfConfigJson, randomFolder, tempDir, tinyConfig, writeFolder, writeL2cTokenizer,
} from './writers.ts';

const hfc = (over: Partial<ModelConfig> = {}) => tinyConfig({ rope: 'half', normEps: 1e-6, ...over });

const bitsOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && bitsOf(a).equals(bitsOf(b));

async function checkAll(dir: string, c: ModelConfig, want: Map<string, Float32Array>) {
  const ck = await openCheckpoint(dir);
  try {
    assert.equal(ck.config, c);
    assert.equal(ck.names(), [...tensorShapes(c).keys()]);
    for (const name of ck.names()) {
      const got = await ck.read(name);
      const w = want.get(name)!;
      assert.ok(same(got, w), `${name}: got ${got.subarray(0, 4)}, want ${w.subarray(0, 4)}`);
    }
  } finally {
    await ck.close();
  }
  return ck;
}

test('HF untied F32: every canonical tensor reads back exactly; unused tensors are named in a note (inv_freq silently)', async () => {
  const t = tempDir('hf');
  try {
    const c = hfc({ tiedEmbeddings: false });
    const f = randomFolder(c, 1);
    f.tensors['model.layers.0.self_attn.rotary_emb.inv_freq'] = f32Tensor([2], new Float32Array([1, 0.1]));
    f.tensors['model.some_counter'] = { dtype: 'I32', shape: [1], data: new Uint8Array(4) };
    writeFolder(t.dir, c, f);
    const ck = await checkAll(t.dir, c, f.want);
    assert.is(ck.source, `Hugging Face ${t.dir.split('/').pop()}`);
    assert.equal(ck.tokenizer, { kind: 'hf', json: TINY_TOKENIZER_JSON, bos: 1, eos: 2 });
    assert.equal(ck.notes, ['ignored tensors: model.some_counter']);
  } finally {
    t.done();
  }
});

test('HF BF16 converts exactly, F16 matches halfToFloat, mixed per tensor', async () => {
  const t = tempDir('hfdt');
  try {
    const c = hfc({ tiedEmbeddings: false });
    const kinds: StDtype[] = ['BF16', 'F16', 'F32'];
    for (const all of kinds) {
      const f = randomFolder(c, 2, () => all);
      writeFolder(join(t.dir, all), c, f);
      await checkAll(join(t.dir, all), c, f.want);
    }
    let k = 0;
    const f = randomFolder(c, 3, () => kinds[k++ % 3]);
    writeFolder(join(t.dir, 'mixed'), c, f);
    await checkAll(join(t.dir, 'mixed'), c, f.want);
  } finally {
    t.done();
  }
});

test('HF sharded index: tensors spread over three shards', async () => {
  const t = tempDir('hfsh');
  try {
    const c = hfc({ tiedEmbeddings: false, nLayers: 3 });
    const f = randomFolder(c, 4, (n) => (n.includes('mlp') ? 'BF16' : 'F32'));
    writeFolder(t.dir, c, f, { shards: 3 });
    await checkAll(t.dir, c, f.want);
  } finally {
    t.done();
  }
});

test('HF tied: only lm_head stored (with and without the metadata alias), or both stored', async () => {
  const t = tempDir('hftie');
  try {
    const c = hfc({ tiedEmbeddings: true });
    const f = randomFolder(c, 5);
    const embed = f.tensors['model.embed_tokens.weight'];
    const onlyHead: Record<string, StTensor> = { ...f.tensors, 'lm_head.weight': embed };
    delete onlyHead['model.embed_tokens.weight'];
    // Alias in metadata, as tinystories-656k stores it.
    writeFolder(join(t.dir, 'alias'), c, { tensors: onlyHead, want: f.want }, { metadata: { format: 'pt', 'model.embed_tokens.weight': 'lm_head.weight' } });
    await checkAll(join(t.dir, 'alias'), c, f.want);
    // No metadata: tied config is enough.
    writeFolder(join(t.dir, 'plain'), c, { tensors: onlyHead, want: f.want });
    await checkAll(join(t.dir, 'plain'), c, f.want);
    // Both stored (different values): embed comes from model.embed_tokens.weight, no head tensor.
    const r = new Rng(6);
    const both = { ...f.tensors, 'lm_head.weight': f32Tensor([c.vocabSize, c.dim], r.normals(c.vocabSize * c.dim)) };
    writeFolder(join(t.dir, 'both'), c, { tensors: both, want: f.want });
    const ck = await checkAll(join(t.dir, 'both'), c, f.want);
    assert.not.ok(ck.names().includes('head'));
    // Untied config, but the metadata says lm_head is stored as the embedding: head reads those bytes.
    const u = hfc({ tiedEmbeddings: false });
    const fu = randomFolder(u, 6);
    delete fu.tensors['lm_head.weight'];
    fu.want.set('head', fu.want.get('embed')!);
    writeFolder(join(t.dir, 'rev'), u, fu, { metadata: { 'lm_head.weight': 'model.embed_tokens.weight' } });
    await checkAll(join(t.dir, 'rev'), u, fu.want);
  } finally {
    t.done();
  }
});

test('HF untied with lm_head missing is a FormatError naming it', async () => {
  const t = tempDir('hfnohead');
  try {
    const c = hfc({ tiedEmbeddings: false });
    const f = randomFolder(c, 7);
    delete f.tensors['lm_head.weight'];
    writeFolder(t.dir, c, f);
    await rejects(openCheckpoint(t.dir), FormatError, /lm_head\.weight \(head\) is missing.*tie_word_embeddings false/);
    // The default for a config without tie_word_embeddings is untied too.
    writeFolder(t.dir, c, f, { config: { tie_word_embeddings: undefined } });
    await rejects(openCheckpoint(t.dir), FormatError, /lm_head\.weight/);
    delete f.tensors['model.layers.1.mlp.up_proj.weight'];
    writeFolder(t.dir, hfc({ tiedEmbeddings: true }), f);
    await rejects(openCheckpoint(t.dir), FormatError, /model\.layers\.1\.mlp\.up_proj\.weight \(layers\.1\.mlp\.up\) is missing/);
  } finally {
    t.done();
  }
});

test('HF wrong shape names the tensor, expected and actual shape', async () => {
  const t = tempDir('hfshape');
  try {
    const c = hfc();
    const f = randomFolder(c, 8);
    // k_proj stored as if there were no GQA.
    f.tensors['model.layers.1.self_attn.k_proj.weight'] = f32Tensor([16, 16], new Float32Array(256));
    writeFolder(t.dir, c, f);
    await rejects(openCheckpoint(t.dir), FormatError, /model\.layers\.1\.self_attn\.k_proj\.weight \(layers\.1\.attn\.k\) has shape \[16, 16\], expected \[8, 16\]/);
  } finally {
    t.done();
  }
});

test('HF dtypes: F64 (and other non-float) tensors are UnsupportedError naming tensor and dtype', async () => {
  const t = tempDir('hff64');
  try {
    const c = hfc();
    const f = randomFolder(c, 9, (n) => (n === 'layers.0.mlp.gate' ? 'F64' : 'F32'));
    writeFolder(t.dir, c, f);
    await rejects(openCheckpoint(t.dir), UnsupportedError, /model\.layers\.0\.mlp\.gate_proj\.weight has dtype F64; supported dtypes are F32, F16 and BF16/);
  } finally {
    t.done();
  }
});

test('HF config: unsupported model_type, rope_scaling, activation; Mistral note; missing fields', async () => {
  const t = tempDir('hfcfg');
  try {
    const c = hfc();
    const f = randomFolder(c, 10);
    writeFolder(t.dir, c, f, { config: { model_type: 'gpt2' } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /model_type 'gpt2' is not supported \(supported: llama, mistral, qwen2, gemma, gemma2, phi3, opt\)/);
    writeFolder(t.dir, c, f, { config: { rope_scaling: { type: 'linear', factor: 2 } } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /rope_scaling/);
    writeFolder(t.dir, c, f, { config: { hidden_act: 'gelu' } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /hidden_act 'gelu'/);
    writeFolder(t.dir, c, f, { config: { intermediate_size: undefined } });
    await rejects(openCheckpoint(t.dir), FormatError, /config\.json has no intermediate_size/);
    writeFolder(t.dir, c, f, { config: { num_attention_heads: 3 } });
    await rejects(openCheckpoint(t.dir), FormatError, /not a multiple of n_heads 3/);
    writeFileSync(join(t.dir, 'config.json'), '{ not json');
    await rejects(openCheckpoint(t.dir), FormatError, /config\.json: not valid JSON/);
    // Mistral: read like Llama, with its sliding window. Defaults: kv heads = heads, theta 1e4, eps 1e-6.
    const m = hfc({ nKvHeads: 4, tiedEmbeddings: true, slidingWindow: 4 });
    const fm = randomFolder(m, 11);
    writeFolder(t.dir, m, fm, {
      config: { model_type: 'mistral', sliding_window: 4, num_key_value_heads: undefined, rope_theta: undefined, rms_norm_eps: undefined },
    });
    const ck = await checkAll(t.dir, m, fm.want);
    assert.equal(ck.notes, undefined);
  } finally {
    t.done();
  }
});

test('HF families: qwen2 (q/k/v biases read), gemma (GeGLU, sqrt(dim) embedding scale, norm + 1, tied by default), llama with attention_bias and llama3 rope_scaling', async () => {
  const t = tempDir('hffam');
  try {
    const q = hfc({ qkvBias: true, tiedEmbeddings: true, ropeTheta: 1000000 });
    const fq = randomFolder(q, 21);
    writeFolder(t.dir, q, fq, { config: { model_type: 'qwen2', rope_theta: 1000000, sliding_window: 4, use_sliding_window: false } });
    await checkAll(t.dir, q, fq.want);
    const g = hfc({ activation: 'gelu-tanh', normOffset: 1, embedScale: Math.sqrt(tinyConfig().dim), tiedEmbeddings: true });
    const fg = randomFolder(g, 22);
    writeFolder(t.dir, g, fg, { config: { model_type: 'gemma', hidden_act: 'gelu', tie_word_embeddings: undefined } });
    await checkAll(t.dir, g, fg.want);
    const scaling = { kind: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeqLen: 64 };
    const l = hfc({ qkvBias: true, oBias: true, ropeScaling: scaling });
    const fl = randomFolder(l, 23);
    const rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    writeFolder(t.dir, l, fl, { config: { attention_bias: true, rope_scaling } });
    await checkAll(t.dir, l, fl.want);
    // a bias the config implies must be there
    delete fq.tensors['model.layers.1.self_attn.k_proj.bias'];
    writeFolder(t.dir, q, fq, { config: { model_type: 'qwen2', rope_theta: 1000000 } });
    await rejects(openCheckpoint(t.dir), FormatError, /model\.layers\.1\.self_attn\.k_proj\.bias \(layers\.1\.attn\.k_bias\) is missing/);
  } finally {
    t.done();
  }
});

test('HF gemma2 (its four norms per block, soft-caps, window on even layers) and phi3 (fused qkv_proj and gate_up_proj split at load, its window), F32 and BF16', async () => {
  const t = tempDir('hffam2');
  try {
    const dim = tinyConfig().dim;
    // Gemma 2: a folder with Gemma 2's own norm names (modeling_gemma2.py's Gemma2DecoderLayer)
    const g = hfc({ activation: 'gelu-tanh', normOffset: 1, embedScale: Math.sqrt(dim), tiedEmbeddings: true, postNorms: true, slidingWindowPattern: 2, attnSoftcap: 50, logitSoftcap: 30, slidingWindow: 4 });
    const plain = randomFolder({ ...g, postNorms: undefined }, 24);
    const r = new Rng(25);
    const tensors = { ...plain.tensors };
    const want = new Map(plain.want);
    for (let l = 0; l < g.nLayers; l++) {
      const p = `model.layers.${l}.`;
      tensors[p + 'pre_feedforward_layernorm.weight'] = tensors[p + 'post_attention_layernorm.weight'];
      for (const [name, canonical] of [['post_attention_layernorm', 'attn_post_norm'], ['post_feedforward_layernorm', 'mlp_post_norm']]) {
        const v = r.normals(dim);
        tensors[`${p}${name}.weight`] = f32Tensor([dim], v);
        want.set(`layers.${l}.${canonical}`, v);
      }
    }
    const gemma2 = { model_type: 'gemma2', hidden_activation: 'gelu_pytorch_tanh', tie_word_embeddings: undefined, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4, query_pre_attn_scalar: dim / g.nHeads };
    writeFolder(t.dir, g, { tensors, want }, { config: gemma2 });
    await checkAll(t.dir, g, want);
    writeFolder(t.dir, g, { tensors, want }, { config: { ...gemma2, query_pre_attn_scalar: 3 } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /query_pre_attn_scalar 3 != head size/);
    // Phi-3: q, k, v and gate, up stored stacked by rows
    for (const dtype of ['F32', 'BF16'] as StDtype[]) {
      const c = hfc({ slidingWindow: 4 });
      const f = randomFolder(c, 26, () => dtype);
      for (let l = 0; l < c.nLayers; l++) {
        const p = `model.layers.${l}.`;
        const stack = (names: string[], into: string) => {
          const parts = names.map((n) => f.tensors[p + n]);
          const data = new Uint8Array(parts.reduce((s, x) => s + x.data.length, 0));
          parts.reduce((at, x) => (data.set(x.data, at), at + x.data.length), 0);
          f.tensors[p + into] = { dtype, shape: [parts.reduce((s, x) => s + x.shape[0], 0), parts[0].shape[1]], data };
          for (const n of names) delete f.tensors[p + n];
        };
        stack(['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'], 'self_attn.qkv_proj.weight');
        stack(['mlp.gate_proj.weight', 'mlp.up_proj.weight'], 'mlp.gate_up_proj.weight');
      }
      writeFolder(t.dir, c, f, { config: { model_type: 'phi3', sliding_window: 4 } });
      await checkAll(t.dir, c, f.want);
    }
  } finally {
    t.done();
  }
});

test('HF opt: names under model.decoder, biases everywhere, learned positions without their first 2 rows; opt-350m variants refused', async () => {
  const t = tempDir('hfopt');
  try {
    const c = hfc({ positions: 'learned', normKind: 'layer', normBias: true, qkvBias: true, oBias: true, mlpBias: true, gated: false, activation: 'relu', normEps: 1e-5, tiedEmbeddings: true, nKvHeads: tinyConfig().nHeads });
    const { dim, hiddenDim: ffn, maxSeqLen, vocabSize } = c;
    const r = new Rng(27);
    const tensors: Record<string, StTensor> = {};
    const want = new Map<string, Float32Array>();
    const put = (hf: string, canonical: string | undefined, shape: number[]) => {
      const v = r.normals(shape.reduce((a, b) => a * b, 1));
      tensors[hf] = f32Tensor(shape, v);
      if (canonical) want.set(canonical, v);
      return v;
    };
    put('model.decoder.embed_tokens.weight', 'embed', [vocabSize, dim]);
    const positions = put('model.decoder.embed_positions.weight', undefined, [maxSeqLen + 2, dim]);
    want.set('pos_embed', positions.slice(2 * dim));
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.decoder.layers.${l}.`;
      for (const [hf, can, shape] of [
        ['self_attn_layer_norm.weight', 'attn_norm', [dim]], ['self_attn_layer_norm.bias', 'attn_norm_bias', [dim]],
        ['self_attn.q_proj.weight', 'attn.q', [dim, dim]], ['self_attn.k_proj.weight', 'attn.k', [dim, dim]], ['self_attn.v_proj.weight', 'attn.v', [dim, dim]],
        ['self_attn.q_proj.bias', 'attn.q_bias', [dim]], ['self_attn.k_proj.bias', 'attn.k_bias', [dim]], ['self_attn.v_proj.bias', 'attn.v_bias', [dim]],
        ['self_attn.out_proj.weight', 'attn.o', [dim, dim]], ['self_attn.out_proj.bias', 'attn.o_bias', [dim]],
        ['final_layer_norm.weight', 'mlp_norm', [dim]], ['final_layer_norm.bias', 'mlp_norm_bias', [dim]],
        ['fc1.weight', 'mlp.up', [ffn, dim]], ['fc1.bias', 'mlp.up_bias', [ffn]], ['fc2.weight', 'mlp.down', [dim, ffn]], ['fc2.bias', 'mlp.down_bias', [dim]],
      ] as const) put(p + hf, `layers.${l}.${can}`, [...shape]);
    }
    put('model.decoder.final_layer_norm.weight', 'norm', [dim]);
    put('model.decoder.final_layer_norm.bias', 'norm_bias', [dim]);
    const opt = { model_type: 'opt', ffn_dim: ffn, intermediate_size: undefined, num_key_value_heads: undefined, rms_norm_eps: undefined, activation_function: 'relu', do_layer_norm_before: true, word_embed_proj_dim: dim, tie_word_embeddings: undefined };
    writeFolder(t.dir, c, { tensors, want }, { config: opt });
    await checkAll(t.dir, c, want);
    writeFolder(t.dir, c, { tensors, want }, { config: { ...opt, do_layer_norm_before: false } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /do_layer_norm_before false/);
    writeFolder(t.dir, c, { tensors, want }, { config: { ...opt, word_embed_proj_dim: 8 } });
    await rejects(openCheckpoint(t.dir), UnsupportedError, /word_embed_proj_dim 8 != hidden_size/);
  } finally {
    t.done();
  }
});

test('HF tokenizer: ids from tokenizer_config names, --tokenizer override, missing tokenizer.json', async () => {
  const t = tempDir('hftok');
  try {
    const c = hfc();
    const f = randomFolder(c, 12);
    writeFolder(t.dir, c, f, { config: { bos_token_id: undefined, eos_token_id: undefined } });
    writeFileSync(join(t.dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: { content: '</s>' } }));
    let ck = await openCheckpoint(t.dir);
    assert.equal(ck.tokenizer, { kind: 'hf', json: TINY_TOKENIZER_JSON, bos: 1, eos: 2 });
    await ck.close();
    // --tokenizer replaces the folder's file; tokenizer_config names resolve in it.
    const other = JSON.stringify({
      version: '1.0', added_tokens: [{ id: 5, content: '<s>', special: true }, { id: 6, content: '</s>', special: true }],
      model: { type: 'BPE', vocab: { '<unk>': 0, a: 1, b: 2, c: 3, d: 4, '<s>': 5, '</s>': 6 }, merges: [] },
    });
    writeFileSync(join(t.dir, 'other.json'), other);
    ck = await openCheckpoint(t.dir, { tokenizer: join(t.dir, 'other.json') });
    assert.equal(ck.tokenizer, { kind: 'hf', json: other, bos: 5, eos: 6 });
    await ck.close();
    // No hints at all: tokenizer.json decides (no post-processor: no BOS; EOS by name).
    writeFileSync(join(t.dir, 'tokenizer_config.json'), '{}');
    ck = await openCheckpoint(t.dir, { tokenizer: join(t.dir, 'other.json') });
    assert.equal(ck.tokenizer, { kind: 'hf', json: other, bos: null, eos: 6 });
    await ck.close();
    // A llama2.c tokenizer.bin may stand in too; its size must match the vocabulary.
    writeL2cTokenizer(join(t.dir, 'tok.bin'), ['<unk>', '<s>', '</s>', 'a'], [0, 0, 0, -1]);
    await rejects(openCheckpoint(t.dir, { tokenizer: join(t.dir, 'tok.bin') }), FormatError, /4 tokens but the model's vocab_size is 10/);
    writeFolder(join(t.dir, 'notok'), c, f, { tokenizer: false });
    await rejects(openCheckpoint(join(t.dir, 'notok')), FormatError, /no tokenizer\.json/);
  } finally {
    t.done();
  }
});

test('HF damaged files: truncated safetensors, missing shard, index pointing to the wrong shard', async () => {
  const t = tempDir('hfdmg');
  try {
    const c = hfc();
    const f = randomFolder(c, 13);
    writeFolder(t.dir, c, f);
    const p = join(t.dir, 'model.safetensors');
    truncateSync(p, statSync(p).size - 2);
    await rejects(openCheckpoint(t.dir), FormatError, /model\.norm\.weight: data ends at \d+ but the file has \d+ data bytes \(truncated\)/);
    writeFileSync(p, Buffer.alloc(4));
    await rejects(openCheckpoint(t.dir), FormatError, /too short for safetensors/);
    const big = Buffer.alloc(16);
    big.writeBigUInt64LE(1n << 40n);
    writeFileSync(p, big);
    await rejects(openCheckpoint(t.dir), FormatError, /header length/);

    const s = join(t.dir, 'sharded');
    writeFolder(s, c, f, { shards: 2 });
    const idx = JSON.parse(readFileSync(join(s, 'model.safetensors.index.json'), 'utf8'));
    const [one, two] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    idx.weight_map['model.norm.weight'] = idx.weight_map['model.norm.weight'] === one ? two : one;
    writeFileSync(join(s, 'model.safetensors.index.json'), JSON.stringify(idx));
    await rejects(openCheckpoint(s), FormatError, /puts model\.norm\.weight in .* which does not hold it/);
    idx.weight_map['model.norm.weight'] = 'model-00009-of-00009.safetensors';
    writeFileSync(join(s, 'model.safetensors.index.json'), JSON.stringify(idx));
    await rejects(openCheckpoint(s), FormatError, /names shard model-00009-of-00009\.safetensors, which is missing/);
  } finally {
    t.done();
  }
});

test('openCheckpoint dispatch: missing path, folder without config.json, .gguf, unknown extension', async () => {
  const t = tempDir('disp');
  try {
    await rejects(openCheckpoint(join(t.dir, 'nope.bin')), SqzError, /^no such file: .*nope\.bin$/);
    await rejects(openCheckpoint(t.dir), FormatError, /has no config\.json/);
    writeFileSync(join(t.dir, 'm.gguf'), 'GGUF');
    await rejects(openCheckpoint(join(t.dir, 'm.gguf')), FormatError, /truncated/);
    writeFileSync(join(t.dir, 'm.pt'), 'x');
    await rejects(openCheckpoint(join(t.dir, 'm.pt')), UnsupportedError, /cannot tell the format/);
    mkdirSync(join(t.dir, 'pt'));
    writeFileSync(join(t.dir, 'pt', 'config.json'), JSON.stringify(hfConfigJson(hfc())));
    writeFileSync(join(t.dir, 'pt', 'tokenizer.json'), TINY_TOKENIZER_JSON);
    writeFileSync(join(t.dir, 'pt', 'pytorch_model.bin'), 'x');
    await rejects(openCheckpoint(join(t.dir, 'pt')), UnsupportedError, /pytorch_model\.bin/);
  } finally {
    t.done();
  }
});

test('no file handle is left open, after close() or after any refused open', async () => {
  if (!existsSync('/proc/self/fd')) return skip('no /proc/self/fd to count open files in');
  const t = tempDir('hffd');
  try {
    const c = hfc({ tiedEmbeddings: false });
    const f = randomFolder(c, 14);
    writeFolder(join(t.dir, 'ok'), c, f, { shards: 3 });
    const wrong = randomFolder(c, 14);
    wrong.tensors['model.norm.weight'] = f32Tensor([3], new Float32Array(3));
    writeFolder(join(t.dir, 'shape'), c, wrong, { shards: 3 });
    const f64 = randomFolder(c, 14, (n) => (n === 'head' ? 'F64' : 'F32'));
    writeFolder(join(t.dir, 'f64'), c, f64);
    const before = readdirSync('/proc/self/fd').length;
    const ck = await openCheckpoint(join(t.dir, 'ok'));
    await ck.read('embed');
    await ck.close();
    await rejects(openCheckpoint(join(t.dir, 'shape')), FormatError, /model\.norm\.weight \(norm\) has shape \[3\], expected \[16\]/);
    await rejects(openCheckpoint(join(t.dir, 'f64')), UnsupportedError, /lm_head\.weight has dtype F64/);
    await rejects(openCheckpoint(join(t.dir, 'ok'), { tokenizer: join(t.dir, 'none.json') }), SqzError, /no such file/);
    assert.is(readdirSync('/proc/self/fd').length, before);
  } finally {
    t.done();
  }
});

test('tinystories-656k: config per PROVENANCE.md, embed is the stored lm_head bytes', async () => {
  const dir = sharedFiles('models/tinystories-656k')?.[0];
  if (!dir) return;
  const ck = await openCheckpoint(dir);
  try {
    assert.equal(ck.config, {
      arch: 'llama', dim: 128, hiddenDim: 384, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 2048, maxSeqLen: 512,
      ropeTheta: 10000, normEps: 1e-6, tiedEmbeddings: true, rope: 'half',
    });
    assert.is(ck.names().length, 1 + 2 * 9 + 1);
    // lm_head.weight is the first tensor in the data, right after the header.
    const raw = readFileSync(join(dir, 'model.safetensors'));
    const start = 8 + Number(raw.readBigUInt64LE(0));
    const embed = await ck.read('embed');
    assert.ok(bitsOf(embed).equals(raw.subarray(start, start + 2048 * 128 * 4)), 'embed differs from the stored lm_head.weight bytes');
    let n = 0;
    for (const name of ck.names()) n += (await ck.read(name)).length;
    assert.is(n, (raw.length - start) / 4);
    const tk = ck.tokenizer!;
    assert.is(tk.kind, 'hf');
    if (tk.kind === 'hf') {
      assert.is(tk.json, readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
      assert.is(tk.bos, 1);
      assert.is(tk.eos, 2);
    }
  } finally {
    await ck.close();
  }
});

test.run();
