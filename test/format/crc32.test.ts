import zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32, crc32Chunks } from '../../src/format/crc32.ts';
import { Rng } from '../../src/util/random.ts';

const zcrc = (zlib as unknown as { crc32(d: Uint8Array, v?: number): number }).crc32;

test('crc32 of known strings', () => {
  const enc = new TextEncoder();
  assert.is(crc32(new Uint8Array(0)), 0);
  assert.is(crc32(enc.encode('123456789')), 0xcbf43926); // the standard check value
  assert.is(crc32(enc.encode('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

test('crc32 matches node:zlib on random data of every length 0..300 and a large buffer', () => {
  const rng = new Rng(11);
  const buf = new Uint8Array(100_003);
  for (let i = 0; i < buf.length; i++) buf[i] = rng.int(256);
  for (let n = 0; n <= 300; n++) {
    const off = n % 7; // unaligned views too
    const v = buf.subarray(off, off + n);
    assert.is(crc32(v), zcrc(v), `length ${n}`);
  }
  assert.is(crc32(buf), zcrc(buf));
});

test('crc32 continues across pieces like zlib', () => {
  const rng = new Rng(12);
  const buf = new Uint8Array(5000);
  for (let i = 0; i < buf.length; i++) buf[i] = rng.int(256);
  const cuts = [0, 1, 9, 17, 1000, 4093, 5000];
  const pieces = cuts.slice(1).map((c, i) => buf.subarray(cuts[i], c));
  assert.is(crc32Chunks(pieces), zcrc(buf));
  assert.is(crc32(buf.subarray(100), crc32(buf.subarray(0, 100))), zcrc(buf.subarray(100), zcrc(buf.subarray(0, 100))));
});

test.run();
