// docs/FORMAT.md's worked examples were derived by hand from the layout rules; these tests check
// every byte shown there against the code (packIndices, the record encoder, the header writer).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32 } from '../../src/format/crc32.ts';
import { dequantize, type NuqRecord } from '../../src/format/kinds.ts';
import { type PackedBits, packIndices, unpackIndices } from '../../src/format/packing.ts';
import { encodeHeader, encodeRecord } from '../../src/format/sqz.ts';
import { concatChunks, leBytes } from '../../src/format/wire.ts';
import { repoRoot } from '../helpers.ts';
import { meta } from './fixtures.ts';

const doc = readFileSync(join(repoRoot, 'docs', 'FORMAT.md'), 'utf8');

/** The first fenced code block after the heading that starts with `heading`. */
function block(heading: string): string {
  const at = doc.indexOf('\n' + heading);
  assert.ok(at >= 0, `heading ${heading} in FORMAT.md`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(m, `code block after ${heading}`);
  return m![1];
}

const hexBytes = (s: string): number[] => s.trim().split(/\s+/).map((h) => {
  assert.match(h, /^[0-9a-f]{2}$/, `hex byte ${h}`);
  return parseInt(h, 16);
});

/** Indices (from `w[a..b] = ...` lines, in order) and the `packed = ...` bytes of an example block. */
function example(heading: string): { w: number[]; packed: number[] } {
  const b = block(heading);
  const w: number[] = [];
  for (const m of b.matchAll(/^w\[(\d+)\.\.(\d+)\]\s*=\s*(.*)$/gm)) {
    assert.is(Number(m[1]), w.length, `${heading}: ranges in order`);
    const vals = m[3].trim().split(/\s+/).map(Number);
    assert.is(vals.length, Number(m[2]) - Number(m[1]) + 1, `${heading}: w[${m[1]}..${m[2]}] count`);
    w.push(...vals);
  }
  const p = /^packed\s*=\s*(.*)$/m.exec(b);
  assert.ok(p, `${heading}: packed line`);
  return { w, packed: hexBytes(p![1]) };
}

function checkExample(heading: string, bits: PackedBits, cols: number): number[] {
  const { w, packed } = example(heading);
  assert.is(w.length, cols);
  const got = packIndices(Uint8Array.from(w), 1, cols, bits);
  assert.equal(Array.from(got), packed, `${heading}: packIndices gives the bytes in the doc`);
  assert.equal(Array.from(unpackIndices(Uint8Array.from(packed), 1, cols, bits)), w, `${heading}: and they unpack back`);
  return w;
}

test('example 1: the 4-bit row', () => {
  const w = checkExample('### Example 1', 4, 32);
  assert.equal(w.join(''), '31415926535897932384626433832795'); // "the first 32 digits of pi"
  assert.is(w[5], 9);
  assert.is(w[21], 2);
});

test('example 2: the 3-bit row, and the weights decoded in the text', () => {
  const w = checkExample('### Example 2', 3, 32);
  assert.is(w[13], 2);
  assert.is(w[29], 7);
});

test('example 3: the short 3-bit row', () => {
  const w = checkExample('### Example 3', 3, 20);
  assert.equal(w, example('### Example 2').w.slice(0, 20));
});

test('example 4: CSR arrays and their little-endian bytes', () => {
  const b = block('### Example 4');
  const line = (key: string, Ctor: Int32ArrayConstructor | Float32ArrayConstructor) => {
    const m = new RegExp(`^${key}\\s*=\\s*(.*?)\\s+bytes\\s+(.*)$`, 'm').exec(b);
    assert.ok(m, key);
    const arr = Ctor.from(m![1].trim().split(/\s+/).map(Number));
    assert.equal(Array.from(leBytes(arr)), hexBytes(m![2]), `${key} bytes`);
    return Array.from(arr);
  };
  assert.equal(line('rowPtr', Int32Array), [0, 1, 1, 3]);
  assert.equal(line('colIdx', Int32Array), [2, 0, 7]);
  assert.equal(line('values', Float32Array), [1.5, -2, 4]);
});

test('example 5: the whole nuq record, its length and checksum', () => {
  const w = example('### Example 2').w;
  const rec: NuqRecord = {
    name: 'w',
    kind: 'nuq',
    shape: [1, 32],
    bits: 3,
    lut: Float32Array.from([-0.75, -0.5, -0.25, -0.0625, 0.0625, 0.25, 0.5, 0.75]),
    indices: packIndices(Uint8Array.from(w), 1, 32, 3),
    sparse: { rowPtr: Int32Array.from([0, 1]), colIdx: Int32Array.from([5]), values: Float32Array.from([1.5]) },
  };
  const enc = encodeRecord(rec);
  const bytes = concatChunks(enc.chunks);
  const dump = block('## 7. Example 5')
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => l.slice(0, l.indexOf('|')))
    .join(' ');
  assert.equal(Array.from(bytes), hexBytes(dump), 'record bytes in the doc');
  const m = /is (\d+) bytes with CRC-32 `0x([0-9a-f]{8})`/.exec(doc);
  assert.ok(m, 'length and checksum sentence');
  assert.is(enc.entry.bytes, Number(m![1]));
  assert.is(enc.entry.crc32, parseInt(m![2], 16));
  assert.is(crc32(bytes), enc.entry.crc32);
  assert.ok(doc.includes(`crc32: ${enc.entry.crc32}}`), 'decimal checksum in the index entry');
  const dense = dequantize(rec);
  assert.is(dense[5], 1.75);
  assert.is(dense[13], -0.25);
  assert.is(dense[29], 0.75);
});

test('section 3: the header starts with the bytes shown', () => {
  const b = block('## 3. The header');
  const shown: number[] = [];
  for (const l of b.split('\n')) {
    const toks = l.trim().split(/\s+/);
    if (toks[0] === 'ce') break; // the checksum's bytes vary
    for (const t of toks) {
      if (!/^[0-9a-f]{2}$/.test(t)) break;
      shown.push(parseInt(t, 16));
    }
  }
  assert.is(shown.length, 1 + 7 + 4 + 8 + 1 + 6);
  assert.equal(Array.from(encodeHeader(meta, []).subarray(0, shown.length)), shown);
});

test('the CRC check value quoted in section 1', () => {
  assert.ok(doc.includes('`0xCBF43926`'));
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test.run();
