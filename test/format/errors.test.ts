// Every error loadModel raises on a bad .sqz names the file (issue 11 pt 10), and, for a bad header
// field, the field: a small model mutated in many ways (header fields, config fields, the index,
// the records, the tokenizer, seeded byte flips and cuts), each written to a file and loaded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRecordFields, type TensorRecord } from '../../src/format/kinds.ts';
import { encodeHeader, type SqzIndexEntry } from '../../src/format/sqz.ts';
import { concatChunks, encodeChunks, packValue } from '../../src/format/wire.ts';
import { crc32, crc32Chunks } from '../../src/format/crc32.ts';
import { loadModel } from '../../src/index.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { SqzError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { syntheticConfig, syntheticRecords, syntheticTokenizer } from '../../tools/synthetic.ts';
import { rawRecord, rawSqz } from './raw.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqz-names-'));
const config = syntheticConfig({ dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 270, maxSeqLen: 64 });
const records: TensorRecord[] = [...syntheticRecords(config)];
const meta = { config, tokenizer: syntheticTokenizer(270), quant: { method: 'f32' } };
const good = rawSqz(meta, records);

let n = 0;
const outcomes = { refused: 0, loaded: 0 };

/**
 * Writes `bytes` to a file and loads it: it must be refused with an SqzError of one line that
 * starts with the file's path (and matches `field` when given), unless `mayLoad` (a byte flip that
 * happens to leave a valid file).
 */
