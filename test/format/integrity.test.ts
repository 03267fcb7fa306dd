// Broken files: every problem must be a FormatError whose message names the problem (and the tensor
// where there is one), never an error from inside the decoder and never silently wrong data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32 } from '../../src/format/crc32.ts';
import { encodeRecordFields } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { encodeHeader, encodeRecord, encodeSqz, type SqzIndexEntry } from '../../src/format/sqz.ts';
import { concatChunks, packValue } from '../../src/format/wire.ts';
import { FormatError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { meta, nuqRecord, sampleRecords } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-bad-'));
const records = sampleRecords();
const good = encodeSqz(meta, records);
const goodReader = SqzReader.fromBytes(good);
const entries = goodReader.entries;

/** Opens and reads every tensor (bytes path, and the file path when `viaFile`). */
async function readAll(bytes: Uint8Array, viaFile = false): Promise<void> {
  const r = viaFile ? await SqzReader.open(writeTmp(bytes)) : SqzReader.fromBytes(bytes);
  try {
    for await (const _ of r.records());
  } finally {
    await r.close();
  }
}

let tmpCount = 0;
function writeTmp(bytes: Uint8Array): string {
  const p = join(dir, `f${tmpCount++}.sqz`);
  writeFileSync(p, bytes);
  return p;
}

/** Asserts `f` rejects with a FormatError whose message matches every pattern; returns the message. */
async function rejects(f: () => Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<string> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof FormatError)) throw new Error(`expected a FormatError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`, { cause: e });
    for (const p of patterns) {
      const ok = typeof p === 'string' ? e.message.includes(p) : p.test(e.message);
      if (!ok) throw new Error(`message ${JSON.stringify(e.message)} does not match ${p}`);
    }
    return e.message;
  }
  throw new Error('expected a FormatError, nothing was thrown');
}

/** Both paths (memory and file) must fail the same way. */
async function bothReject(bytes: Uint8Array, ...patterns: (RegExp | string)[]): Promise<void> {
  await rejects(() => readAll(bytes), ...patterns);
  await rejects(() => readAll(bytes, true), ...patterns);
}

function withHeader(header: Uint8Array, body: Uint8Array[]): Uint8Array {
  return concatChunks([header, ...body]);
}

const body = (i: number): Uint8Array => good.subarray(entries[i].offset, entries[i].offset + entries[i].bytes);

test('the good file reads', async () => {
  await readAll(good);
  await readAll(good, true);
  assert.is(entries.length, records.length);
});

test('(a) truncated: inside the header, at a tensor boundary, inside the last tensor, 1 byte short', async () => {
  const hb = goodReader.headerBytes;
  await bothReject(good.subarray(0, 1), 'truncated inside the header');
  await bothReject(good.subarray(0, 20), 'truncated inside the header');
  await bothReject(good.subarray(0, hb - 1), 'truncated inside the header');
  // at the header's end: every tensor missing
  await bothReject(good.subarray(0, hb), 'truncated', `${good.length - hb} bytes missing`, `'${entries[0].name}'`, 'missing entirely');
  // at the boundary after tensor 2
  const cut = entries[3].offset;
  await bothReject(good.subarray(0, cut), 'truncated', `${good.length - cut} bytes missing`, `tensor '${entries[3].name}'`);
  // inside the last tensor
  const last = entries[entries.length - 1];
  await bothReject(good.subarray(0, last.offset + 7), 'truncated', `tensor '${last.name}'`);
  await bothReject(good.subarray(0, good.length - 1), 'truncated', '1 bytes missing', `tensor '${last.name}'`);
  await bothReject(new Uint8Array(0), 'not a .sqz file', 'empty');
});

test('extra bytes after the last tensor', async () => {
  await bothReject(concatChunks([good, new Uint8Array([0xc0])]), '1 unexpected bytes after the last tensor');
});

test('(b) a flipped byte inside a payload names the tensor', async () => {
  for (const i of [0, 2, 4, entries.length - 1]) {
    const e = entries[i];
    const bad = good.slice();
    bad[e.offset + e.bytes - 3] ^= 0x10;
    // the header still opens, the tensor does not read
    const r = SqzReader.fromBytes(bad);
    await rejects(() => r.get(e.name), `tensor '${e.name}'`, 'corrupt', 'checksum');
    for (const other of entries) if (other !== e) await r.get(other.name);
    await bothReject(bad, `tensor '${e.name}'`, 'checksum');
  }
});

