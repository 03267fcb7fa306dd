// GGUF header parsing: magic, version, metadata key/values and tensor infos, checked against the
// file size. The tensor data is not read here (tools/checkpoint/gguf.ts reads one tensor at a time).
// Every problem is a FormatError (malformed, truncated) or UnsupportedError (a version we do not
// read) naming the file and what is wrong.
import type { FileHandle } from 'node:fs/promises';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgufArray, type GgufValue, VALUE_TYPE_BYTES, VALUE_TYPE_NAMES, VT } from './spec.ts';

export interface GgufTensorInfo {
  name: string;
  /** ggml dims, innermost first: [cols, rows] for a matrix. */
  ne: number[];
  /** ggml type id. */
  type: number;
  /** Offset relative to the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

/** Most dims a ggml tensor has (GGML_MAX_DIMS). */
const MAX_DIMS = 4;
/** Nesting limit for array values (real files nest at most once). */
const MAX_ARRAY_DEPTH = 8;

/** Thrown inside the parser when the bytes read so far end before the header does. */
class NeedMore {
  constructor(readonly need: number) {}
}

class Cursor {
  pos = 0;
  private readonly dv: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly source: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Makes sure n more bytes are there: past the file's end it is a FormatError, past the buffer a NeedMore. */
  ensure(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw new FormatError(`${this.source}: truncated: ${what} needs ${n} bytes at offset ${this.pos}, the file has ${this.fileSize}`);
    }
    if (end > this.bytes.length) throw new NeedMore(end);
  }

