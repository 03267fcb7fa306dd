// Config fields checked before anything is built (issue 11 pt 4), and the tensor index checked
// against the config (pt 5's .sqz part): absurd counts fail at once with one line naming the field;
// a file storing more layers than its config says, or fewer, is refused naming the tensors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../../src/index.ts';
import { CONFIG_LIMITS, checkTensorSet, type ModelConfig, tensorShapes, validateConfig } from '../../src/model/config.ts';
import { FormatError } from '../../src/util/errors.ts';
import { syntheticConfig, syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import { rejects } from '../helpers.ts';
import { rawSqz } from '../format/raw.ts';

const good = syntheticConfig({ dim: 32, hiddenDim: 64, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 300 });

function refused(change: Partial<Record<keyof ModelConfig, unknown>>, field: RegExp): void {
  const c = { ...good, ...change } as ModelConfig;
  assert.throws(
    () => validateConfig(c, 'm.sqz'),
    (e: Error) => e instanceof FormatError && /^m\.sqz: /.test(e.message) && field.test(e.message) && !e.message.includes('\n'),
    `${JSON.stringify(change)} should be refused naming ${field}`,
  );
}

test('absurd and malformed counts are refused naming the field', () => {
  validateConfig(good, 'm.sqz');
  for (const v of [2 ** 31, 1e308, NaN, Infinity, -1, 0, 1.5, '4', null, undefined, 1e9]) refused({ nLayers: v }, /nLayers = /);
  for (const k of Object.keys(CONFIG_LIMITS) as (keyof typeof CONFIG_LIMITS)[]) {
    refused({ [k]: CONFIG_LIMITS[k] + 1 }, new RegExp(`${k} = ${CONFIG_LIMITS[k] + 1} is not a positive integer \\(at most ${CONFIG_LIMITS[k]}\\)`));
    refused({ [k]: -3 }, new RegExp(`${k} = -3`));
  }
  refused({ ropeTheta: NaN }, /ropeTheta = NaN/);
  refused({ ropeTheta: Infinity }, /ropeTheta = Infinity/);
  refused({ ropeTheta: 0 }, /ropeTheta = 0/);
  refused({ normEps: 0 }, /normEps = 0/);
  refused({ normEps: 1e308 }, /normEps = 1e\+308/);
  refused({ normEps: 'small' }, /normEps = "small"/);
  refused({ tiedEmbeddings: 'yes' }, /tiedEmbeddings = "yes"/);
  refused({ rope: 'sideways' }, /rope = "sideways"/);
  refused({ arch: 'gpt2' }, /architecture "gpt2"/);
});

test('fields that must agree: heads divide dim into even head sizes, KV heads divide heads', () => {
  refused({ nHeads: 5 }, /dim 32 is not a multiple of n_heads 5/);
  refused({ nHeads: 32 }, /head size 1 .* is odd/);
  refused({ nKvHeads: 3 }, /n_heads 4 is not a multiple of n_kv_heads 3/);
  refused({ nKvHeads: 8 }, /n_heads 4 is not a multiple of n_kv_heads 8/);
  // a reader may name the field as its own format does
  assert.throws(() => validateConfig({ ...good, nLayers: 1e9 }, 'cfg.json', { nLayers: 'num_hidden_layers' }), /cfg\.json: config num_hidden_layers \(nLayers\) = 1000000000/);
});

test('tensor index vs config: leftover layers, missing layers, wrong shapes, a head the config ties away', () => {
  const listing = (c: ModelConfig) => [...tensorShapes(c)].map(([name, shape]) => ({ name, shape }));
  checkTensorSet(good, listing(good), 'm.sqz');
  const five = { ...good, nLayers: 5 };
  assert.throws(() => checkTensorSet({ ...good, nLayers: 4 }, listing(five), 'm.sqz'), /m\.sqz: 9 tensors the config \(4 layers, tied embeddings\) does not use: 'layers\.4\.attn_norm', 'layers\.4\.attn\.q'.* and 3 more/);
  assert.throws(() => checkTensorSet({ ...good, nLayers: 6 }, listing(five), 'm.sqz'), /m\.sqz: 9 tensors the config \(6 layers.*\) needs are missing: 'layers\.5\.attn_norm'/);
  const untied = { ...good, tiedEmbeddings: false };
  assert.throws(() => checkTensorSet(good, listing(untied), 'm.sqz'), /1 tensor the config .* does not use: 'head'/);
  assert.throws(() => checkTensorSet(untied, listing(good), 'm.sqz'), /1 tensor the config .* needs is missing: 'head'/);
  const wrong = listing(good).map((t) => (t.name === 'layers.1.mlp.up' ? { ...t, shape: [64, 31] } : t));
  assert.throws(() => checkTensorSet(good, wrong, 'm.sqz'), /tensor 'layers\.1\.mlp\.up' has shape \[64,31\] but the config implies \[64,32\]/);
});

/** A .sqz whose header says `config` and which stores the tensors of `stored`. */
function file(config: Record<string, unknown>, stored: ModelConfig): Uint8Array {
  return rawSqz({ config, tokenizer: syntheticTokenizer(300), quant: { method: 'f32' } }, [...syntheticRecords(stored)]);
}

test('loadModel refuses at open: nLayers 2^31 / 1e308 / NaN, and a config of 4 layers over a file of 5 (or 6 over 5)', async () => {
  const five = { ...good, nLayers: 5 };
  for (const n of [2 ** 31, 1e308, NaN]) {
    await rejects(loadModel(file({ ...five, nLayers: n }, five), { backend: 'js' }), FormatError, /^<bytes>: config nLayers = (2147483648|1e\+308|NaN) is not a positive integer/);
  }
  await rejects(loadModel(file({ ...five, nLayers: 4 }, five), { backend: 'js' }), FormatError, /^<bytes>: 9 tensors the config \(4 layers.*\) does not use: 'layers\.4\.attn_norm'/);
  await rejects(loadModel(file({ ...five, nLayers: 6 }, five), { backend: 'js' }), FormatError, /^<bytes>: 9 tensors .* are missing: 'layers\.5\.attn_norm'/);
  const m = await loadModel(file(five, five), { backend: 'js' });
  assert.is(m.config.nLayers, 5);
  await m.close();
});

test.run();
