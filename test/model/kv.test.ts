// The KV cache kinds end to end: the WASM backend's forward pass against the js reference backend
// for each kind (past the quantized kinds' f16 window), the default and the option's checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { KV_RESIDUAL, type KvKind, kvCacheBytes } from '../../src/kernels/attention.ts';
import { Model } from '../../src/model/model.ts';
import { UsageError } from '../../src/util/errors.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { assertClose } from '../helpers.ts';

const synth = () => syntheticModel({ seed: 4, rope: 'half', nHeads: 4, nKvHeads: 2, dim: 40, hiddenDim: 64, nLayers: 2, maxSeqLen: 256 });

for (const kind of ['f32', 'f16', 'q8', 'q4', 'q2'] as KvKind[]) {
  test(`kv ${kind}: wasm logits match the js reference over ${KV_RESIDUAL * 2 + 9} positions`, async () => {
    const m = synth();
    const opts = { batch: 16, kv: kind };
    const js = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), opts);
    const wasm = await Model.fromRecords(m.config, m.tokenizer, m.records, await WasmBackend.create(), opts);
    assert.is(wasm.state.kv.shape.kind, kind);
    const tokens = Array.from({ length: KV_RESIDUAL * 2 + 9 }, (_, i) => (i * 29 + 3) % m.config.vocabSize);
    // The two backends round RoPE's last bit differently now and then (their sin and cos differ); in
    // f16 that can move a half by its last bit (2^-11), in the quantized kinds a code by one step
    // (4.5e-3 seen at 8 bits; a window quantized too early gives 2e-2 to 0.9).
    const tol = { f32: 1e-4, f16: 5e-4, q8: 1e-2, q4: 1e-2, q2: 1e-2 }[kind];
    assertClose(wasm.forward(tokens, 0, 0), js.forward(tokens, 0, 0), tol, `kv ${kind} logits`);
  });
}

test('the cache is f16 unless asked, f32 where a backend keeps only f32; kinds and windows are checked', async () => {
  const m = synth();
  const model = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend());
  assert.is(model.state.kv.shape.kind, 'f16');
  class F32Only extends JsBackend {
    override readonly kvKinds = ['f32'] as const;
  }
  const only = await Model.fromRecords(m.config, m.tokenizer, m.records, new F32Only());
  assert.is(only.state.kv.shape.kind, 'f32');
  const windowed = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { kv: 'q2', kvWindow: 128 });
  assert.is(windowed.state.kv.shape.residual, 128);
  for (const [backend, kv, message, window] of [
    [new F32Only(), 'q4', /keeps a KV cache of f32, not q4/],
    [new JsBackend(), 'q3', /kv must be f32, f16, q8, q4, q2, got 'q3'/],
    [new JsBackend(), 'q4', /kvWindow must be a positive multiple of 32, got 48/, 48],
  ] as const) {
    let err: unknown;
    try {
      await Model.fromRecords(m.config, m.tokenizer, m.records, backend, { kv: kv as KvKind, kvWindow: window });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof UsageError && message.test(err.message), String(err));
  }
});

test('kvCacheBytes (TypeScript, for planning) equals the kernel layout on ragged shapes', async () => {
  const backend = await WasmBackend.create();
  for (const kind of ['f32', 'f16', 'q8', 'q4', 'q2'] as KvKind[]) {
    for (const [layers, nKvHeads, headSize, ctx, residual] of [[1, 1, 2, 1, 32], [2, 3, 18, 77, 64], [5, 4, 8, 512, 64], [12, 12, 64, 301, 128], [3, 2, 66, 100, 32]]) {
      const shape = { kind, layers, ctx, nKvHeads, headSize, residual };
      assert.is(kvCacheBytes(shape), backend.kvCache(shape).bytes, `${kind} ${layers}x${nKvHeads}x${headSize} ctx ${ctx}`);
    }
  }
});

test('quantized caches are smaller: bytes against f32 at the same context', async () => {
  const backend = await WasmBackend.create();
  const bytes = (kind: KvKind) => backend.kvCache({ kind, layers: 2, ctx: 2048, nKvHeads: 2, headSize: 64 }).bytes;
  const f32 = bytes('f32');
  assert.is(f32, 2 * 2 * 2048 * 64 * 4 * 2);
  assert.is(bytes('f16'), f32 / 2);
  // codes, plus per position 2 x 4 bytes of value parameters and per 32 positions 2 x 64 x 4 of key
  // parameters, plus the f16 window of KV_RESIDUAL positions, per layer and KV head
  for (const [kind, bits] of [['q8', 8], ['q4', 4], ['q2', 2]] as const) {
    const perHead = 2 * 2048 * ((64 * bits) / 8) + 2048 * 8 + (2048 / 32) * 64 * 8 + 2 * KV_RESIDUAL * 64 * 2;
    assert.is(bytes(kind), 4 * perHead, kind);
  }
});

test.run();
