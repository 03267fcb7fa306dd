// The .sqz container, independent of where the bytes live: header encoding and parsing (with every
// check the readers share), tensor record encoding and checked decoding, and encodeSqz for whole
// files in memory. Portable (no node:*): the file reader and writer build on it.
//
// A .sqz file is a stream of msgpack values:
//   value 0: header map { format: 'sqz', version: 1, crc32: CRC-32 of meta, meta: bin }
//            meta = msgpack map { config, tokenizer, quant, tensors: [{ name, kind, shape, bytes, crc32 }] }
//   value i (1..n): tensor record map { name, kind, shape, ...kind fields } of header.tensors[i-1],
//            exactly `bytes` long, CRC-32 `crc32`.
// docs/FORMAT.md has the byte layout.
import type { ModelConfig } from '../model/config.ts';
import { validateConfig } from '../model/config.ts';
import type { TokenizerSpec } from '../tokenizer/spec.ts';
import { FormatError, SqzError } from '../util/errors.ts';
import { crc32, crc32Chunks } from './crc32.ts';
import { checkShape, decodeRecordFields, encodeRecordFields, isKnownKind, KIND_NAMES, type TensorKind, type TensorRecord, validateRecord } from './kinds.ts';
import { concatChunks, decodeFirst, encodeChunks, msgpackValueEnd, packValue } from './wire.ts';

export const SQZ_FORMAT = 'sqz';
export const SQZ_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Quantization summary: free-form beyond `method` (e.g. 'squeezellm', 'rtn', 'gptq', 'awq', 'none') and `bits`. */
export interface QuantSummary {
  method: string;
  bits?: number;
  [key: string]: unknown;
}

/** What a writer is given: everything in the header except the tensor index. */
export interface SqzMeta {
  config: ModelConfig;
  tokenizer: TokenizerSpec | null;
  quant: QuantSummary;
}

/** One tensor in the header's index, in file order. */
export interface SqzIndexEntry {
  name: string;
  kind: TensorKind;
  shape: number[];
  /** Length in bytes of the tensor's msgpack value in the file. */
  bytes: number;
  /** CRC-32 (IEEE, as zlib) of those bytes. */
  crc32: number;
}

export interface SqzHeader extends SqzMeta {
  tensors: SqzIndexEntry[];
}

/** An index entry with its place in the file. */
export interface LocatedEntry extends SqzIndexEntry {
  /** Position in header.tensors (the record is value index + 1 of the stream). */
  index: number;
  /** Absolute byte offset of the record in the file. */
  offset: number;
}

// ---------------------------------------------------------------------------------------------
// Error context.

const fmt = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
};

/**
 * Runs `f` and puts context on what it throws: an SqzError gets `source: subject: ` in front (the
 * parts it does not already start with); anything else (an error from inside the msgpack decoder,
 * a RangeError...) becomes a FormatError saying `what` is corrupt.
 */
export function withContext<T>(source: string, subject: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw contextError(e, source, subject, what);
  }
}

export function contextError(e: unknown, source: string, subject: string, what: string): Error {
  const prefix = subject ? `${source}: ${subject}` : source;
  if (e instanceof SqzError) {
    let msg = e.message;
    if (msg.startsWith(source + ':')) return e;
    if (!(subject && msg.startsWith(subject))) msg = subject ? `${subject}: ${msg}` : msg;
    const out = new (e.constructor as new (m: string) => SqzError)(`${source}: ${msg}`);
    out.cause = e;
    return out;
  }
  const msg = e instanceof Error ? e.message : String(e);
  const out = new FormatError(`${prefix}: ${what} is corrupt (${msg})`);
  out.cause = e;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Header.

/** Checks the meta a writer is given (config, tokenizer, quant); throws FormatError naming `source`. */
export function validateMeta(meta: SqzMeta, source: string): void {
  if (typeof meta !== 'object' || meta === null) throw new FormatError(`${source}: header meta is not a map`);
  if (typeof meta.config !== 'object' || meta.config === null) throw new FormatError(`${source}: header has no model config`);
  validateConfig(meta.config, source);
  const t = meta.tokenizer as unknown;
  if (t !== null) {
    if (typeof t !== 'object' || Array.isArray(t)) throw new FormatError(`${source}: header tokenizer is neither a map nor nil`);
    const kind = (t as { kind?: unknown }).kind;
    if (typeof kind !== 'string') throw new FormatError(`${source}: header tokenizer has no kind`);
  }
  const q = meta.quant as unknown;
  if (typeof q !== 'object' || q === null || Array.isArray(q)) throw new FormatError(`${source}: header quant summary is not a map`);
  const { method, bits } = q as { method?: unknown; bits?: unknown };
  if (typeof method !== 'string') throw new FormatError(`${source}: header quant summary has no method`);
  if (bits !== undefined && typeof bits !== 'number') throw new FormatError(`${source}: header quant bits ${fmt(bits)} is not a number`);
}

/** Drops `undefined` members of plain objects (msgpackr would write them as an extension type). */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = plain(x);
    return o;
  }
  return v;
}

