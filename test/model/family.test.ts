// The family fields of the config (issue 17): their bounds, and the forward pass that reads them
// held to a plain f64 reference written here from the architectures' equations (not from
// src/model/forward.ts), on the js and wasm backends, for each field on its own and for the
// Qwen2 / Gemma / Gemma 2 / Mistral / Llama 3 combinations (every KV cache kind for the attention
// fields: test/kernels/attention.test.ts); a backend without the ops, and Fisher's backward pass,
// refuse a family with one line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/backend/types.ts';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { type ModelConfig, validateConfig } from '../../src/model/config.ts';
import { Model } from '../../src/model/model.ts';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { LlamaGrad, weightsFromRecords } from '../../tools/fisher/backward.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { rejects } from '../helpers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSqz } from '../../src/format/writer.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';

const SHAPE = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, maxSeqLen: 64, outlierChannels: 0 };
const LLAMA3 = { kind: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeqLen: 16 };

const CASES: Array<[string, Partial<ModelConfig>]> = [
  ['q/k/v biases', { qkvBias: true }],
  ['o bias', { oBias: true }],
  ['LayerNorm', { normKind: 'layer' }],
  ['norm offset 1', { normOffset: 1 }],
  ['gelu-tanh', { activation: 'gelu-tanh' }],
  ['relu', { activation: 'relu' }],
  ['llama3 RoPE scaling', { ropeScaling: LLAMA3 }],
  ['embedding scale', { embedScale: Math.sqrt(SHAPE.dim) }],
  ['logit soft-cap', { logitSoftcap: 5 }],
  ['sliding window 3', { slidingWindow: 3 }],
  ['sliding window 3 on even layers', { slidingWindow: 3, slidingWindowPattern: 2 }],
  ['attention soft-cap', { attnSoftcap: 0.5 }],
  ['post-norms', { postNorms: true }],
  ['RoPE divisors', { ropeScaling: { kind: 'factors', divisors: [1, 1.5, 4, 8] } }],
  ['qwen2', { qkvBias: true, rope: 'half', ropeTheta: 1e6 }],
  ['gemma', { activation: 'gelu-tanh', embedScale: Math.sqrt(SHAPE.dim), normOffset: 1, rope: 'half' }],
  ['llama 3', { ropeScaling: LLAMA3, ropeTheta: 500000, tiedEmbeddings: true }],
  ['mistral', { slidingWindow: 5, rope: 'half' }],
  ['ungated relu', { gated: false, activation: 'relu' }],
  ['feed-forward biases', { mlpBias: true }],
  ['norm biases', { normBias: true, normKind: 'layer' }],
  ['learned positions', { positions: 'learned' }],
  // OPT (the SqueezeLLM reference's other family), which llama.cpp lacks: held to this reference alone
  ['opt', { positions: 'learned', normKind: 'layer', normBias: true, qkvBias: true, oBias: true, mlpBias: true, gated: false, activation: 'relu', normEps: 1e-5 }],
  ['gemma 2', { activation: 'gelu-tanh', embedScale: Math.sqrt(SHAPE.dim), normOffset: 1, rope: 'half', postNorms: true, attnSoftcap: 1, logitSoftcap: 5, slidingWindow: 3, slidingWindowPattern: 2 }],
];

