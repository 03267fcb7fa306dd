// msgpack plumbing of the .sqz format: the msgpackr settings, a small encoder that writes a tensor
// record as a list of byte chunks (its payloads are referenced, not copied), a decoder wrapper that
// reads exactly one value, and little-endian conversions of typed arrays. Portable (no node:*).
import { Packr, Unpackr } from 'msgpackr';

/**
 * Plain maps in, plain objects out: no msgpackr records/structures, no typed-array extensions
 * (a typed array is written as msgpack bin of its bytes, which we always hand over little-endian),
 * maps sized to fit (fixmap when small).
 */
const OPTIONS = { useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false, variableMapSize: true } as const;

export const packr = new Packr(OPTIONS);
export const unpackr = new Unpackr(OPTIONS);

/** msgpack-encodes a plain value (header and meta maps) into a fresh Uint8Array of its own. */
export function packValue(value: unknown): Uint8Array {
  // msgpackr returns a view into a buffer it shares between calls: copy it out.
  return new Uint8Array(packr.pack(value));
}

export interface Decoded {
  value: unknown;
  /** Offset just past the value. */
  end: number;
}

/**
 * Decodes the first msgpack value of `bytes`. Returns null when `bytes` ends inside that value
 * (more bytes are needed); any other decoder failure is thrown as it comes (callers wrap it).
 * Bins come back as views into `bytes`.
 */
export function decodeFirst(bytes: Uint8Array): Decoded | null {
  if (bytes.length === 0) return null;
  let out: Decoded | null = null;
  try {
    unpackr.unpackMultiple(bytes, (value: unknown, _start?: number, end?: number) => {
      out = { value, end: end ?? bytes.length };
      return false;
    });
  } catch (e) {
    if (e && typeof e === 'object' && (e as { incomplete?: boolean }).incomplete) return null;
    throw e;
  }
  if (out === null) throw new Error('msgpack decoder returned no value');
  return out;
}

/**
 * Where the msgpack value starting at `pos` ends, found from the framing alone (nothing decoded).
 * A result beyond `bytes.length` means the value does not end within `bytes`: it is then the least
 * length the bytes must have (exact when the cut falls inside a string/bin/ext of known length).
 * Throws on a byte msgpack never uses (0xc1).
 *
 * The reader finds the header's end with this and then decodes exactly those bytes: msgpackr's
 * native string extraction reads ahead to the end of the buffer it is given, so decoding the header
 * from a longer buffer fails if a later record is cut short inside a string.
 */
export function msgpackValueEnd(bytes: Uint8Array, pos = 0): number {
  const n = bytes.length;
  const be = (at: number, len: number): number => {
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + bytes[at + i];
    return v;
  };
  let pending = 1;
  while (pending > 0) {
    if (pos >= n) return n + 1;
    const t = bytes[pos];
    pending--;
    let head = 1;
    let len = 0;
    let lenBytes = 0;
    let items = 0;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) head = 1;
    else if (t <= 0x8f) items = 2 * (t & 0x0f);
    else if (t <= 0x9f) items = t & 0x0f;
    else if (t <= 0xbf) len = t & 0x1f;
    else if (t === 0xc1) throw new Error(`byte 0xc1 at offset ${pos} is not msgpack`);
    else if (t >= 0xc4 && t <= 0xc6) lenBytes = 1 << (t - 0xc4); // bin 8/16/32
    else if (t >= 0xc7 && t <= 0xc9) {
      lenBytes = 1 << (t - 0xc7); // ext 8/16/32: length, then a type byte
      head = 2;
    } else if (t >= 0xca && t <= 0xd3) head = 1 + [4, 8, 1, 2, 4, 8, 1, 2, 4, 8][t - 0xca];
    else if (t >= 0xd4 && t <= 0xd8) head = 2 + (1 << (t - 0xd4)); // fixext 1/2/4/8/16
    else if (t >= 0xd9 && t <= 0xdb) lenBytes = 1 << (t - 0xd9); // str 8/16/32
    else if (t === 0xdc || t === 0xdd || t === 0xde || t === 0xdf) {
      const w = t === 0xdc || t === 0xde ? 2 : 4;
      if (pos + 1 + w > n) return n + 1;
      items = be(pos + 1, w) * (t >= 0xde ? 2 : 1);
      head = 1 + w;
    }
    if (lenBytes) {
      if (pos + 1 + lenBytes > n) return n + 1;
      len = be(pos + 1, lenBytes);
      head += lenBytes;
    }
    pending += items;
    pos += head + len;
  }
  return pos;
}

