import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { encodeSqz } from '../../src/format/sqz.ts';
import { SqzWriter, writeSqz } from '../../src/format/writer.ts';
import { FormatError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { config, f32Record, meta, nuqRecord, sampleRecords, uniformRecord } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-w-'));
const fresh = (name: string): string => {
  const d = mkdtempSync(join(dir, name + '-'));
  return join(d, 'model.sqz');
};
const listing = (path: string): string[] => readdirSync(join(path, '..')).sort();

async function throwsFormat(f: () => Promise<unknown>, ...parts: string[]): Promise<string> {
  try {
    await f();
  } catch (e) {
    assert.instance(e, FormatError, (e as Error).message);
    for (const p of parts) assert.ok((e as Error).message.includes(p), `${(e as Error).message} should include ${p}`);
    return (e as Error).message;
  }
  throw new Error('expected a FormatError');
}

test('(g) the writer refuses records whose payloads do not match their shape, naming the tensor', async () => {
  const rng = new Rng(9);
  const bad: [TensorRecord, string][] = [
    [{ name: 'w.f32', kind: 'f32', shape: [3, 4], data: new Float32Array(11) }, 'data has 11 f32 elements'],
    [{ name: 'w.f16', kind: 'f16', shape: [3], data: new Float32Array(3) as unknown as Uint16Array }, 'not a Uint16Array'],
    [{ ...nuqRecord(rng, 'w.lut', 2, 40, 4).rec, lut: new Float32Array(31) }, 'lut has 31'],
    [{ ...nuqRecord(rng, 'w.idx', 2, 40, 3).rec, indices: new Uint8Array(47) }, 'indices has 47'],
    [{ ...nuqRecord(rng, 'w.bits', 2, 40, 4).rec, bits: 8 as 4 }, 'bits 8'],
    [{ ...nuqRecord(rng, 'w.shape', 2, 40, 4).rec, shape: [80] }, 'not [rows, cols]'],
    [{ ...nuqRecord(rng, 'w.sp', 2, 40, 4).rec, sparse: { rowPtr: Int32Array.from([0, 2, 1]), colIdx: new Int32Array(1), values: new Float32Array(1) } }, 'rowPtr decreases'],
    [{ ...nuqRecord(rng, 'w.sp2', 2, 40, 4).rec, sparse: { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([3, 40]), values: new Float32Array(2) } }, 'colIdx[1] = 40'],
    [{ ...nuqRecord(rng, 'w.sp3', 2, 40, 4).rec, sparse: { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([3, 4]), values: new Float32Array(3) } }, 'values has 3'],
    [{ ...nuqRecord(rng, 'w.split', 6, 40, 4).rec, rowSplit: Int32Array.from([0, 3, 5]) }, 'rowSplit must run from 0 to 6'],
    [{ ...uniformRecord(rng, 'w.scales', 2, 70, 4, 32).rec, scales: new Float32Array(4) }, 'scales has 4'],
    [{ ...uniformRecord(rng, 'w.zeros', 2, 70, 4, 32).rec, zeros: new Float32Array(7) }, 'zeros has 7'],
    [{ ...uniformRecord(rng, 'w.vals', 2, 70, 8, 32).rec, values: new Uint8Array(10) }, 'values has 10'],
    [{ ...uniformRecord(rng, 'w.gs', 2, 70, 8, 32).rec, groupSize: 0 }, 'groupSize 0'],
    [{ name: 'w.kind', kind: 'q9', shape: [1], data: new Float32Array(1) } as unknown as TensorRecord, 'unknown tensor kind "q9"'],
    [{ name: 'w.dims', kind: 'f32', shape: [2, 0], data: new Float32Array(0) }, 'not a positive integer'],
  ];
  for (const [rec, why] of bad) {
    await throwsFormat(async () => encodeSqz(meta, [rec]), `tensor '${rec.name}'`, why);
    const path = fresh('bad');
    const w = await SqzWriter.create(path, meta);
    await w.add(f32Record(rng, 'fine', [4]));
    await throwsFormat(() => w.add(rec), `tensor '${rec.name}'`, why);
    assert.equal(listing(path), [], `no files left after refusing ${rec.name}`);
    // the writer is finished with; later calls say so
    try {
      await w.finish();
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /failed earlier/);
    }
    await w.abort();
  }
});