/** f64 logits of every position of `tokens`, from the records by name, the equations written out. */
function referenceLogits(c: ModelConfig, records: TensorRecord[], tokens: number[]): Float64Array[] {
  const W = new Map(records.map((r) => [r.name, Float64Array.from((r as Extract<TensorRecord, { kind: 'f32' }>).data)]));
  const get = (n: string) => W.get(n)!;
  const D = c.dim, H = c.hiddenDim, hs = D / c.nHeads, kvd = hs * c.nKvHeads;
  const mv = (w: Float64Array, x: Float64Array, rows: number) => Float64Array.from({ length: rows }, (_, r) => x.reduce((s, v, i) => s + w[r * x.length + i] * v, 0));
  const plus = (a: Float64Array, b?: Float64Array) => (b ? a.map((v, i) => v + b[i]) : a);
  // LayerNorm / RMSNorm, then the norm's bias where the family has one (OPT)
  const norm = (x: Float64Array, w: Float64Array, b?: Float64Array) => {
    const mean = c.normKind === 'layer' ? x.reduce((s, v) => s + v, 0) / D : 0;
    const ms = x.reduce((s, v) => s + (v - mean) ** 2, 0) / D;
    return x.map((v, i) => ((v - mean) / Math.sqrt(ms + c.normEps)) * (w[i] + (c.normOffset ?? 0)) + (b ? b[i] : 0));
  };
  const freq = (i: number) => {
    const f = c.ropeTheta ** ((-2 * i) / hs);
    const s = c.ropeScaling;
    if (!s) return f;
    if (s.kind === 'factors') return f / s.divisors[i];
    const wl = (2 * Math.PI) / f;
    if (wl < s.originalMaxSeqLen / s.highFreqFactor) return f;
    if (wl > s.originalMaxSeqLen / s.lowFreqFactor) return f / s.factor;
    const t = (s.originalMaxSeqLen / wl - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - t) * (f / s.factor) + t * f;
  };
  const rope = (v: Float64Array, p: number) => {
    if (c.positions === 'learned') return v; // OPT adds a learned row to the embedding instead
    for (let h = 0; h < v.length; h += hs) {
      for (let i = 0; i < hs / 2; i++) {
        const [a, b] = c.rope === 'half' ? [h + i, h + i + hs / 2] : [h + 2 * i, h + 2 * i + 1];
        const ang = p * freq(i);
        [v[a], v[b]] = [v[a] * Math.cos(ang) - v[b] * Math.sin(ang), v[a] * Math.sin(ang) + v[b] * Math.cos(ang)];
      }
    }
    return v;
  };
  const act = (g: number) =>
    c.activation === 'relu' ? Math.max(0, g) : c.activation === 'gelu-tanh' ? 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g ** 3))) : g / (1 + Math.exp(-g));
  const keys: Float64Array[][] = [], vals: Float64Array[][] = [];
  const out: Float64Array[] = [];
  tokens.forEach((tok, p) => {
    let x: Float64Array = get('embed').slice(tok * D, (tok + 1) * D).map((v) => v * (c.embedScale ?? 1));
    if (c.positions === 'learned') x = plus(x, get('pos_embed').slice(p * D, (p + 1) * D));
    for (let l = 0; l < c.nLayers; l++) {
      const P = `layers.${l}.`;
      const xn = norm(x, get(P + 'attn_norm'), W.get(P + 'attn_norm_bias'));
      const q = rope(plus(mv(get(P + 'attn.q'), xn, D), W.get(P + 'attn.q_bias')), p);
      (keys[l] ??= []).push(rope(plus(mv(get(P + 'attn.k'), xn, kvd), W.get(P + 'attn.k_bias')), p));
      (vals[l] ??= []).push(plus(mv(get(P + 'attn.v'), xn, kvd), W.get(P + 'attn.v_bias')));
      // Gemma 2: every second layer (the odd ones) is global
      const global = c.slidingWindowPattern === 2 && l % 2 === 1;
      const first = c.slidingWindow && !global ? Math.max(0, p + 1 - c.slidingWindow) : 0;
      const cap = (s: number) => (c.attnSoftcap ? c.attnSoftcap * Math.tanh(s / c.attnSoftcap) : s);
      const att = new Float64Array(D);
      for (let h = 0; h < c.nHeads; h++) {
        const kvOff = Math.floor(h / (c.nHeads / c.nKvHeads)) * hs;
        const scores: number[] = [];
        for (let t = first; t <= p; t++) scores.push(cap(Array.from({ length: hs }, (_, d) => q[h * hs + d] * keys[l][t][kvOff + d]).reduce((a, b) => a + b) / Math.sqrt(hs)));
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b);
        for (let t = first; t <= p; t++) for (let d = 0; d < hs; d++) att[h * hs + d] += (e[t - first] / z) * vals[l][t][kvOff + d];
      }
      const post = (v: Float64Array, name: string) => (c.postNorms ? norm(v, get(P + name)) : v);
      x = plus(x, post(plus(mv(get(P + 'attn.o'), att, D), W.get(P + 'attn.o_bias')), 'attn_post_norm'));
      const xm = norm(x, get(P + 'mlp_norm'), W.get(P + 'mlp_norm_bias'));
      const u = plus(mv(get(P + 'mlp.up'), xm, H), W.get(P + 'mlp.up_bias'));
      // gated: act(gate x) * up x; OPT: act(fc1 x)
      const h = c.gated === false ? u.map(act) : plus(mv(get(P + 'mlp.gate'), xm, H), W.get(P + 'mlp.gate_bias')).map((v, i) => act(v) * u[i]);
      x = plus(x, post(plus(mv(get(P + 'mlp.down'), h, D), W.get(P + 'mlp.down_bias')), 'mlp_post_norm'));
    }
    const logits = mv(W.get('head') ?? get('embed'), norm(x, get('norm'), W.get('norm_bias')), c.vocabSize);
    out.push(c.logitSoftcap ? logits.map((v) => c.logitSoftcap! * Math.tanh(v / c.logitSoftcap!)) : logits);
  });
  return out;
}