/** The header value (value 0 of the stream) for `meta` and the tensor index. */
export function encodeHeader(meta: SqzMeta, tensors: readonly SqzIndexEntry[]): Uint8Array {
  const index = tensors.map((t) => ({ name: t.name, kind: t.kind, shape: [...t.shape], bytes: t.bytes, crc32: t.crc32 }));
  const metaBytes = packValue(plain({ config: meta.config, tokenizer: meta.tokenizer, quant: meta.quant, tensors: index }));
  return packValue({ format: SQZ_FORMAT, version: SQZ_VERSION, crc32: crc32(metaBytes), meta: metaBytes });
}

export interface ParsedHeader {
  header: SqzHeader;
  /** Bytes the header value takes at the start of the file (= offset of the first tensor). */
  headerBytes: number;
  /** The index with offsets. */
  entries: LocatedEntry[];
}

/** Largest header a reader accepts (the tokenizer is the big part: a few MB even for large vocabularies). */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * Parses the header from the first bytes of a file of `fileSize` bytes. Returns `{ need }` when
 * `head` ends inside the header (read at least `need` bytes and call again). Checks format,
 * version, checksum, meta and index, and that the file is exactly header + the index's bytes.
 * `fileSize` null: a stream whose length is not known yet (its reader checks where it ends).
 */
