// The seed files the fuzzer mutates: one small, valid model in every format the project reads
// (the .sqz twice: dense f32, and every quantized tensor kind),
// written by the project's writers (.sqz, GGUF export) and by the test writers built from the
// format descriptions (llama2.c, safetensors, tokenizer.bin). Small enough that a case loads and
// runs in a few milliseconds; big enough to have two layers, GQA and a byte-fallback tokenizer.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { Rng } from '../../src/util/random.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { randomFolder, randomL2c, writeFolder, writeL2cTokenizer, writeL2cV1 } from '../checkpoint/writers.ts';
import { f16Record, f32Record, nuqRecord, uniformRecord } from '../format/fixtures.ts';
import { spTokenizerJson } from '../gguf/_gguf.ts';
import { exportGguf } from '../../tools/gguf/export.ts';
import { syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import type { Format } from './mutate.ts';

/** What a case runs: a .sqz through loadModel, or a checkpoint (with a tokenizer file) through openModel. */
export interface CaseSpec {
  kind: 'sqz' | 'checkpoint';
  model: string;
  tokenizer?: string;
}

/** For each format: the seed file a case mutates, and how to lay out a case around the mutated copy. */
export interface Seed {
  file: string;
  /** Writes the case into `dir` with `bytes` in place of the seed file; returns what to run. */
  place(dir: string, bytes: Uint8Array): CaseSpec;
}

/** llama2.c-style config (interleaved RoPE) for the .sqz, GGUF and llama2.c seeds. */
export const SEED_CONFIG: ModelConfig = {
  arch: 'llama', dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 260, maxSeqLen: 32,
  ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true, rope: 'interleaved',
};
/** The Hugging Face seed: rotate-half RoPE, an untied head, the 270-token SentencePiece-style tokenizer.json. */
const HF_CONFIG: ModelConfig = { ...SEED_CONFIG, vocabSize: 270, rope: 'half', normEps: 1e-6, tiedEmbeddings: false };

/** The seed model in every tensor kind: nuq (3/4-bit, sparse part, row split, f16 table), uniform (4/8-bit), f16 and f32. */
function* quantizedRecords(c: ModelConfig): Generator<TensorRecord> {
  const rng = new Rng(5);
  for (const [name, shape] of tensorShapes(c)) {
    const [rows, cols] = shape;
    const part = name.replace(/^layers\.\d+\./, '');
    if (shape.length === 1) yield f32Record(rng, name, shape);
    else if (name === 'embed' || part === 'attn.o') yield f16Record(rng, name, shape);
    else if (part === 'attn.q' || part === 'mlp.down') yield nuqRecord(rng, name, rows, cols, 4, { sparse: true, rowSplit: true }).rec;
    else if (part === 'attn.k' || part === 'mlp.gate') yield nuqRecord(rng, name, rows, cols, 3, { f16Lut: true, sparse: part === 'mlp.gate' }).rec;
    else yield uniformRecord(rng, name, rows, cols, part === 'mlp.up' ? 8 : 4, 16).rec;
  }
}

export async function writeSeeds(dir: string): Promise<Record<Format, Seed>> {
  const at = (...p: string[]) => join(dir, ...p);
  for (const d of ['sqz', 'gguf', 'hf', 'l2c']) mkdirSync(at(d), { recursive: true });
  const tokenizer = syntheticTokenizer(SEED_CONFIG.vocabSize);
  await writeSqz(at('sqz', 'model.sqz'), { config: SEED_CONFIG, tokenizer, quant: { method: 'f32', source: 'fuzz seed' } }, syntheticRecords(SEED_CONFIG, { seed: 1 }));
  await writeSqz(at('sqz', 'quant.sqz'), { config: SEED_CONFIG, tokenizer, quant: { method: 'squeezellm', source: 'fuzz seed' } }, quantizedRecords(SEED_CONFIG));
  await exportGguf(at('sqz', 'model.sqz'), at('gguf', 'f32.gguf'), { type: 'f32' });
  await exportGguf(at('sqz', 'model.sqz'), at('gguf', 'q4_0.gguf'), { type: 'q4_0' });
  writeFolder(at('hf'), HF_CONFIG, randomFolder(HF_CONFIG, 1), { tokenizer: false });
  writeFileSync(at('hf', 'tokenizer.json'), spTokenizerJson());
  writeL2cV1(at('l2c', 'model.bin'), SEED_CONFIG, randomL2c(SEED_CONFIG, 1, false));
  if (tokenizer.kind !== 'llama2c') throw new Error('the synthetic tokenizer is a llama2c one');
  writeL2cTokenizer(at('l2c', 'tok.bin'), tokenizer.pieces, tokenizer.scores);

  const single = (file: string, name: string, kind: CaseSpec['kind']): Seed => ({
    file,
    place: (d, bytes) => {
      writeFileSync(join(d, name), bytes);
      return { kind, model: join(d, name) };
    },
  });
  /** A Hugging Face folder with one of its three files mutated (the other two copied). */
  const hf = (name: string): Seed => ({
    file: at('hf', name),
    place: (d, bytes) => {
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
        if (f !== name) copyFileSync(at('hf', f), join(d, f));
      }
      writeFileSync(join(d, name), bytes);
      return { kind: 'checkpoint', model: d };
    },
  });
  return {
    sqz: single(at('sqz', 'model.sqz'), 'model.sqz', 'sqz'),
    'sqz-quant': single(at('sqz', 'quant.sqz'), 'model.sqz', 'sqz'),
    'gguf-f32': single(at('gguf', 'f32.gguf'), 'model.gguf', 'checkpoint'),
    'gguf-q4_0': single(at('gguf', 'q4_0.gguf'), 'model.gguf', 'checkpoint'),
    safetensors: hf('model.safetensors'),
    'config.json': hf('config.json'),
    'tokenizer.json': hf('tokenizer.json'),
    llama2c: {
      file: at('l2c', 'model.bin'),
      place: (d, bytes) => {
        writeFileSync(join(d, 'model.bin'), bytes);
        return { kind: 'checkpoint', model: join(d, 'model.bin'), tokenizer: at('l2c', 'tok.bin') };
      },
    },
    'tokenizer.bin': {
      file: at('l2c', 'tok.bin'),
      place: (d, bytes) => {
        writeFileSync(join(d, 'tok.bin'), bytes);
        return { kind: 'checkpoint', model: at('l2c', 'model.bin'), tokenizer: join(d, 'tok.bin') };
      },
    },
  };
}