const TOKENS = [1, 270, 281, 265, 299, 260, 272, 290];

// the fields attend() takes: RoPE frequencies, the window and the attention soft-cap
const IN_ATTENTION = (fields: Partial<ModelConfig>) => fields.ropeScaling !== undefined || fields.slidingWindow !== undefined || fields.attnSoftcap !== undefined;

for (const [label, fields] of CASES) {
  test(`forward with ${label} = the f64 reference, js and wasm backends, a prompt batch and one token at a time`, async () => {
    const m = syntheticModel({ ...SHAPE, tiedEmbeddings: false, ...fields, seed: 5 });
    const ref = referenceLogits(m.config, m.records, TOKENS);
    for (const backend of [new JsBackend(), await WasmBackend.create()] as Backend[]) {
      // an f32 KV cache: the reference is f64 throughout, and the default f16 cache rounds K and V
      const model = await Model.fromRecords(m.config, m.tokenizer, m.records, backend, { batch: 4, ctx: 32, kv: 'f32' });
      const batched = model.forward(TOKENS, 0, 0); // two batches of 4
      const V = m.config.vocabSize;
      for (let p = 0; p < TOKENS.length; p++) {
        const stepwise = model.forward([TOKENS[p]], p);
        const scale = Math.max(...ref[p].map(Math.abs));
        for (const [how, got] of [['batched', batched.subarray(p * V, (p + 1) * V)], ['one token', stepwise]] as const) {
          let worst = 0;
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[v] - ref[p][v]) / scale);
          assert.ok(worst < 1e-4, `${label}, ${backend.name}, ${how}, position ${p}: logits differ from the reference by ${worst} of their largest`);
        }
      }
      await model.close();
    }
  });
}

// Longer than every window here; the quantized kinds under a window are held to the reference in
// test/kernels/attention.test.ts (here their codes would flip on rounding differences upstream).
const LONG = Array.from({ length: 75 }, (_, i) => 259 + ((i * 7) % 41));

for (const [label, fields] of CASES.filter(([, f]) => IN_ATTENTION(f))) {
  test(`${label} with the default f16 KV cache: the wasm model = the js one over 75 tokens`, async () => {
    const m = syntheticModel({ ...SHAPE, maxSeqLen: 80, tiedEmbeddings: false, ...fields, seed: 6 });
    for (const kv of ['f16'] as const) {
      const opts = { batch: 16, ctx: 80, kv };
      const js = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), opts);
      const wasm = await Model.fromRecords(m.config, m.tokenizer, m.records, await WasmBackend.create(), opts);
      const want = js.forward(LONG, 0, 0);
      const got = wasm.forward(LONG, 0, 0);
      const V = m.config.vocabSize;
      for (let p = 0; p < LONG.length; p++) {
        const w = want.subarray(p * V, (p + 1) * V);
        const scale = Math.max(...w.map(Math.abs));
        let worst = 0;
        for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[p * V + v] - w[v]) / scale);
        // the same f16 rounding in both caches, of inputs summed in other orders
        assert.ok(worst < 1e-3, `${label}, ${kv}, position ${p}: wasm logits differ from js by ${worst} of their largest`);
      }
      await js.close();
      await wasm.close();
    }
  });
}

test('a backend whose attend() lacks the extras refuses RoPE scaling, a short window and the attention soft-cap at load, with one line', async () => {
  for (const [fields, what] of [[{ ropeScaling: LLAMA3 }, 'llama3 RoPE scaling'], [{ slidingWindow: 3 }, 'a sliding window of 3 positions'], [{ attnSoftcap: 2 }, 'an attention soft-cap']] as const) {
    const m = syntheticModel({ ...SHAPE, ...fields });
    const bare = new JsBackend() as unknown as Record<string, unknown>;
    Object.defineProperty(bare, 'attendExtras', { value: false });
    await rejects(Model.fromRecords(m.config, m.tokenizer, m.records, bare as unknown as Backend, { ctx: 32 }), UnsupportedError, new RegExp(`^model: the js backend's attention cannot run ${what}; use --backend wasm`));
  }
});

