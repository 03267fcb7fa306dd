import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensorShapes } from '../../src/model/config.ts';
import { FormatError, SqzError, UnsupportedError } from '../../src/util/errors.ts';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import { sharedFile } from '../helpers.ts';
import { l2cExpected, randomL2c, tempDir, tinyConfig, writeL2cTokenizer, writeL2cV0, writeL2cV1, writeL2cV2 } from './writers.ts';

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return (e as Error).message;
  }
  assert.unreachable(`expected ${cls.name} matching ${re}`);
  return '';
}

for (const version of [0, 1, 2] as const) {
  for (const unshared of [false, true]) {
    test(`llama2.c v${version} ${unshared ? 'unshared' : 'shared'} classifier: every tensor reads back exactly`, async () => {
      const t = tempDir('l2c');
      try {
        const c = tinyConfig({ tiedEmbeddings: !unshared });
        let w = randomL2c(c, 11 + version * 2 + Number(unshared), unshared);
        const p = join(t.dir, 'm.bin');
        if (version === 2) w = writeL2cV2(p, c, w, 8);
        else (version === 0 ? writeL2cV0 : writeL2cV1)(p, c, w);
        const ck = await openCheckpoint(p);
        assert.equal(ck.config, c);
        assert.is(ck.source, 'llama2.c m.bin');
        assert.is(ck.tokenizer, undefined);
        const want = l2cExpected(c, w);
        assert.equal(ck.names(), [...tensorShapes(c).keys()]);
        assert.equal(ck.names().sort(), [...want.keys()].sort());
        for (const name of ck.names()) {
          const got = await ck.read(name);
          assert.ok(same(got, want.get(name)!), `${name} differs`);
          assert.equal(ck.shape(name), tensorShapes(c).get(name));
        }
        await ck.close();
      } finally {
        t.done();
      }
    });
  }
}

test('llama2.c: tokenizer given explicitly; none looked up otherwise', async () => {
  const t = tempDir('l2ctok');
  try {
    const c = tinyConfig();
    const p = join(t.dir, 'm.bin');
    writeL2cV0(p, c, randomL2c(c, 3, false));
    const pieces = ['<unk>', '\n<s>\n', '\n</s>\n', 'a', 'b', 'ab', ' the', 'é', '<0x0A>', '日本'];
    const scores = pieces.map((_, i) => -i * 0.5);
    writeL2cTokenizer(join(t.dir, 'tokenizer.bin'), pieces, scores);
    const bare = await openCheckpoint(p);
    assert.is(bare.tokenizer, undefined);
    await bare.close();
    const ck = await openCheckpoint(p, { tokenizer: join(t.dir, 'tokenizer.bin') });
    assert.equal(ck.tokenizer, { kind: 'llama2c', pieces, scores, bos: 1, eos: 2 });
    await ck.close();
    // A tokenizer of another vocabulary size is refused.
    writeL2cTokenizer(join(t.dir, 'other.bin'), pieces.slice(0, 8), scores.slice(0, 8));
    await rejects(openCheckpoint(p, { tokenizer: join(t.dir, 'other.bin') }), FormatError, /8 tokens.*vocab_size is 10/);
    await rejects(openCheckpoint(p, { tokenizer: join(t.dir, 'nope.bin') }), SqzError, /no such file: .*nope\.bin/);
  } finally {
    t.done();
  }
});

test('llama2.c: truncated or oversized files name expected and actual bytes', async () => {
  const t = tempDir('l2cbad');
  try {
    const c = tinyConfig();
    const p = join(t.dir, 'm.bin');
    writeL2cV0(p, c, randomL2c(c, 5, false));
    const full = statSync(p).size;
    const fds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const before = fds();
    truncateSync(p, full - 4);
    const msg = await rejects(openCheckpoint(p), FormatError, /truncated/);
    assert.match(msg, new RegExp(`implies ${full} bytes, the file has ${full - 4}`));
    writeL2cV0(p, c, randomL2c(c, 5, false));
    appendFileSync(p, Buffer.alloc(12));
    await rejects(openCheckpoint(p), FormatError, new RegExp(`shape does not match config.*implies ${full} bytes, the file has ${full + 12}`));
    // A file with a classifier whose header says shared: the size says so.
    const u = randomL2c(c, 6, true);
    writeL2cV0(p, c, { ...u, wcls: undefined });
    appendFileSync(p, Buffer.from(u.wcls!.buffer));
    await rejects(openCheckpoint(p), FormatError, /with a separate classifier/);
    // Header nonsense.
    writeFileSync(p, Buffer.alloc(10));
    await rejects(openCheckpoint(p), FormatError, /too short/);
    writeFileSync(p, Buffer.alloc(64));
    await rejects(openCheckpoint(p), FormatError, /dim = 0 is not a positive integer/);
    writeFileSync(p, Buffer.from('PK\x03\x04' + '\0'.repeat(60)));
    await rejects(openCheckpoint(p), FormatError, /zip/);
    // Version 2 with a group size that does not divide dim, or none; a truncated version 2 file.
    const w2 = randomL2c(c, 5, false);
    writeL2cV2(p, c, w2, 8);
    const v2size = statSync(p).size;
    truncateSync(p, v2size - 1);
    await rejects(openCheckpoint(p), FormatError, new RegExp(`truncated.*implies ${v2size} bytes`));
    for (const g of [0, -8, 3]) {
      writeL2cV2(p, c, w2, 8);
      const b = readFileSync(p);
      b.writeInt32LE(g, 37);
      writeFileSync(p, b);
      await rejects(openCheckpoint(p), FormatError, /group_size/);
    }
    // Unknown versions.
    writeL2cV1(p, c, randomL2c(c, 5, false), 7);
    await rejects(openCheckpoint(p), UnsupportedError, /version 7/);
    assert.is(fds(), before, 'a refused open left a file handle open');
  } finally {
    t.done();
  }
});

