// .sqz files built without the writer's checks (a bad config, NaN values, an index that disagrees
// with its records), for the tests of what a reader and the loader refuse.
import { crc32Chunks } from '../../src/format/crc32.ts';
import { encodeRecordFields, type TensorRecord } from '../../src/format/kinds.ts';
import { encodeHeader, type SqzIndexEntry, type SqzMeta } from '../../src/format/sqz.ts';
import { concatChunks, encodeChunks } from '../../src/format/wire.ts';

/** The bytes of one record and its index entry, unchecked. */
export function rawRecord(r: TensorRecord): { entry: SqzIndexEntry; bytes: Uint8Array } {
  const { chunks, length } = encodeChunks(encodeRecordFields(r));
  return { entry: { name: r.name, kind: r.kind, shape: [...r.shape], bytes: length, crc32: crc32Chunks(chunks) }, bytes: concatChunks(chunks, length) };
}

/** A whole file from any meta (a plain object: nothing is validated) and records, each framed and checksummed as a writer would. */
export function rawSqz(meta: SqzMeta | Record<string, unknown>, records: readonly TensorRecord[]): Uint8Array {
  const parts = records.map(rawRecord);
  return concatChunks([encodeHeader(meta as SqzMeta, parts.map((p) => p.entry)), ...parts.map((p) => p.bytes)]);
}
