import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize, encodeRecordFields, KINDS, payloadBytes, type TensorRecord } from '../../src/format/kinds.ts';
import { rowBytes, unpackIndices } from '../../src/format/packing.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { encodeRecord, encodeSqz } from '../../src/format/sqz.ts';
import { concatChunks, msgpackValueEnd, packValue } from '../../src/format/wire.ts';
import { SqzWriter, writeSqz } from '../../src/format/writer.ts';
import { dequantLut, halfToFloat } from '../../src/kernels/reference.ts';
import { Rng } from '../../src/util/random.ts';
import { f16Record, f32Record, meta, nuqRecord, sampleRecords, uniformRecord } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-rt-'));

function sameRecord(a: TensorRecord, b: TensorRecord): void {
  assert.equal(Object.keys(b).sort(), Object.keys(a).sort(), `${a.name}: keys`);
  for (const [k, v] of Object.entries(a)) {
    const w = (b as unknown as Record<string, unknown>)[k];
    if (ArrayBuffer.isView(v)) {
      assert.is((w as object).constructor, (v as object).constructor, `${a.name}.${k} type`);
      assert.is((w as ArrayBufferView).byteOffset % (v as Float32Array).BYTES_PER_ELEMENT, 0, `${a.name}.${k} aligned`);
      assert.equal(Array.from(w as Float32Array), Array.from(v as Float32Array), `${a.name}.${k}`);
    } else if (k === 'sparse' && v) {
      for (const f of ['rowPtr', 'colIdx', 'values'] as const) {
        const x = (v as Record<string, Float32Array>)[f];
        const y = (w as Record<string, Float32Array>)[f];
        assert.is(y.constructor, x.constructor);
        assert.equal(Array.from(y), Array.from(x), `${a.name}.sparse.${f}`);
      }
    } else assert.equal(w, v, `${a.name}.${k}`);
  }
}

function allKinds(): TensorRecord[] {
  const rng = new Rng(5);
  const out: TensorRecord[] = [f32Record(rng, 'a.f32', [3, 5]), f32Record(rng, 'scalarish', [1]), f16Record(rng, 'a.f16', [2, 3, 4])];
  for (const bits of [3, 4] as const) {
    for (const cols of [1, 31, 32, 33, 100]) {
      out.push(nuqRecord(rng, `nuq${bits}.${cols}`, 3, cols, bits).rec);
      out.push(nuqRecord(rng, `nuq${bits}.${cols}.sparse`, 4, cols, bits, { sparse: true, rowSplit: cols > 1 }).rec);
      out.push(nuqRecord(rng, `nuq${bits}.${cols}.f16lut`, 3, cols, bits, { f16Lut: true, sparse: cols > 31 }).rec);
    }
  }
  for (const bits of [3, 4, 8] as const) {
    for (const [cols, gs] of [[1, 32], [40, 16], [70, 32], [64, 64], [50, 128]]) out.push(uniformRecord(rng, `uni${bits}.${cols}.${gs}`, 3, cols, bits, gs).rec);
  }
  return out;
}

test('every kind round-trips through bytes', async () => {
  const recs = allKinds();
  const r = SqzReader.fromBytes(encodeSqz(meta, recs));
  assert.equal(r.header.config, meta.config);
  assert.equal(r.header.tokenizer, meta.tokenizer);
  assert.equal(r.header.quant, meta.quant);
  assert.equal(r.names, recs.map((x) => x.name));
  let i = 0;
  for await (const t of r.records()) sameRecord(recs[i++], t);
  assert.is(i, recs.length);
  // random access, out of order
  for (const k of [7, 0, recs.length - 1, 3]) sameRecord(recs[k], await r.get(recs[k].name));
});

test('every kind round-trips through a file (writer + reader), same bytes as encodeSqz', async () => {
  const recs = allKinds();
  const path = join(dir, 'all.sqz');
  const res = await writeSqz(path, meta, (async function* () {
    for (const x of recs) yield x;
  })());
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(path);
  assert.is(res.bytes, bytes.length);
  assert.equal(new Uint8Array(bytes), encodeSqz(meta, recs));
  const r = await SqzReader.open(path);
  try {
    assert.is(r.fileBytes, bytes.length);
    for (const k of [5, 1, 12]) sameRecord(recs[k], await r.get(recs[k].name));
    let i = 0;
    for await (const t of r.records()) sameRecord(recs[i++], t);
    assert.is(i, recs.length);
  } finally {
    await r.close();
  }
});

test('a file with no tensors and no tokenizer round-trips', async () => {
  const path = join(dir, 'empty.sqz');
  const w = await SqzWriter.create(path, { ...meta, tokenizer: null, quant: { method: 'none' } });
  await w.finish();
  const r = await SqzReader.open(path);
  assert.equal(r.header.tensors, []);
  assert.is(r.header.tokenizer, null);
  assert.equal(r.header.quant, { method: 'none' });
  await r.close();
});

test('the record encoder writes exactly the bytes msgpackr writes', () => {
  for (const rec of allKinds()) {
    const enc = encodeRecord(rec);
    assert.equal(concatChunks(enc.chunks), packValue(encodeRecordFields(rec)), rec.name);
  }
});

test('large payloads are written from the record\'s own memory (no copy)', () => {
  const rec = f32Record(new Rng(1), 'big', [64, 64]);
  const enc = encodeRecord(rec);
  assert.ok(enc.chunks.some((c) => c.buffer === rec.data.buffer && c.byteLength === rec.data.byteLength));
});