test('llama2.c: read() after close() and unknown names are errors', async () => {
  const t = tempDir('l2cuse');
  try {
    const c = tinyConfig();
    const p = join(t.dir, 'm.bin');
    writeL2cV0(p, c, randomL2c(c, 9, false));
    const ck = await openCheckpoint(p);
    await rejects(ck.read('head'), SqzError, /no tensor named 'head'/);
    assert.throws(() => ck.shape('layers.9.attn.q'), /no tensor named/);
    await ck.close();
    await ck.close();
    await rejects(ck.read('embed'), SqzError, /after close/);
  } finally {
    t.done();
  }
});

test('stories260K.bin: config, element count and tokenizer as PROVENANCE.md says', async () => {
  const bin = sharedFile('models/stories260K.bin');
  const tok = sharedFile('models/tok512.bin');
  if (!bin || !tok) return;
  const ck = await openCheckpoint(bin, { tokenizer: tok });
  assert.equal(ck.config, {
    arch: 'llama', dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, maxSeqLen: 512,
    ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true, rope: 'interleaved',
  });
  assert.not.ok(ck.names().includes('head'));
  let n = 0;
  for (const name of ck.names()) {
    const v = await ck.read(name);
    assert.is(v.length, ck.shape(name).reduce((a, b) => a * b, 1));
    assert.ok(v.every(Number.isFinite), `${name} has non-finite values`);
    n += v.length;
  }
  const freqCis = 2 * 512 * (64 / 8 / 2);
  assert.is(n + freqCis, 264128);
  assert.is(statSync(bin).size, 28 + 4 * 264128);
  // The first embedding row is the first 64 floats after the header.
  const raw = readFileSync(bin);
  const row0 = new Float32Array(raw.buffer.slice(raw.byteOffset + 28, raw.byteOffset + 28 + 256));
  assert.ok(same((await ck.read('embed')).subarray(0, 64), row0));
  const tk = ck.tokenizer!;
  assert.is(tk.kind, 'llama2c');
  if (tk.kind === 'llama2c') {
    assert.is(tk.pieces.length, 512);
    assert.is(tk.bos, 1);
    assert.is(tk.eos, 2);
    assert.is(tk.pieces[0], '<unk>');
    assert.is(tk.pieces[1].trim(), '<s>');
    assert.is(tk.pieces[2].trim(), '</s>');
    assert.is(tk.pieces[3], '<0x00>');
    assert.is(tk.pieces[258], '<0xFF>');
    assert.ok(Math.max(...tk.pieces.map((p) => Buffer.byteLength(p))) <= 7);
  }
  await ck.close();
});

test('stories3M-q80.bin (llama2.c version 2): config and size as PROVENANCE.md says, int8 x scale exactly', async () => {
  const bin = sharedFile('models/stories3M/stories3M-q80.bin');
  const tok = sharedFile('models/stories3M/tok4096.bin');
  if (!bin || !tok) return;
  const ck = await openCheckpoint(bin, { tokenizer: tok });
  assert.equal(ck.config, {
    arch: 'llama', dim: 192, hiddenDim: 512, nLayers: 6, nHeads: 6, nKvHeads: 2, vocabSize: 4096, maxSeqLen: 512,
    ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true, rope: 'interleaved',
  });
  let n = 0;
  for (const name of ck.names()) n += (await ck.read(name)).length;
  assert.is(n, 3148224);
  // The first embedding group, decoded here from the layout: after the header and the 13 f32 norms
  // (6 + 6 attention/ffn norms and the final one), 4096 x 192 int8 values, then their scales.
  const raw = readFileSync(bin);
  const start = 256 + 4 * 13 * 192;
  const scale0 = raw.readFloatLE(start + 4096 * 192);
  const embed = await ck.read('embed');
  for (let i = 0; i < 64; i++) assert.is(embed[i], Math.fround(raw.readInt8(start + i) * scale0));
  assert.is(ck.tokenizer!.kind, 'llama2c');
  await ck.close();
});

test.run();
