// loadModel's byte sources: each kind (path, file: URL, http: URL, Uint8Array, ArrayBuffer,
// ReadableStream in ragged pieces, a hand-written ByteSource) gives the same greedy text as the
// path; every read asked of a source is at most MAX_READ bytes, also for a record of 2.5 GiB
// (which one fs.read would abort Node on), checked on a fake source that never fills its buffer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, openSync, readFileSync, closeSync, ftruncateSync, writeSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModel } from '../../src/index.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { type ByteSource, bytesSource, fileSource, MAX_READ, readRange, streamSource } from '../../src/format/source.ts';
import { encodeHeader } from '../../src/format/sqz.ts';
import { FormatError, UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { rejects } from '../helpers.ts';
import { meta } from './fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-source-'));
const file = join(tmp, 'model.sqz');
await writeSyntheticModel(file, { seed: 3 });
const bytes = new Uint8Array(readFileSync(file));

async function greedy(source: Parameters<typeof loadModel>[0]): Promise<string> {
  const m = await loadModel(source);
  try {
    let text = '';
    for await (const piece of m.generate('Once upon a time', { temperature: 0, maxTokens: 12 })) text += piece;
    return text;
  } finally {
    await m.close();
  }
}

/** The file's bytes as a stream of pieces of 1..2000 bytes (seeded), so cuts fall everywhere. */
function raggedStream(data: Uint8Array, seed: number): ReadableStream<Uint8Array> {
  const rng = new Rng(seed);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= data.length) return c.close();
      const n = 1 + rng.int(2000);
      c.enqueue(data.slice(at, at + n));
      at += n;
    },
  });
}

/** Wraps a source, recording the length of every read asked of it. */
function recording(src: ByteSource): { src: ByteSource; asked: number[] } {
  const asked: number[] = [];
  return { asked, src: { ...src, view: undefined, read: (o, into) => (asked.push(into.length), src.read(o, into)) } };
}

const expected = await greedy(file);

test('every source kind gives the text the path gives', async () => {
  assert.ok(expected.length > 0);
  assert.is(await greedy(pathToFileURL(file)), expected, 'file: URL');
  assert.is(await greedy(bytes), expected, 'Uint8Array');
  assert.is(await greedy(bytes.slice().buffer), expected, 'ArrayBuffer');
  assert.is(await greedy(raggedStream(bytes, 1)), expected, 'ReadableStream');
  const rec = recording(bytesSource(bytes, 'custom'));
  assert.is(await greedy(rec.src), expected, 'ByteSource');
  assert.ok(rec.asked.length > 0);
});

test('an http URL is fetched and streamed, with or without a Content-Length', async () => {
  for (const withLength of [true, false]) {
    const server = createServer((_req, res) => {
      // without a length, Node sends the body chunked
      res.writeHead(200, withLength ? { 'content-length': String(bytes.length) } : {});
      for (let at = 0; at < bytes.length; at += 4096) res.write(bytes.subarray(at, at + 4096));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.is(await greedy(`http://127.0.0.1:${port}/model.sqz`), expected, `content-length ${withLength}`);
      assert.is(await greedy(new URL(`http://127.0.0.1:${port}/model.sqz`)), expected);
    } finally {
      server.close();
    }
  }
});

test('a stream cut short, or with bytes after the last tensor, is a FormatError naming the source', async () => {
  const cut = streamSource(raggedStream(bytes.subarray(0, bytes.length - 10), 2), 'cut.sqz');
  await rejects(loadModel(cut), FormatError, /cut\.sqz: .*10 bytes early/);
  const long = new Uint8Array(bytes.length + 3);
  long.set(bytes);
  await rejects(loadModel(streamSource(raggedStream(long, 3), 'long.sqz')), FormatError, /long\.sqz: unexpected bytes after the last tensor/);
  await rejects(loadModel(streamSource(raggedStream(bytes.subarray(0, 40), 4), 'head.sqz')), FormatError, /head\.sqz: truncated inside the header/);
});

test('a streamed source refuses to read backwards', async () => {
  const s = streamSource(raggedStream(bytes, 5));
  await s.read(100, new Uint8Array(10));
  await rejects(s.read(50, new Uint8Array(10)), UsageError, /read once, front to back/);
  await s.close();
});

test('readRange asks at most `chunk` bytes per read and places each piece right', async () => {
  const rec = recording(bytesSource(bytes));
  const part = await readRange(rec.src, 123, 10_000, 777);
  assert.equal(part, bytes.subarray(123, 10_123));
  assert.ok(Math.max(...rec.asked) <= 777);
  assert.is(rec.asked.length, Math.ceil(10_000 / 777));
});

test('a 2.5 GiB record is read in pieces of at most MAX_READ (a fake source: nothing is filled)', async () => {
  const big = 2.5 * 2 ** 30;
  const head = encodeHeader(meta, [{ name: 'embed', kind: 'f32', shape: [big / 4], bytes: big, crc32: 0 }]);
  const asked: Array<[number, number]> = [];
  const fake: ByteSource = {
    name: 'fake.sqz',
    size: head.length + big,
    seekable: true,
    async read(offset, into) {
      asked.push([offset, into.length]);
      if (offset < head.length) into.set(head.subarray(offset, offset + into.length));
      return Math.min(into.length, head.length + big - offset);
    },
    close: async () => {},
  };
  const r = await SqzReader.fromSource(fake);
  const raw = await r.rawBytes('embed');
  assert.is(raw.length, big);
  const record = asked.filter(([o]) => o >= head.length);
  assert.ok(record.every(([, n]) => n <= MAX_READ), `largest read ${Math.max(...record.map(([, n]) => n))}`);
  assert.is(record.reduce((s, [, n]) => s + n, 0), big);
  assert.ok(record.every(([o], i) => i === 0 || o === record[i - 1][0] + record[i - 1][1]), 'reads are contiguous');
  await r.close();
});

test('the file source reads past 2 GiB (a sparse file)', async () => {
  const sparse = join(tmp, 'sparse.bin');
  const fd = openSync(sparse, 'w');
  ftruncateSync(fd, 3 * 2 ** 30);
  writeSync(fd, new Uint8Array([7, 8, 9]), 0, 3, 2.75 * 2 ** 30);
  closeSync(fd);
  const src = await fileSource(sparse);
  const into = new Uint8Array(5);
  assert.is(await src.read(2.75 * 2 ** 30 - 1, into), 5);
  assert.equal([...into], [0, 7, 8, 9, 0]);
  await src.close();
  rmSync(sparse);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
