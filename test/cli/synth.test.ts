// sqz synth: the seed fixes every byte, the shape options reach the file, and a real tokenizer is stored when given.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqzReader } from '../../src/format/reader.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { repoRoot, sharedFile } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-synth-'));
const shape = ['--dim', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--ffn', '48', '--vocab', '300', '--ctx', '64'];

function synth(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), 'synth', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqz synth ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test('the same seed writes the same bytes, another seed other weights', () => {
  const [a, b, c] = ['a', 'b', 'c'].map((n) => join(tmp, `${n}.sqz`));
  synth(...shape, '--seed', '5', '-o', a);
  synth(...shape, '--seed', '5', '-o', b);
  synth(...shape, '--seed', '6', '-o', c);
  assert.ok(readFileSync(a).equals(readFileSync(b)), 'same seed, same file');
  assert.not.ok(readFileSync(a).equals(readFileSync(c)), 'another seed, another file');
});

test('the file holds the asked shape and the weights syntheticModel makes in memory', async () => {
  const f = join(tmp, 'shape.sqz');
  assert.match(synth(...shape, '--seed', '7', '-o', f), /parameters, seed 7/);
  const r = await SqzReader.open(f);
  try {
    const c = r.header.config;
    assert.equal([c.dim, c.nLayers, c.nHeads, c.nKvHeads, c.hiddenDim, c.vocabSize, c.maxSeqLen, c.tiedEmbeddings], [32, 2, 4, 2, 48, 300, 64, false]);
    const want = syntheticModel({ ...c, seed: 7 }).records;
    let i = 0;
    for await (const rec of r.records()) {
      assert.is(rec.name, want[i].name);
      const [got, exp] = [(rec as { data: Float32Array }).data, (want[i] as { data: Float32Array }).data];
      // the array's own bytes: a record read from a file views the buffer it was read into (wire.ts ownRecordBuffer)
      assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(exp.buffer, exp.byteOffset, exp.byteLength)), rec.name);
      i++;
    }
    assert.is(i, want.length);
  } finally {
    await r.close();
  }
});

test('--tokenizer stores the Llama 2 tokenizer (32000 pieces)', async () => {
  const tok = sharedFile('models/llama2c-tokenizer/tokenizer.bin');
  if (!tok) return;
  const f = join(tmp, 'tok.sqz');
  synth('--dim', '16', '--layers', '1', '--heads', '2', '--ffn', '16', '--vocab', '32000', '--tokenizer', tok, '-o', f);
  const r = await SqzReader.open(f);
  try {
    const t = r.header.tokenizer as { pieces: string[] };
    assert.is(t.pieces.length, 32000);
    assert.ok(t.pieces.includes(' Once'), 'a real Llama 2 piece');
  } finally {
    await r.close();
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