// ---------------------------------------------------------------------------------------------
// Chunked encoder for tensor records.

/** Values the record encoder accepts. `undefined` map entries are left out. */
export type WireValue = null | boolean | number | string | Uint8Array | WireValue[] | { [key: string]: WireValue | undefined };

/** A bin at least this long is referenced as its own chunk instead of copied. */
const ZERO_COPY_MIN = 256;

/**
 * Encodes `value` as msgpack bytes split into chunks: the framing in small copied pieces, every
 * large Uint8Array as a chunk of its own (the same memory, not a copy). The bytes are those msgpackr
 * writes with the settings above for the same value (the tests compare them).
 */
export function encodeChunks(value: WireValue): { chunks: Uint8Array[]; length: number } {
  const enc = new ChunkEncoder();
  enc.value(value);
  return enc.done();
}

const textEncoder = new TextEncoder();

class ChunkEncoder {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(512);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private length = 0;

  done(): { chunks: Uint8Array[]; length: number } {
    this.flush();
    return { chunks: this.chunks, length: this.length };
  }

  private flush(): void {
    if (this.pos > 0) {
      this.chunks.push(this.buf.slice(0, this.pos));
      this.length += this.pos;
      this.pos = 0;
    }
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  private u16(tag: number, v: number): void {
    this.room(3);
    this.buf[this.pos] = tag;
    this.view.setUint16(this.pos + 1, v);
    this.pos += 3;
  }

  private u32(tag: number, v: number): void {
    this.room(5);
    this.buf[this.pos] = tag;
    this.view.setUint32(this.pos + 1, v);
    this.pos += 5;
  }

  value(v: WireValue): void {
    if (v === null) return this.byte(0xc0);
    if (v === true) return this.byte(0xc3);
    if (v === false) return this.byte(0xc2);
    if (typeof v === 'number') return this.number(v);
    if (typeof v === 'string') return this.string(v);
    if (v instanceof Uint8Array) return this.bin(v);
    if (Array.isArray(v)) {
      this.header(v.length, 0x90, 15, 0xdc, 0xdd);
      for (const x of v) this.value(x);
      return;
    }
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined) as [string, WireValue][];
      this.header(entries.length, 0x80, 15, 0xde, 0xdf);
      for (const [k, x] of entries) {
        this.string(k);
        this.value(x);
      }
      return;
    }
    throw new TypeError(`cannot encode a ${Object.prototype.toString.call(v)} in a .sqz record`);
  }

  private header(n: number, fix: number, fixMax: number, t16: number, t32: number): void {
    if (n <= fixMax) this.byte(fix | n);
    else if (n < 0x10000) this.u16(t16, n);
    else this.u32(t32, n);
  }

  private number(v: number): void {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      if (v < 0x80) return this.byte(v);
      if (v < 0x100) {
        this.byte(0xcc);
        return this.byte(v);
      }
      if (v < 0x10000) return this.u16(0xcd, v);
      return this.u32(0xce, v);
    }
    if (Number.isInteger(v) && v < 0 && v >= -0x80000000) {
      if (v >= -0x20) return this.byte(v & 0xff);
      this.room(5);
      if (v >= -0x80) {
        this.buf[this.pos] = 0xd0;
        this.view.setInt8(this.pos + 1, v);
        this.pos += 2;
      } else if (v >= -0x8000) {
        this.buf[this.pos] = 0xd1;
        this.view.setInt16(this.pos + 1, v);
        this.pos += 3;
      } else {
        this.buf[this.pos] = 0xd2;
        this.view.setInt32(this.pos + 1, v);
        this.pos += 5;
      }
      return;
    }
    // Like msgpackr: everything else (fractions, integers beyond 32 bits) as float64.
    this.room(9);
    this.buf[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  private string(s: string): void {
    const b = textEncoder.encode(s);
    if (b.length < 32) this.byte(0xa0 | b.length);
    else if (b.length < 0x100) {
      this.byte(0xd9);
      this.byte(b.length);
    } else if (b.length < 0x10000) this.u16(0xda, b.length);
    else this.u32(0xdb, b.length);
    this.raw(b, false);
  }

  private bin(b: Uint8Array): void {
    if (b.length < 0x100) {
      this.byte(0xc4);
      this.byte(b.length);
    } else if (b.length < 0x10000) this.u16(0xc5, b.length);
    else if (b.length <= 0xffffffff) this.u32(0xc6, b.length);
    else throw new RangeError(`a binary field of ${b.length} bytes exceeds msgpack's 4 GiB limit`);
    this.raw(b, b.length >= ZERO_COPY_MIN);
  }

  private raw(b: Uint8Array, reference: boolean): void {
    if (reference) {
      this.flush();
      this.chunks.push(b);
      this.length += b.length;
      return;
    }
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Concatenates chunks into one new Uint8Array. */
export function concatChunks(chunks: readonly Uint8Array[], length = chunks.reduce((s, c) => s + c.length, 0)): Uint8Array {
  const out = new Uint8Array(length);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Little-endian payloads.

/** True on little-endian hosts (every platform Node and browsers run on in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type NumericArray = Uint8Array | Uint16Array | Int32Array | Float32Array;

/** The little-endian bytes of a typed array: a view of the same memory on a little-endian host. */
export function leBytes(a: NumericArray): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (HOST_LITTLE_ENDIAN || a.BYTES_PER_ELEMENT === 1) return view;
  return swapped(view.slice(), a.BYTES_PER_ELEMENT);
}

interface TypedCtor<T> {
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** A new, aligned typed array holding the little-endian elements in `bytes` (length a multiple of the element size). */
export function fromLeBytes<T extends NumericArray>(bytes: Uint8Array, Ctor: TypedCtor<T>): T {
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.length % size) throw new RangeError(`${bytes.length} bytes is not a whole number of ${size}-byte elements`);
  if (HOST_LITTLE_ENDIAN && bytes.length >= MIN_IN_PLACE && OWNED.has(bytes.buffer)) return inPlace(bytes, Ctor);
  const out = new Ctor(bytes.length / size);
  const u8 = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  u8.set(bytes);
  if (!HOST_LITTLE_ENDIAN && size > 1) swapped(u8, size);
  return out;
}

function swapped(u8: Uint8Array, size: number): Uint8Array {
  for (let i = 0; i < u8.length; i += size) u8.subarray(i, i + size).reverse();
  return u8;
}

/** Buffers a reader read one record into and hands over (ownRecordBuffer): their bins may be viewed in place. */
const OWNED = new WeakSet<ArrayBufferLike>();
/** A bin this long has a header of at least 3 bytes (bin16/bin32), room to move its payload down onto to align it. */
const MIN_IN_PLACE = 256;

/**
 * Marks `bytes` (a fresh buffer holding one record, used for nothing else) as the record's own: its
 * large bins then become typed arrays over it instead of copies, one copy fewer per load (peak RSS).
 */
export function ownRecordBuffer(bytes: Uint8Array): void {
  OWNED.add(bytes.buffer);
}

/** A bin of an owned buffer as a typed array over the same memory: moved down by up to size - 1 bytes onto its own (already decoded) msgpack header when unaligned. */
function inPlace<T extends NumericArray>(bytes: Uint8Array, Ctor: TypedCtor<T>): T {
  const shift = bytes.byteOffset % Ctor.BYTES_PER_ELEMENT;
  const at = bytes.byteOffset - shift;
  if (shift) new Uint8Array(bytes.buffer, at, bytes.length + shift).copyWithin(0, shift);
  // every NumericArray constructor also takes (buffer, byteOffset, length)
  const View = Ctor as unknown as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T;
  return new View(bytes.buffer, at, bytes.length / Ctor.BYTES_PER_ELEMENT);
}