async function refusedNamingFile(what: string, bytes: Uint8Array, field?: RegExp, mayLoad = false): Promise<void> {
  const path = join(dir, `case${n++}.sqz`);
  writeFileSync(path, bytes);
  let loaded = false;
  try {
    const m = await loadModel(path, { backend: 'js' });
    await m.close();
    loaded = true;
  } catch (e) {
    if (!(e instanceof SqzError)) throw new Error(`${what}: not a typed error: ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    const msg = e.message;
    assert.ok(msg.startsWith(`${path}: `), `${what}: the message does not start with the file: ${msg}`);
    assert.not.match(msg, /\n/, `${what}: more than one line`);
    if (field) assert.match(msg, field, `${what}: the message does not name the field: ${msg}`);
    outcomes.refused++;
  } finally {
    rmSync(path, { force: true });
  }
  if (loaded && !mayLoad) assert.unreachable(`${what}: loaded`);
  if (loaded) outcomes.loaded++;
}

/** The file with the meta changed (the header's checksum recomputed, so the change itself is what is read). */
const withMeta = (m: Record<string, unknown>, recs: readonly TensorRecord[] = records) => rawSqz(m, recs);

test('the good file loads', async () => {
  const path = join(dir, 'good.sqz');
  writeFileSync(path, good);
  const m = await loadModel(path, { backend: 'js' });
  await m.close();
});

test('bad config fields: each refused naming the field', async () => {
  const bad: unknown[] = [0, -1, 1.5, NaN, Infinity, 2 ** 31, 1e308, '8', null, true];
  for (const k of Object.keys(config) as (keyof typeof config)[]) {
    for (const v of bad) {
      if (k === 'tiedEmbeddings' && typeof v === 'boolean') continue;
      if (k === 'ropeTheta' && typeof v === 'number' && v > 0 && Number.isFinite(v)) continue; // any positive theta is one
      await refusedNamingFile(`config.${k} = ${String(v)}`, withMeta({ ...meta, config: { ...config, [k]: v } }), k === 'arch' ? /architecture/ : new RegExp(`\\b${k}\\b`));
    }
    const { [k]: _, ...without } = config;
    await refusedNamingFile(`config without ${k}`, withMeta({ ...meta, config: without }), k === 'arch' ? /architecture/ : new RegExp(`\\b${k}\\b`));
  }
  for (const c of [null, 5, 'llama', [1, 2]]) await refusedNamingFile(`config ${JSON.stringify(c)}`, withMeta({ ...meta, config: c }), /config/);
});

test('bad header meta: tokenizer, quant, index', async () => {
  await refusedNamingFile('no tokenizer', withMeta({ ...meta, tokenizer: null }), /tokenizer/);
  await refusedNamingFile('tokenizer a number', withMeta({ ...meta, tokenizer: 5 }), /tokenizer/);
  await refusedNamingFile('tokenizer without kind', withMeta({ ...meta, tokenizer: { pieces: [] } }), /tokenizer/);
  await refusedNamingFile('tokenizer of unknown kind', withMeta({ ...meta, tokenizer: { kind: 'sentencepiece' } }), /tokenizer/);
  const t = meta.tokenizer as Extract<TokenizerSpec, { kind: 'llama2c' }>;
  await refusedNamingFile('tokenizer pieces not strings', withMeta({ ...meta, tokenizer: { ...t, pieces: t.pieces.map((_, i) => i) } }), /tokenizer/);
  await refusedNamingFile('tokenizer pieces missing', withMeta({ ...meta, tokenizer: { ...t, pieces: undefined } }), /tokenizer/);
  await refusedNamingFile('tokenizer scores short', withMeta({ ...meta, tokenizer: { ...t, scores: [1, 2] } }), /tokenizer/);
  await refusedNamingFile('hf tokenizer of bad json', withMeta({ ...meta, tokenizer: { kind: 'hf', json: '{ nope', bos: 1, eos: 2 } }), /tokenizer/);
  await refusedNamingFile('no quant', withMeta({ ...meta, quant: undefined }), /quant/);
  await refusedNamingFile('quant bits text', withMeta({ ...meta, quant: { method: 'x', bits: 'four' } }), /quant bits/);
  // the index: built by hand so that it can disagree with the records
  const parts = records.map(rawRecord);
  const file = (entries: unknown[], body = parts.map((p) => p.bytes)) => {
    const metaBytes = packValue({ ...meta, tensors: entries });
    return concatChunks([packValue({ format: 'sqz', version: 1, crc32: crc32(metaBytes), meta: metaBytes }), ...body]);
  };
  const entries = parts.map((p) => p.entry);
  const edit = (i: number, change: Partial<Record<keyof SqzIndexEntry, unknown>>) => entries.map((e, j) => (j === i ? { ...e, ...change } : e));
  await refusedNamingFile('index not an array', file(5 as unknown as unknown[]), /tensor index/);
  await refusedNamingFile('index entry not a map', file([...entries.slice(0, 2), 7, ...entries.slice(3)]), /index entry 2/);
  await refusedNamingFile('index entry without a name', edit(3, { name: '' }).length ? file(edit(3, { name: '' })) : good, /index entry 3/);
  await refusedNamingFile('index names twice', file(edit(3, { name: entries[2].name })), /listed twice/);
  await refusedNamingFile('index unknown kind', file(edit(3, { kind: 'q4_0' })), /unknown tensor kind "q4_0"/);
  await refusedNamingFile('index bad shape', file(edit(3, { shape: [0, 3] })), /shape/);
  await refusedNamingFile('index shape the config does not imply', file(edit(3, { shape: [1, 32] })), /shape/);
  await refusedNamingFile('index bytes 0', file(edit(3, { bytes: 0 })), /byte length/);
  await refusedNamingFile('index bytes one more', file(edit(3, { bytes: entries[3].bytes + 1 })), /truncated|bytes/);
  await refusedNamingFile('index crc -1', file(edit(3, { crc32: -1 })), /checksum/);
  await refusedNamingFile('index crc off by one', file(edit(3, { crc32: (entries[3].crc32 + 1) >>> 0 })), new RegExp(`tensor '${entries[3].name}' is corrupt`));
  await refusedNamingFile('a tensor missing', file(entries.slice(0, -1), parts.slice(0, -1).map((p) => p.bytes)), /missing: 'norm'/);
  const extra = rawRecord({ name: 'layers.1.attn_norm', kind: 'f32', shape: [32], data: new Float32Array(32) });
  await refusedNamingFile('a tensor too many', file([...entries, extra.entry], [...parts.map((p) => p.bytes), extra.bytes]), /does not use: 'layers\.1\.attn_norm'/);
  const renamed = rawRecord({ ...records[1], name: 'layers.0.attn_nrom' } as TensorRecord);
  await refusedNamingFile('a record named otherwise than its index entry', file(edit(1, { crc32: renamed.entry.crc32, bytes: renamed.entry.bytes }), parts.map((p, i) => (i === 1 ? renamed.bytes : p.bytes))), /the record is named/);
  await refusedNamingFile('header version 2', concatChunks([packValue({ format: 'sqz', version: 2, crc32: 0, meta: new Uint8Array(0) })]), /version 2/);
  await refusedNamingFile('header format other', concatChunks([packValue({ format: 'zip', version: 1 })]), /not a \.sqz file/);
  await refusedNamingFile('empty file', new Uint8Array(0), /empty/);
});

test('bad records: a flipped payload byte names the tensor; NaN values name the tensor and entry', async () => {
  const parts = records.map(rawRecord);
  let at = encodeHeader(meta as never, parts.map((p) => p.entry)).length;
  for (const p of parts) {
    const b = good.slice();
    b[at + p.bytes.length - 3] ^= 0x10;
    await refusedNamingFile(`flip in ${p.entry.name}`, b, new RegExp(`tensor '${p.entry.name.replace(/\./g, '\\.')}'`));
    at += p.bytes.length;
  }
  const nan = records.map((r) => (r.name === 'norm' ? { ...r, data: (r as { data: Float32Array }).data.map((v, i) => (i === 9 ? NaN : v)) } : r)) as TensorRecord[];
  await refusedNamingFile('NaN in norm', rawSqz(meta, nan), /tensor 'norm' \(f32\): data\[9\] is NaN/);
  const { chunks, length } = encodeChunks({ ...encodeRecordFields(records[1]), bogus: 1 });
  const extraField = { entry: { ...parts[1].entry, bytes: length, crc32: crc32Chunks(chunks) }, bytes: concatChunks(chunks, length) };
  const recs = parts.map((p, i) => (i === 1 ? extraField : p));
  const metaBytes = packValue({ ...meta, tensors: recs.map((p) => p.entry) });
  await refusedNamingFile('a record with a field its kind does not have', concatChunks([packValue({ format: 'sqz', version: 1, crc32: crc32(metaBytes), meta: metaBytes }), ...recs.map((p) => p.bytes)]), /unexpected field 'bogus'/);
});

test('seeded byte flips and cuts anywhere: refused naming the file (or, rarely, still valid)', async () => {
  const rng = new Rng(11);
  for (let k = 0; k < 150; k++) {
    const b = good.slice();
    const at = rng.int(b.length);
    b[at] ^= 1 << rng.int(8);
    await refusedNamingFile(`flip at ${at}`, b, undefined, true);
  }
  for (let k = 0; k < 40; k++) {
    const cut = rng.int(good.length);
    await refusedNamingFile(`cut at ${cut}`, good.subarray(0, cut));
  }
  assert.ok(outcomes.refused > 300, `${outcomes.refused} refused, ${outcomes.loaded} loaded`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
