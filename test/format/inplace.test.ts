// A record read from a file keeps its large fields over the buffer it was read into, not in a
// second copy (peak RSS of a load, issue 12): every field's values equal the record written, whatever
// the alignment of its bin inside the record; a record read from bytes in memory copies its fields
// out instead of viewing the caller's bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqzReader } from '../../src/format/reader.ts';
import { encodeSqz } from '../../src/format/sqz.ts';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { Rng } from '../../src/util/random.ts';
import { f16Record, f32Record, meta, nuqRecord, uniformRecord } from './fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-inplace-'));

/** The typed arrays of a record (the sparse part's too), by field name. */
function arrays(r: TensorRecord): [string, Float32Array | Uint16Array | Int32Array | Uint8Array][] {
  const out: [string, Float32Array | Uint16Array | Int32Array | Uint8Array][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (ArrayBuffer.isView(v)) out.push([k, v as Float32Array]);
    else if (k === 'sparse' && v) for (const [s, a] of Object.entries(v)) out.push([`sparse.${s}`, a as Float32Array]);
  }
  return out;
}

// Names of 1..4 characters shift every bin by one byte against the next, so each alignment occurs.
function records(): TensorRecord[] {
  const rng = new Rng(11);
  return [
    f32Record(rng, 'a', [64, 33]),
    f32Record(rng, 'bb', [64, 33]),
    f32Record(rng, 'ccc', [64, 33]),
    f32Record(rng, 'dddd', [64, 33]),
    f16Record(rng, 'e', [64, 40]),
    f16Record(rng, 'ff', [64, 40]),
    nuqRecord(rng, 'g', 64, 96, 4, { sparse: true, rowSplit: true }).rec,
    nuqRecord(rng, 'hh', 64, 96, 3, { sparse: true }).rec,
    uniformRecord(rng, 'iii', 64, 96, 4, 32).rec,
  ];
}

test('records read from a file view their own read buffer, with the values written', async () => {
  const want = records();
  const file = join(tmp, 'm.sqz');
  writeFileSync(file, encodeSqz(meta, want));
  const reader = await SqzReader.open(file);
  try {
    let i = 0;
    for await (const got of reader.records()) {
      const bytes = reader.entries[i].bytes;
      const expect = new Map(arrays(want[i++]));
      for (const [field, a] of arrays(got)) {
        assert.equal(Array.from(a), Array.from(expect.get(field)!), `${got.name}.${field}`);
        // one buffer of the record's size holds every large field: no copy of its own
        if (a.byteLength >= 256) assert.is(a.buffer.byteLength, bytes, `${got.name}.${field} is a copy`);
      }
    }
  } finally {
    await reader.close();
  }
});

test('records read from bytes in memory are copies, not views of those bytes', async () => {
  const bytes = encodeSqz(meta, records());
  const reader = SqzReader.fromBytes(bytes);
  for await (const got of reader.records()) for (const [field, a] of arrays(got)) assert.is.not(a.buffer, bytes.buffer, `${got.name}.${field}`);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