test('(c) a flipped byte inside the header meta', async () => {
  const hb = goodReader.headerBytes;
  for (const back of [1, 10, 200, 400]) {
    const bad = good.slice();
    bad[hb - back] ^= 0x01; // meta is the header's last field, so these are inside it
    await bothReject(bad, 'header', 'corrupt', 'checksum');
  }
});

test('(d) version 2 is refused, naming both versions', async () => {
  const hb = goodReader.headerBytes;
  const h = (await import('../../src/format/wire.ts')).decodeFirst(good)!.value as Record<string, unknown>;
  const v2 = packValue({ ...h, version: 2 });
  await bothReject(withHeader(v2, [good.subarray(hb)]), 'version 2', 'supports version 1');
  const notSqz = packValue({ ...h, format: 'gguf' });
  await bothReject(withHeader(notSqz, [good.subarray(hb)]), 'not a .sqz file');
});

test('(e) the index lists a tensor the file does not have', async () => {
  const idx: SqzIndexEntry[] = goodReader.header.tensors.map((e) => ({ ...e }));
  // an extra entry at the end
  const ghost: SqzIndexEntry = { name: 'ghost', kind: 'f32', shape: [4], bytes: 40, crc32: 1 };
  const bodies = entries.map((_, i) => body(i));
  await bothReject(withHeader(encodeHeader(meta, [...idx, ghost]), bodies), 'truncated', '40 bytes missing', "tensor 'ghost'", 'missing entirely');
  // a tensor in the middle missing from the body
  const short = bodies.filter((_, i) => i !== 2);
  await bothReject(withHeader(encodeHeader(meta, idx), short), 'truncated', `${entries[2].bytes} bytes missing`);
  // the body's records in another order than the index (same lengths): the first differing tensor is named
  const a = encodeRecord({ name: 'a', kind: 'f32', shape: [3], data: new Float32Array([1, 2, 3]) });
  const b = encodeRecord({ name: 'b', kind: 'f32', shape: [3], data: new Float32Array([4, 5, 6]) });
  await bothReject(withHeader(encodeHeader(meta, [a.entry, b.entry]), [concatChunks(b.chunks), concatChunks(a.chunks)]), "tensor 'a'", 'checksum');
  // a record whose bytes check out but which is another tensor than its index entry says
  const mislabel = { ...b.entry, name: 'a' };
  await bothReject(withHeader(encodeHeader(meta, [mislabel]), [concatChunks(b.chunks)]), "tensor 'a'", 'named "b"');
  const reshaped = { ...b.entry, shape: [1, 3] };
  await bothReject(withHeader(encodeHeader(meta, [reshaped]), [concatChunks(b.chunks)]), "tensor 'b'", 'shape [3]');
  // the same name twice in the index
  await bothReject(withHeader(encodeHeader(meta, [a.entry, a.entry]), [concatChunks(a.chunks), concatChunks(a.chunks)]), "tensor 'a'", 'listed twice');
  // asking for a name that is not there
  await rejects(() => goodReader.get('nope'), "no tensor named 'nope'");
});

test('(f) an unknown kind names the kind and the tensor', async () => {
  const a = encodeRecord({ name: 'a', kind: 'f32', shape: [3], data: new Float32Array([1, 2, 3]) });
  const e = { ...a.entry, kind: 'q9' } as unknown as SqzIndexEntry;
  await bothReject(withHeader(encodeHeader(meta, [e]), [concatChunks(a.chunks)]), "unknown tensor kind \"q9\"", "tensor 'a'");
});

/** A file whose single record has the given (possibly bad) fields but a correct index entry and checksum. */
function fileWithRecord(fields: Record<string, unknown>, rawBytes?: Uint8Array): Uint8Array {
  const bytes = rawBytes ?? packValue(fields);
  const entry = { name: fields.name as string, kind: fields.kind as 'f32', shape: fields.shape as number[], bytes: bytes.length, crc32: crc32(bytes) };
  return withHeader(encodeHeader(meta, [entry]), [bytes]);
}

