// The forward pass: the WASM backend against the TypeScript reference backend, batched against
// token-by-token, on seeded synthetic models of both RoPE styles and GQA shapes.
import { test } from 'uvu';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { Model } from '../../src/model/model.ts';
import { syntheticModel, type SyntheticOptions } from '../../tools/synthetic.ts';
import { assertClose } from '../helpers.ts';

async function both(opts: SyntheticOptions) {
  const m = syntheticModel(opts);
  const js = await Model.fromRecords(m.config, m.tokenizer, m.records, new JsBackend(), { batch: 8 });
  const wasm = await Model.fromRecords(m.config, m.tokenizer, m.records, await WasmBackend.create(), { batch: 8 });
  return { m, js, wasm };
}

const shapes: SyntheticOptions[] = [
  { seed: 1, rope: 'interleaved' },
  { seed: 2, rope: 'half', nHeads: 4, nKvHeads: 1, dim: 48, hiddenDim: 100, tiedEmbeddings: false },
  { seed: 3, rope: 'half', nHeads: 6, nKvHeads: 6, dim: 36, hiddenDim: 77, nLayers: 3 },
];

for (const opts of shapes) {
  test(`wasm logits match the js reference (seed ${opts.seed}, rope ${opts.rope})`, async () => {
    const { m, js, wasm } = await both(opts);
    const tokens = Array.from({ length: 21 }, (_, i) => (i * 37 + 1) % m.config.vocabSize);
    // all positions at once (batches of 8, so chunking is exercised), every position's logits
    const a = wasm.forward(tokens, 0, 0);
    const b = js.forward(tokens, 0, 0);
    assertClose(a, b, 1e-4, 'batched logits');
  });

  test(`batched forward equals token-by-token (seed ${opts.seed})`, async () => {
    const { m, wasm, js } = await both(opts);
    const tokens = Array.from({ length: 13 }, (_, i) => (i * 11 + 5) % m.config.vocabSize);
    for (const model of [wasm, js]) {
      const batched = model.forward(tokens, 0, 0);
      const V = m.config.vocabSize;
      for (let i = 0; i < tokens.length; i++) {
        const one = model.forward([tokens[i]], i);
        assertClose(one, batched.subarray(i * V, (i + 1) * V), 1e-5, `${model.backend.name} position ${i}`);
      }
    }
  });
}

test.run();