test('.sqz records the family fields (Gemma 2 with GGUF-style RoPE divisors): read back equal, and the file runs as the records do; a header without them is Llama 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqz-family-'));
  try {
    const fields = CASES.find(([l]) => l === 'gemma 2')![1];
    for (const m of [syntheticModel({ ...SHAPE, ...fields, ropeScaling: { kind: 'factors', divisors: [1, 2, 4, 8] }, seed: 7 }), syntheticModel({ ...SHAPE, seed: 7 })]) {
      const path = join(dir, 'm.sqz');
      await writeSqz(path, { config: m.config, tokenizer: m.tokenizer, quant: { method: 'f32', source: 'synthetic' } }, m.records);
      const reader = await SqzReader.open(path);
      assert.equal(reader.header.config, m.config);
      await reader.close();
      const fromFile = await loadModel(path, { backend: 'wasm', kv: 'f32', ctx: 32 });
      const fromRecords = await Model.fromRecords(m.config, m.tokenizer, m.records, await WasmBackend.create(), { kv: 'f32', ctx: 32 });
      assert.equal(Array.from(fromFile.forward(TOKENS, 0, 0)), Array.from(fromRecords.forward(TOKENS, 0, 0)));
      await fromFile.close();
      await fromRecords.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('family fields out of bounds are refused naming the field; a config without them is Llama 2', () => {
  const good = syntheticModel({ ...SHAPE }).config;
  validateConfig(good, 'm.sqz');
  const refused: Array<[Partial<Record<keyof ModelConfig, unknown>>, RegExp]> = [
    [{ qkvBias: 'yes' }, /qkvBias = "yes" is not true or false/],
    [{ normKind: 'batch' }, /normKind = "batch"/],
    [{ normOffset: NaN }, /normOffset = NaN/],
    [{ activation: 'swish' }, /activation = "swish"/],
    [{ gated: 'no' }, /gated = "no" is not true or false/],
    [{ positions: 'alibi' }, /positions = "alibi" is not 'rope' or 'learned'/],
    [{ mlpBias: 0 }, /mlpBias = 0 is not true or false/],
    [{ embedScale: 0 }, /embedScale = 0/],
    [{ embedScale: Infinity }, /embedScale = Infinity/],
    [{ logitSoftcap: -1 }, /logitSoftcap = -1/],
    [{ slidingWindow: 2.5 }, /slidingWindow = 2.5/],
    [{ slidingWindow: 2 ** 30 }, /slidingWindow = 1073741824/],
    [{ ropeScaling: { kind: 'yarn', factor: 4 } }, /ropeScaling = .*yarn/],
    [{ ropeScaling: { ...LLAMA3, lowFreqFactor: 4, highFreqFactor: 1 } }, /ropeScaling = /],
    [{ ropeScaling: { ...LLAMA3, factor: NaN } }, /ropeScaling = /],
    [{ ropeScaling: { kind: 'factors', divisors: [1, 2, 3] } }, /ropeScaling = .*4 positive numbers/],
    [{ ropeScaling: { kind: 'factors', divisors: [1, 2, 0, 4] } }, /ropeScaling = /],
    [{ slidingWindowPattern: -1 }, /slidingWindowPattern = -1/],
    [{ attnSoftcap: NaN }, /attnSoftcap = NaN/],
    [{ postNorms: 1 }, /postNorms = 1 is not true or false/],
  ];
  for (const [change, why] of refused) {
    assert.throws(() => validateConfig({ ...good, ...change } as ModelConfig, 'm.sqz'), (e: Error) => e instanceof FormatError && /^m\.sqz: config /.test(e.message) && why.test(e.message), JSON.stringify(change));
  }
});

test("a backend without a family's ops, and Fisher's backward pass, refuse the model with one line", async () => {
  const m = syntheticModel({ ...SHAPE, qkvBias: true, activation: 'gelu-tanh' });
  const bare = new JsBackend() as unknown as Record<string, unknown>;
  bare.addBias = undefined;
  await Model.fromRecords(m.config, m.tokenizer, m.records, bare as unknown as Backend).then(
    () => assert.unreachable('loaded'),
    (e: Error) => assert.ok(e instanceof UnsupportedError && /^model: the js backend cannot run attention biases/.test(e.message) && !e.message.includes('\n'), e.message),
  );
  assert.throws(
    () => new LlamaGrad(m.config, weightsFromRecords(m.records)),
    (e: Error) => e instanceof UnsupportedError && /run the Llama 2 block with q\/k\/v\/o biases, a norm offset and an embedding scale only, and this model has gelu-tanh activation \(/.test(e.message),
  );
});

test.run();