test('(g) the reader checks payload sizes even when the checksum is right', async () => {
  const rng = new Rng(3);
  const { rec } = nuqRecord(rng, 'layers.1.attn.v', 4, 40, 4, { sparse: true });
  const w = encodeRecordFields(rec) as Record<string, unknown>;
  await bothReject(fileWithRecord({ ...w, lut: (w.lut as Uint8Array).subarray(4) }), "tensor 'layers.1.attn.v'", 'lut', '63 f32 elements', 'needs 64');
  await bothReject(fileWithRecord({ ...w, lut: (w.lut as Uint8Array).subarray(1) }), "tensor 'layers.1.attn.v'", 'lut', 'not a whole number');
  await bothReject(fileWithRecord({ ...w, indices: (w.indices as Uint8Array).subarray(1) }), "tensor 'layers.1.attn.v'", 'indices');
  await bothReject(fileWithRecord({ ...w, bits: 5 }), "tensor 'layers.1.attn.v'", 'bits 5');
  await bothReject(fileWithRecord({ ...w, lut: 'oops' }), "tensor 'layers.1.attn.v'", "'lut' is not binary");
  await bothReject(fileWithRecord({ ...w, extra: 1 }), "tensor 'layers.1.attn.v'", "unexpected field 'extra'");
  const { lut: _lut, ...noLut } = w;
  await bothReject(fileWithRecord(noLut), "tensor 'layers.1.attn.v'", "'lut' is missing");
  const sp = w.sparse as Record<string, Uint8Array>;
  const badCol = new Int32Array(rec.sparse!.colIdx);
  if (badCol.length) {
    badCol[0] = 40;
    await bothReject(fileWithRecord({ ...w, sparse: { ...sp, colIdx: new Uint8Array(badCol.buffer) } }), "tensor 'layers.1.attn.v'", 'colIdx[0] = 40');
  }
  const badPtr = new Int32Array(rec.sparse!.rowPtr);
  badPtr[0] = 1;
  await bothReject(fileWithRecord({ ...w, sparse: { ...sp, rowPtr: new Uint8Array(badPtr.buffer) } }), "tensor 'layers.1.attn.v'", 'rowPtr[0]');
  await bothReject(fileWithRecord({ name: 'x', kind: 'f32', shape: [4], data: new Uint8Array(12) }), "tensor 'x'", 'data has 3 f32 elements', 'needs 4');
  await bothReject(fileWithRecord({ name: 'x', kind: 'uniform', shape: [2, 40], bits: 4, groupSize: 16, scales: new Uint8Array(20), zeros: new Uint8Array(24), values: new Uint8Array(64) }), "tensor 'x'", 'scales', 'needs 6');
});

test('garbage framing inside a record with a right checksum is a FormatError', async () => {
  const ok = packValue({ name: 'x', kind: 'f32', shape: [4], data: new Uint8Array(16) });
  const cases = [
    ok.subarray(0, ok.length - 3), // a bin running past the record
    concatChunks([ok, new Uint8Array([0xc0])]), // trailing bytes
    new Uint8Array([0xc1]), // a reserved byte
    new Uint8Array([0x81, 0xa1, 0x78, 0xc6, 0xff, 0xff, 0xff, 0xff, 0]), // a 4 GiB bin
    new Uint8Array([0x93, 1, 2, 3]), // not a map
    packValue({ name: 'x', kind: 'f32', shape: 'big', data: new Uint8Array(16) }),
  ];
  for (const raw of cases) await bothReject(fileWithRecord({ name: 'x', kind: 'f32', shape: [4] }, raw), "tensor 'x'");
});

test('files that are not .sqz at all', async () => {
  const enc = new TextEncoder();
  await bothReject(enc.encode('{"format": "sqz"}'), 'not a .sqz file');
  await bothReject(enc.encode('GGUF\x03\x00\x00\x00'), 'not a .sqz file');
  await bothReject(packValue({ hello: 'world' }), 'not a .sqz file');
  await bothReject(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1]), 'truncated inside the header');
  await rejects(() => SqzReader.open(dir), 'not a regular file');
  await rejects(() => SqzReader.open(join(dir, 'absent.sqz')), 'absent.sqz: no such file');
});

test('every single-byte corruption and every truncation of a small file is a FormatError', async () => {
  const small = encodeSqz({ ...meta, tokenizer: null }, records.slice(1, 4));
  for (let n = 0; n < small.length; n++) await rejects(() => readAll(small.subarray(0, n)));
  for (let i = 0; i < small.length; i++) {
    for (const x of [0x01, 0x80]) {
      const bad = small.slice();
      bad[i] ^= x;
      await rejects(() => readAll(bad));
    }
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