test('add() throwing midway leaves no file under the final name and a pre-existing file untouched', async () => {
  const path = fresh('mid');
  const before = new Uint8Array([1, 2, 3, 4]);
  writeFileSync(path, before);
  const recs = sampleRecords();
  const w = await SqzWriter.create(path, meta);
  await w.add(recs[0]);
  await w.add(recs[1]);
  await throwsFormat(() => w.add({ ...recs[0], name: 'dup' } as TensorRecord).then(() => w.add(recs[0])), `tensor '${recs[0].name}' is added twice`);
  assert.equal(new Uint8Array(readFileSync(path)), before);
  assert.equal(listing(path), ['model.sqz']);

  // the same through writeSqz with a source that throws midway, and without a pre-existing file
  const path2 = fresh('mid2');
  async function* failing(): AsyncGenerator<TensorRecord> {
    yield recs[0];
    yield recs[1];
    throw new Error('source broke');
  }
  try {
    await writeSqz(path2, meta, failing());
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, 'source broke');
  }
  assert.equal(listing(path2), []);
});

test('abort() removes temporaries and keeps a pre-existing file; finish() replaces it', async () => {
  const path = fresh('abort');
  writeFileSync(path, 'old');
  const w = await SqzWriter.create(path, meta);
  await w.add(sampleRecords()[2]);
  assert.is(listing(path).length, 2); // model.sqz + the body temp
  await w.abort();
  await w.abort();
  assert.equal(listing(path), ['model.sqz']);
  assert.is(readFileSync(path, 'utf8'), 'old');

  const recs = sampleRecords(4);
  const res = await writeSqz(path, meta, recs);
  assert.equal(listing(path), ['model.sqz']);
  assert.is(res.bytes, readFileSync(path).length);
  assert.is(res.tensors, recs.length);
  const r = await SqzReader.open(path);
  assert.equal(r.names, recs.map((x) => x.name));
  await r.close();
});

test('adds without awaiting keep their order', async () => {
  const path = fresh('order');
  const recs = sampleRecords(6);
  const w = await SqzWriter.create(path, meta);
  const pending = recs.map((x) => w.add(x));
  const done = w.finish();
  await Promise.all(pending);
  await done;
  assert.equal(new Uint8Array(readFileSync(path)), encodeSqz(meta, recs));
});

test('create() checks the header meta', async () => {
  const path = fresh('meta');
  await throwsFormat(() => SqzWriter.create(path, { ...meta, config: { ...config, dim: 63 } }), 'dim 63');
  await throwsFormat(() => SqzWriter.create(path, { ...meta, quant: {} as never }), 'quant summary has no method');
  assert.equal(listing(path), []);
  assert.not.ok(existsSync(path));
});

test('a larger tensor streams through the writer and reader (multi-chunk copy, header read in more than one step)', async () => {
  const path = fresh('big');
  const rng = new Rng(2);
  // a header larger than the reader's first 64 KiB read, and a body larger than one copy chunk
  const pieces = Array.from({ length: 12000 }, (_, i) => `piece_${i}`);
  const bigMeta = { ...meta, tokenizer: { kind: 'llama2c' as const, pieces, scores: pieces.map((_, i) => -i / 7), bos: 1, eos: 2 } };
  const big = f32Record(rng, 'big', [1100, 1000]);
  await writeSqz(path, bigMeta, [big, nuqRecord(rng, 'q', 64, 300, 3, { sparse: true }).rec]);
  const r = await SqzReader.open(path);
  assert.ok(r.headerBytes > 64 * 1024);
  assert.equal(r.header.tokenizer, bigMeta.tokenizer);
  const got = await r.get('big');
  assert.ok(got.kind === 'f32' && got.data.every((v, i) => v === big.data[i]));
  await r.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