  u8(what: string): number {
    this.ensure(1, what);
    return this.bytes[this.pos++];
  }
  u32(what: string): number {
    this.ensure(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): bigint {
    this.ensure(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  size(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.source}: ${what} is ${v}, which is implausible`);
    return Number(v);
  }
  string(what: string): string {
    const len = this.size(`${what} length`);
    if (this.pos + len > this.fileSize) {
      throw new FormatError(`${this.source}: truncated: ${what} is ${len} bytes at offset ${this.pos}, the file has ${this.fileSize}`);
    }
    this.ensure(len, what);
    const s = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return this.utf8.decode(s);
    } catch {
      throw new FormatError(`${this.source}: ${what} is not valid UTF-8`);
    }
  }

  /** One value of type t (arrays recurse). */
  value(t: number, what: string, depth = 0): GgufValue {
    const fixed = VALUE_TYPE_BYTES[t];
    if (fixed !== undefined) {
      this.ensure(fixed, what);
      const p = this.pos;
      this.pos += fixed;
      switch (t) {
        case VT.U8: return this.dv.getUint8(p);
        case VT.I8: return this.dv.getInt8(p);
        case VT.U16: return this.dv.getUint16(p, true);
        case VT.I16: return this.dv.getInt16(p, true);
        case VT.U32: return this.dv.getUint32(p, true);
        case VT.I32: return this.dv.getInt32(p, true);
        case VT.F32: return this.dv.getFloat32(p, true);
        case VT.BOOL: {
          const b = this.dv.getUint8(p);
          if (b > 1) throw new FormatError(`${this.source}: ${what} is a bool with byte value ${b}`);
          return b === 1;
        }
        case VT.U64: return this.dv.getBigUint64(p, true);
        case VT.I64: return this.dv.getBigInt64(p, true);
        case VT.F64: return this.dv.getFloat64(p, true);
      }
    }
    if (t === VT.STRING) return this.string(what);
    if (t === VT.ARRAY) return this.array(what, depth);
    throw new FormatError(`${this.source}: ${what} has unknown value type ${t} (known: 0..12, ${VALUE_TYPE_NAMES.join(', ')})`);
  }

  private array(what: string, depth: number): GgufArray {
    if (depth >= MAX_ARRAY_DEPTH) throw new FormatError(`${this.source}: ${what} nests arrays more than ${MAX_ARRAY_DEPTH} deep`);
    const et = this.u32(`${what} element type`);
    const n = this.size(`${what} element count`);
    const fixed = VALUE_TYPE_BYTES[et];
    // every element takes at least one byte (strings: 8), so the count is bounded by the file size
    const least = fixed ?? 8;
    if (this.pos + n * least > this.fileSize) {
      throw new FormatError(`${this.source}: truncated: ${what} has ${n} elements of type ${VALUE_TYPE_NAMES[et] ?? et} at offset ${this.pos}, the file has ${this.fileSize} bytes`);
    }
    if (fixed !== undefined && et !== VT.BOOL) {
      this.ensure(n * fixed, what);
      const raw = this.bytes.slice(this.pos, this.pos + n * fixed);
      this.pos += n * fixed;
      const buf = raw.buffer;
      const values =
        et === VT.U8 ? new Uint8Array(buf)
        : et === VT.I8 ? new Int8Array(buf)
        : et === VT.U16 ? new Uint16Array(buf)
        : et === VT.I16 ? new Int16Array(buf)
        : et === VT.U32 ? new Uint32Array(buf)
        : et === VT.I32 ? new Int32Array(buf)
        : et === VT.F32 ? new Float32Array(buf)
        : et === VT.U64 ? new BigUint64Array(buf)
        : et === VT.I64 ? new BigInt64Array(buf)
        : new Float64Array(buf);
      return { type: et, values };
    }
    if (et === VT.BOOL) {
      const values: boolean[] = [];
      for (let i = 0; i < n; i++) values.push(this.value(VT.BOOL, `${what}[${i}]`) as boolean);
      return { type: et, values };
    }
    if (et === VT.STRING) {
      const values: string[] = [];
      for (let i = 0; i < n; i++) values.push(this.string(`${what}[${i}]`));
      return { type: et, values };
    }
    if (et === VT.ARRAY) {
      const values: GgufArray[] = [];
      for (let i = 0; i < n; i++) values.push(this.array(`${what}[${i}]`, depth + 1));
      return { type: et, values };
    }
    throw new FormatError(`${this.source}: ${what} has unknown element type ${et}`);
  }
}

/**
 * Parses a GGUF header from its first bytes. Returns { need } when `bytes` (a prefix of a file of
 * `fileSize` bytes) ends before the header does.
 */
export function parseGgufHeader(bytes: Uint8Array, fileSize: number, source: string): GgufHeader | { need: number } {
  const c = new Cursor(bytes, fileSize, source);
  try {
    if (fileSize < 4) throw new FormatError(`${source}: ${fileSize} bytes is too short for a GGUF file`);
    c.ensure(4, 'the magic');
    const magic = c.u32('the magic');
    if (magic !== GGUF_MAGIC) {
      const ascii = String.fromCharCode(...bytes.subarray(0, 4)).replace(/[^\x20-\x7e]/g, '.');
      throw new FormatError(`${source}: not a GGUF file (starts with '${ascii}', expected 'GGUF')`);
    }
    const version = c.u32('the version');
    if (version !== 2 && version !== 3) {
      throw new UnsupportedError(`${source}: GGUF version ${version} is not supported (versions 2 and 3 are)${version > 0xffff ? '; a big-endian file?' : ''}`);
    }
    const nTensors = c.size('tensor count');
    const nKv = c.size('metadata count');
    // a tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, a key/value 8 + 4 + 1
    if (c.pos + nTensors * 32 + nKv * 13 > fileSize) {
      throw new FormatError(`${source}: truncated: ${nTensors} tensors and ${nKv} metadata entries do not fit in ${fileSize} bytes`);
    }
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`);
      if (metadata.has(key)) throw new FormatError(`${source}: metadata key '${key}' appears twice`);
      const t = c.u32(`metadata '${key}' type`);
      metadata.set(key, c.value(t, `metadata '${key}'`));
    }
    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const a = metadata.get('general.alignment');
    if (a !== undefined) {
      if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
        throw new FormatError(`${source}: general.alignment ${String(a)} is not a power of two`);
      }
      alignment = a;
    }
    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`tensor ${i} name`);
      if (names.has(name)) throw new FormatError(`${source}: tensor '${name}' appears twice`);
      names.add(name);
      const nd = c.u32(`tensor '${name}' n_dims`);
      if (nd < 1 || nd > MAX_DIMS) throw new FormatError(`${source}: tensor '${name}' has ${nd} dims (1..${MAX_DIMS} allowed)`);
      const ne: number[] = [];
      for (let d = 0; d < nd; d++) {
        const v = c.size(`tensor '${name}' ne[${d}]`);
        if (v < 1) throw new FormatError(`${source}: tensor '${name}' has dimension ne[${d}] = ${v}`);
        ne.push(v);
      }
      if (!Number.isSafeInteger(ne.reduce((x, y) => x * y, 1))) throw new FormatError(`${source}: tensor '${name}' has too many elements`);
      const type = c.u32(`tensor '${name}' type`);
      const offset = c.size(`tensor '${name}' offset`);
      if (offset % alignment) throw new FormatError(`${source}: tensor '${name}' offset ${offset} is not a multiple of the alignment ${alignment}`);
      tensors.push({ name, ne, type, offset });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    return { version, metadata, tensors, alignment, dataOffset };
  } catch (e) {
    if (e instanceof NeedMore) return { need: e.need };
    throw e;
  }
}

const FIRST_READ = 1 << 20;

/** Reads and parses the header of an open GGUF file of `fileSize` bytes (reading more as needed). */
export async function readGgufHeader(fh: FileHandle, fileSize: number, source: string): Promise<GgufHeader> {
  let want = Math.min(fileSize, FIRST_READ);
  for (;;) {
    const buf = new Uint8Array(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, got);
      if (bytesRead === 0) throw new FormatError(`${source}: the file shrank while its header was read`);
      got += bytesRead;
    }
    const parsed = parseGgufHeader(buf, fileSize, source);
    if (!('need' in parsed)) return parsed;
    want = Math.min(fileSize, Math.max(parsed.need, want * 2));
  }
}