export function parseHeader(head: Uint8Array, fileSize: number | null, source: string): ParsedHeader | { need: number } {
  if (fileSize === 0) throw new FormatError(`${source}: not a .sqz file (the file is empty)`);
  const b0 = head[0];
  if (!((b0 >= 0x80 && b0 <= 0x8f) || b0 === 0xde || b0 === 0xdf)) throw new FormatError(`${source}: not a .sqz file (it does not start with a msgpack map)`);
  const end = withContext(source, '', 'the header', () => msgpackValueEnd(head));
  if (end > head.length) {
    if (fileSize !== null && (end > fileSize || head.length >= fileSize)) {
      throw new FormatError(`${source}: truncated inside the header (the file is ${fileSize} bytes and ends before the header does), or the header's framing is corrupt`);
    }
    if (end > MAX_HEADER_BYTES || head.length >= MAX_HEADER_BYTES) throw new FormatError(`${source}: the header does not end within ${MAX_HEADER_BYTES} bytes: not a .sqz file, or a corrupt one`);
    return { need: end };
  }
  const first = withContext(source, '', 'the header', () => {
    const d = decodeFirst(head.subarray(0, end));
    if (d === null || d.end !== end) throw new Error('the msgpack framing and the decoder disagree');
    return d;
  });
  const h = first.value;
  if (!isMap(h) || h.format !== SQZ_FORMAT) throw new FormatError(`${source}: not a .sqz file (its first value has no format: '${SQZ_FORMAT}')`);
  if (!SUPPORTED_VERSIONS.includes(h.version as number)) {
    throw new FormatError(`${source}: .sqz version ${fmt(h.version)} is not supported (this reader supports version ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  const metaBytes = h.meta;
  if (!(metaBytes instanceof Uint8Array)) throw new FormatError(`${source}: the header has no meta bytes`);
  if (typeof h.crc32 !== 'number') throw new FormatError(`${source}: the header has no checksum`);
  const crc = crc32(metaBytes);
  if (crc !== h.crc32) throw new FormatError(`${source}: the header is corrupt (checksum of meta is ${hex(crc)}, the header says ${hex(h.crc32)})`);
  const metaValue = withContext(source, '', 'the header meta', () => {
    const d = decodeFirst(metaBytes);
    if (d === null || d.end !== metaBytes.length) throw new FormatError('the header meta is not one msgpack value');
    return d.value;
  });
  if (!isMap(metaValue)) throw new FormatError(`${source}: the header meta is not a map`);
  const meta = metaValue as unknown as SqzHeader;
  validateMeta(meta, source);
  const tensors = metaValue.tensors;
  if (!Array.isArray(tensors)) throw new FormatError(`${source}: the header has no tensor index`);
  const entries = checkIndex(tensors, end, source);
  const header: SqzHeader = { config: meta.config, tokenizer: meta.tokenizer ?? null, quant: meta.quant, tensors: entries.map(({ index: _i, offset: _o, ...e }) => e) };
  if (fileSize !== null) checkSize(entries, end, fileSize, source);
  return { header, headerBytes: end, entries };
}

const hex = (n: unknown): string => (typeof n === 'number' ? '0x' + (n >>> 0).toString(16).padStart(8, '0') : fmt(n));

function checkIndex(tensors: unknown[], headerBytes: number, source: string): LocatedEntry[] {
  const seen = new Set<string>();
  const out: LocatedEntry[] = [];
  let offset = headerBytes;
  tensors.forEach((t, i) => {
    if (!isMap(t)) throw new FormatError(`${source}: tensor index entry ${i} is not a map`);
    const name = t.name;
    if (typeof name !== 'string' || name.length === 0) throw new FormatError(`${source}: tensor index entry ${i} has no name`);
    const what = `${source}: tensor '${name}'`;
    if (seen.has(name)) throw new FormatError(`${what} is listed twice in the index`);
    seen.add(name);
    if (!isKnownKind(t.kind)) throw new FormatError(`${what}: unknown tensor kind ${fmt(t.kind)} (this reader knows ${KIND_NAMES.join(', ')})`);
    checkShape(t.shape, what);
    const { bytes, crc32: crc } = t;
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) throw new FormatError(`${what}: index byte length ${fmt(bytes)} is not a positive integer`);
    if (typeof crc !== 'number' || !Number.isInteger(crc) || crc < 0 || crc > 0xffffffff) throw new FormatError(`${what}: index checksum ${fmt(crc)} is not a 32-bit unsigned integer`);
    out.push({ name, kind: t.kind, shape: [...t.shape], bytes, crc32: crc, index: i, offset });
    offset += bytes;
  });
  return out;
}

function checkSize(entries: readonly LocatedEntry[], headerBytes: number, fileSize: number, source: string): void {
  const last = entries[entries.length - 1];
  const expected = last ? last.offset + last.bytes : headerBytes;
  if (fileSize < expected) {
    const cut = entries.find((e) => e.offset + e.bytes > fileSize)!;
    throw new FormatError(
      `${source}: truncated: ${expected - fileSize} bytes missing (the file is ${fileSize} bytes, the index says ${expected}); ` +
        `tensor '${cut.name}' (#${cut.index}, bytes ${cut.offset}..${cut.offset + cut.bytes - 1}) is the first one cut${fileSize <= cut.offset ? ' (missing entirely)' : ''}`,
    );
  }
  if (fileSize > expected) {
    throw new FormatError(`${source}: ${fileSize - expected} unexpected bytes after the last tensor (the file is ${fileSize} bytes, the index says ${expected})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor records.

export interface EncodedRecord {
  entry: SqzIndexEntry;
  /** The record's msgpack bytes, in pieces (large payloads are views of the record's arrays). */
  chunks: Uint8Array[];
}

/** Validates and encodes a record. Throws FormatError naming the tensor when it is inconsistent. */
export function encodeRecord(r: TensorRecord): EncodedRecord {
  validateRecord(r);
  const { chunks, length } = encodeChunks(encodeRecordFields(r));
  return { entry: { name: r.name, kind: r.kind, shape: [...r.shape], bytes: length, crc32: crc32Chunks(chunks) }, chunks };
}

/**
 * Checks and decodes the bytes of one record against its index entry: checksum, one msgpack value
 * of exactly those bytes, name/kind/shape as the index says, then the kind's own checks. Errors are
 * FormatErrors naming `source` and the tensor.
 */
export function decodeRecord(bytes: Uint8Array, e: SqzIndexEntry, source: string): TensorRecord {
  const prefix = `${source}: tensor '${e.name}'`;
  if (bytes.length !== e.bytes) throw new FormatError(`${prefix}: read ${bytes.length} bytes, the index says ${e.bytes}`);
  const crc = crc32(bytes);
  if (crc !== e.crc32) throw new FormatError(`${prefix} is corrupt (checksum ${hex(crc)}, the index says ${hex(e.crc32)})`);
  return withContext(source, `tensor '${e.name}'`, 'the record', () => {
    const d = decodeFirst(bytes);
    if (d === null) throw new FormatError(`the record runs past its ${e.bytes} bytes`);
    if (d.end !== bytes.length) throw new FormatError(`the record ends after ${d.end} of its ${e.bytes} bytes`);
    const w = d.value as Record<string, unknown> | null;
    if (isMap(w)) {
      if (w.name !== e.name) throw new FormatError(`the record is named ${fmt(w.name)}`);
      if (w.kind !== e.kind) throw new FormatError(`the record has kind ${fmt(w.kind)}, the index says '${e.kind}'`);
      if (!sameShape(w.shape, e.shape)) throw new FormatError(`the record has shape ${fmt(w.shape)}, the index says ${fmt(e.shape)}`);
    }
    return decodeRecordFields(w);
  });
}

function sameShape(a: unknown, b: readonly number[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------------
// Whole files in memory.

/** A whole .sqz file in memory (tests, browsers). Records are validated as the writer does. */
export function encodeSqz(meta: SqzMeta, records: Iterable<TensorRecord>): Uint8Array {
  validateMeta(meta, '.sqz header');
  const entries: SqzIndexEntry[] = [];
  const body: Uint8Array[] = [];
  const names = new Set<string>();
  for (const r of records) {
    const enc = encodeRecord(r);
    if (names.has(r.name)) throw new FormatError(`tensor '${r.name}' is added twice`);
    names.add(r.name);
    entries.push(enc.entry);
    // Copied now: the chunks are views of the record's arrays, which the caller may reuse.
    body.push(concatChunks(enc.chunks, enc.entry.bytes));
  }
  return concatChunks([encodeHeader(meta, entries), ...body]);
}