test('nuq dequantize = lookup table + sparse values (independent computation)', () => {
  const rng = new Rng(21);
  for (const bits of [3, 4] as const) {
    for (const cols of [7, 32, 45, 96]) {
      const rows = 5;
      const { rec, idx } = nuqRecord(rng, 'w', rows, cols, bits, { sparse: true });
      // independent: the reference kernel's table lookup, then the sparse entries by hand
      const want = dequantLut(rec.lut, rec.indices, rows, cols, bits);
      const s = rec.sparse!;
      for (let r = 0; r < rows; r++) for (let k = s.rowPtr[r]; k < s.rowPtr[r + 1]; k++) want[r * cols + s.colIdx[k]] += s.values[k];
      // and from the unpacked indices the fixture started with
      const dense = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dense[r * cols + c] = rec.lut[(r << bits) + idx[r * cols + c]];
      assert.equal(Array.from(dequantLut(rec.lut, rec.indices, rows, cols, bits)), Array.from(dense));
      assert.equal(Array.from(dequantize(rec)), Array.from(want), `${bits} bits, ${cols} cols`);
    }
  }
});

test('uniform dequantize = scale * (q - zero) per group (hand loop)', () => {
  const rng = new Rng(22);
  for (const bits of [3, 4, 8] as const) {
    for (const [cols, gs] of [[70, 32], [64, 16], [20, 64], [33, 33], [5, 2]]) {
      const rows = 3;
      const { rec, q } = uniformRecord(rng, 'w', rows, cols, bits, gs);
      const nGroups = Math.ceil(cols / Math.min(gs, cols));
      const want = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const g = Math.min(Math.floor(c / gs), nGroups - 1);
          want[r * cols + c] = rec.scales[r * nGroups + g] * (q[r * cols + c] - rec.zeros[r * nGroups + g]);
        }
      }
      assert.equal(Array.from(dequantize(rec)), Array.from(want), `${bits} bits, ${cols} cols, group ${gs}`);
      assert.equal(unpackIndices(rec.values, rows, cols, bits), q);
      assert.is(rec.values.length, rows * rowBytes(bits, cols));
    }
  }
});

test('f16 and f32 dequantize; payloadBytes', () => {
  const rng = new Rng(23);
  const h = f16Record(rng, 'h', [4, 4]);
  assert.equal(Array.from(dequantize(h)), Array.from(h.data, halfToFloat));
  const f = f32Record(rng, 'f', [6]);
  assert.equal(dequantize(f), f.data);
  assert.is(payloadBytes(h), 32);
  const { rec } = nuqRecord(rng, 'n', 2, 40, 4, { sparse: true });
  assert.is(payloadBytes(rec), 2 * 16 * 4 + 2 * 32 + 3 * 4 + rec.sparse!.colIdx.length * 8);
  assert.equal(Object.keys(KINDS), ['f32', 'f16', 'nuq', 'uniform', 'nuq-shared']);
});

test('nuq with f16 tables: 2 bytes per table value in the file, the same values back; tables f16 cannot hold are refused', () => {
  const rng = new Rng(29);
  const { rec } = nuqRecord(rng, 'h', 5, 40, 4, { f16Lut: true });
  const f32: TensorRecord = { ...rec, lutType: undefined, lut: rec.lut.slice() };
  delete (f32 as { lutType?: string }).lutType;
  // the table is the only difference: 5 rows x 16 values x 2 bytes saved (give or take msgpack framing and the lutType entry)
  const saved = encodeRecord(f32).entry.bytes - encodeRecord(rec).entry.bytes;
  assert.ok(saved > 5 * 16 * 2 - 16 && saved <= 5 * 16 * 2, `saved ${saved} bytes`);
  assert.is(payloadBytes(f32) - payloadBytes(rec), 5 * 16 * 2);
  const back = SqzReader.fromBytes(encodeSqz(meta, [rec]));
  return back.get('h').then((got) => {
    sameRecord(rec, got);
    const bad = { ...rec, lut: rec.lut.slice() };
    bad.lut[7] = 0.1; // not a binary16
    assert.throws(() => encodeSqz(meta, [bad]), /lut\[7\] = 0\.1.* not exactly representable in f16/);
    const wrong = { ...rec, lutType: 'f8' } as unknown as TensorRecord;
    assert.throws(() => encodeSqz(meta, [wrong]), /lutType "f8" is not 'f16'/);
  });
});

test('sample file from several kinds: the index lists lengths and checksums', () => {
  const recs = sampleRecords();
  const r = SqzReader.fromBytes(encodeSqz(meta, recs));
  let off = r.headerBytes;
  for (const e of r.entries) {
    assert.is(e.offset, off);
    off += e.bytes;
  }
  assert.is(off, r.fileBytes);
});

test('msgpackValueEnd finds the end of every kind of value, and says when bytes are missing', () => {
  const values: unknown[] = [
    0, 127, 128, 70000, 2 ** 40, -1, -100, -40000, 1.5, null, true, false, '', 'x'.repeat(31), 'y'.repeat(300), 'z'.repeat(70000),
    new Uint8Array(3), new Uint8Array(300), new Uint8Array(70000), [], [1, [2, [3]]], Array(20).fill('a'), {}, { a: { b: [1, { c: new Uint8Array(5) }] } },
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => ['k' + i, i])), meta,
  ];
  for (const v of values) {
    const b = concatChunks([packValue(v), new Uint8Array([1, 2, 3])]);
    const n = b.length - 3;
    assert.is(msgpackValueEnd(b), n, JSON.stringify(v)?.slice(0, 40));
    for (const cut of [0, 1, Math.floor(n / 2), n - 1]) if (cut < n) assert.ok(msgpackValueEnd(b.subarray(0, cut)) > cut);
  }
  assert.throws(() => msgpackValueEnd(new Uint8Array([0x91, 0xc1])));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
