// NaN and infinities (issue 11 pt 7, the runtime half): a .sqz tensor holding one is refused at load
// naming the tensor and the entry; weights that reach the runtime anyway (records built in memory,
// or finite weights whose activations overflow) end generation and perplexity with a
// NonFiniteError instead of <unk> after <unk> or "perplexity NaN".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { floatToHalf } from '../../src/kernels/reference.ts';
import { createBackend, loadModel, Model } from '../../src/index.ts';
import { FormatError, NonFiniteError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { syntheticConfig, syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import { rejects } from '../helpers.ts';
import { nuqRecord, uniformRecord } from '../format/fixtures.ts';
import { rawSqz } from '../format/raw.ts';

const config = syntheticConfig({ dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300 });
const tokenizer = syntheticTokenizer(300);
const records = (): TensorRecord[] => [...syntheticRecords(config)];

/** The model's records with `name` replaced by what `change` makes of it. */
function withTensor(name: string, change: (r: TensorRecord) => TensorRecord): TensorRecord[] {
  return records().map((r) => (r.name === name ? change(structuredClone(r)) : r));
}

function poisonF32(v: number, at: number) {
  return (r: TensorRecord): TensorRecord => {
    if (r.kind !== 'f32') throw new Error('fixture');
    r.data[at] = v;
    return r;
  };
}

test('a .sqz tensor holding a NaN or an infinity is refused at load, naming the file, the tensor, the field and the entry', async () => {
  const file = (recs: TensorRecord[]) => rawSqz({ config, tokenizer, quant: { method: 'f32' } }, recs);
  await rejects(loadModel(file(withTensor('layers.1.attn_norm', poisonF32(NaN, 3)))), FormatError, /^<bytes>: tensor 'layers\.1\.attn_norm' \(f32\): data\[3\] is NaN/);
  await rejects(loadModel(file(withTensor('embed', poisonF32(-Infinity, 1000)))), FormatError, /tensor 'embed' \(f32\): data\[1000\] is -Infinity/);
  // f16 matrices: the half 0x7c00 (+inf) at an odd and at an even position
  for (const at of [7, 8]) {
    const f16 = (r: TensorRecord): TensorRecord => {
      const h = Uint16Array.from((r as { data: Float32Array }).data, (v) => floatToHalf(v));
      h[at] = 0x7c00;
      return { name: r.name, kind: 'f16', shape: r.shape, data: h };
    };
    await rejects(loadModel(file(withTensor('layers.0.mlp.up', f16))), FormatError, new RegExp(`tensor 'layers\\.0\\.mlp\\.up' \\(f16\\): data\\[${at}\\] is Infinity`));
  }
  // tables, sparse values, scales and zeros
  const rng = new Rng(2);
  const nuq = (field: 'lut' | 'values') => (r: TensorRecord): TensorRecord => {
    const q = nuqRecord(rng, r.name, r.shape[0], r.shape[1], 4, { sparse: true }).rec;
    if (field === 'lut') q.lut[5] = NaN;
    else q.sparse!.values[0] = Infinity;
    return q;
  };
  await rejects(loadModel(file(withTensor('layers.0.attn.q', nuq('lut')))), FormatError, /tensor 'layers\.0\.attn\.q' \(nuq\): lut\[5\] is NaN/);
  await rejects(loadModel(file(withTensor('layers.0.attn.q', nuq('values')))), FormatError, /tensor 'layers\.0\.attn\.q' \(nuq\): sparse\.values\[0\] is Infinity/);
  const uni = (field: 'scales' | 'zeros') => (r: TensorRecord): TensorRecord => {
    const u = uniformRecord(rng, r.name, r.shape[0], r.shape[1], 4, 16).rec;
    u[field][2] = NaN;
    return u;
  };
  await rejects(loadModel(file(withTensor('layers.1.mlp.down', uni('scales')))), FormatError, /\(uniform\): scales\[2\] is NaN/);
  await rejects(loadModel(file(withTensor('layers.1.mlp.down', uni('zeros')))), FormatError, /\(uniform\): zeros\[2\] is NaN/);
  // the file as it was loads
  const m = await loadModel(file(records()));
  await m.close();
});

/** A model built straight from records (no file, so no load check), on `backend`. */
async function fromMemory(recs: TensorRecord[], backend: 'wasm' | 'js'): Promise<Model> {
  return Model.fromRecords(config, tokenizer, recs, await createBackend(backend));
}

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: NaN weights, or finite ones that overflow, end generation and perplexity with a NonFiniteError`, async () => {
    const huge = (r: TensorRecord): TensorRecord => {
      (r as { data: Float32Array }).data.fill(1e30);
      return r;
    };
    for (const [what, recs] of [
      ['a NaN in a norm', withTensor('layers.0.attn_norm', poisonF32(NaN, 3))],
      ['a norm of 1e30 (activations overflow)', withTensor('layers.1.mlp_norm', huge)],
    ] as const) {
      const m = await fromMemory(recs, backend);
      try {
        const pieces: string[] = [];
        const gen = async () => {
          for await (const p of m.generate('Once upon a time', { temperature: 0, maxTokens: 8 })) pieces.push(p);
        };
        await rejects(gen(), NonFiniteError, /^the logits at position \d+ are not finite \(token \d+ is (NaN|-?Infinity)\)/);
        assert.equal(pieces, [], `${what}: nothing is generated`);
        await rejects(m.perplexity('the cat sat on the mat'), NonFiniteError, /logits at position \d+ are not finite/);
        // the model is free again after the error
        assert.is(m.queue.busy, false);
      } finally {
        await m.close();
      }
    }
    // logits that stay finite but so far apart that exp(mean nll) overflows: an error, not Infinity
    const wide = await fromMemory(withTensor('norm', (r) => ((r as { data: Float32Array }).data.fill(1e33), r)), backend);
    await rejects(wide.perplexity('the cat sat on the mat'), NonFiniteError, /^perplexity overflows: the mean negative log-likelihood is \d/);
    await wide.close();
    // finite, sane weights still score
    const ok = await fromMemory(records(), backend);
    const r = await ok.perplexity('the cat sat on the mat');
    assert.ok(Number.isFinite(r.perplexity));
    await ok.close();
  });
}

test.run();
