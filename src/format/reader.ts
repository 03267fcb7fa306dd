// Streaming, verifying .sqz reader. Opening reads only the header (and checks it, the index and the
// file size); each tensor is then read on demand, exactly its bytes at its offset, and checked
// (checksum, framing, name/kind/shape, payload sizes) before it is returned. Host memory holds one
// tensor at a time. Every problem is a FormatError naming the file and, where there is one, the tensor.
//
// The bytes come from a ByteSource (source.ts: a file, memory, a URL, a stream), read in bounded
// chunks and always forward while opening, so a source read once front to back (a stream) serves
// the header and then records() in file order. This module uses nothing from node:* itself, so it
// runs in browsers; SqzReader.open loads node:fs lazily.
import { FormatError } from '../util/errors.ts';
import type { TensorRecord } from './kinds.ts';
import { type ByteSource, bytesSource, fileSource, readRange } from './source.ts';
import { ownRecordBuffer } from './wire.ts';
import { contextError, decodeRecord, type LocatedEntry, MAX_HEADER_BYTES, parseHeader, type SqzHeader } from './sqz.ts';

const FIRST_READ = 64 * 1024;

export class SqzReader {
  /** Config, tokenizer, quant summary and tensor index, checked. */
  readonly header: SqzHeader;
  /** The index with each record's offset, in file order. */
  readonly entries: readonly LocatedEntry[];
  /** Bytes of the header value (offset of the first tensor). */
  readonly headerBytes: number;
  /** Total file size in bytes (for a stream without a length: what the index says it is). */
  readonly fileBytes: number;
  /** The path (or '<bytes>') used in error messages. */
  readonly source: string;
  private readonly byName: Map<string, LocatedEntry>;
  private src: ByteSource | null;

  private constructor(src: ByteSource, source: string, parsed: { header: SqzHeader; headerBytes: number; entries: LocatedEntry[] }) {
    this.src = src;
    this.source = source;
    this.header = parsed.header;
    this.headerBytes = parsed.headerBytes;
    this.entries = parsed.entries;
    const last = parsed.entries[parsed.entries.length - 1];
    this.fileBytes = src.size ?? (last ? last.offset + last.bytes : parsed.headerBytes);
    this.byName = new Map(parsed.entries.map((e) => [e.name, e]));
  }

  /** Opens a .sqz file and checks its header, index and size. */
  static async open(path: string): Promise<SqzReader> {
    return SqzReader.fromSource(await fileSource(path));
  }

  /** Opens a .sqz from any byte source (closed here if the header is bad; else by close()). */
  static async fromSource(src: ByteSource): Promise<SqzReader> {
    try {
      return await SqzReader.start(src, src.name);
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  /** A reader over a whole .sqz file in memory (same checks as open). The bytes are not copied. */
  static fromBytes(bytes: Uint8Array, source = '<bytes>'): SqzReader {
    const parsed = parseHeader(bytes, bytes.length, source);
    if ('need' in parsed) throw new FormatError(`${source}: truncated inside the header`);
    return new SqzReader(bytesSource(bytes, source), source, parsed);
  }

  private static async start(src: ByteSource, source: string): Promise<SqzReader> {
    let head = await readRange(src, 0, Math.min(src.size ?? Infinity, FIRST_READ));
    // a stream without a length has told its size once a read comes back short
    let size = src.size ?? (head.length < FIRST_READ ? head.length : null);
    for (;;) {
      const parsed = parseHeader(head, size, source);
      // a forward-only source cannot give back what the header read took past the header's end
      if (!('need' in parsed)) return new SqzReader(src.seekable ? src : replaying(head, src), source, parsed);
      // exact when the cut fell inside the meta bin (the usual case), else grow; only the missing
      // part is read, so the reads stay forward
      const want = parsed.need > head.length + 1 ? parsed.need : Math.min(size ?? Infinity, MAX_HEADER_BYTES, head.length * 4);
      const more = await readRange(src, head.length, want - head.length);
      if (more.length < want - head.length) {
        if (src.size !== undefined) throw new FormatError(`${source}: the file shrank while its header was read`);
        size = head.length + more.length;
      }
      const grown = new Uint8Array(head.length + more.length);
      grown.set(head);
      grown.set(more, head.length);
      head = grown;
    }
  }

  /** Tensor names in file order. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The index entry of a tensor (with its offset); FormatError when the file has no such tensor. */
  entry(name: string): LocatedEntry {
    const e = this.byName.get(name);
    if (!e) throw new FormatError(`${this.source}: no tensor named '${name}' in the file`);
    return e;
  }

  /** Reads, checks and decodes one tensor. */
  async get(name: string): Promise<TensorRecord> {
    const e = this.entry(name);
    return decodeRecord(this.owned(await this.readBytes(e)), e, this.source);
  }

  /**
   * The raw msgpack bytes of one tensor record, length-checked but NOT checksummed or decoded
   * (for callers that verify and decode themselves, e.g. straight into WASM memory).
   */
  async rawBytes(name: string): Promise<Uint8Array> {
    return this.readBytes(this.entry(name));
  }

  /** Every tensor in file order, each read, checked and decoded as it is reached. */
  async *records(): AsyncGenerator<TensorRecord> {
    for (const e of this.entries) yield decodeRecord(this.owned(await this.readBytes(e)), e, this.source);
    // a stream of unknown length was not size-checked at open: nothing may follow the last record
    if (this.src && this.src.size === undefined && (await this.src.read(this.fileBytes, new Uint8Array(1))) > 0) {
      throw new FormatError(`${this.source}: unexpected bytes after the last tensor (the index says the file is ${this.fileBytes} bytes)`);
    }
  }

  /** Bytes read into a buffer of their own (not a view of bytes in memory) are handed to the record they decode to, which may keep them. */
  private owned(bytes: Uint8Array): Uint8Array {
    if (!this.src?.view) ownRecordBuffer(bytes);
    return bytes;
  }

  async close(): Promise<void> {
    const src = this.src;
    this.src = null;
    if (src) await src.close();
  }

  private async readBytes(e: LocatedEntry): Promise<Uint8Array> {
    if (!this.src) throw new Error(`${this.source}: the reader is closed`);
    let bytes: Uint8Array;
    try {
      bytes = await readRange(this.src, e.offset, e.bytes);
    } catch (err) {
      throw contextError(err, this.source, `tensor '${e.name}'`, 'reading');
    }
    if (bytes.length !== e.bytes) {
      throw new FormatError(`${this.source}: tensor '${e.name}': the file ends ${e.bytes - bytes.length} bytes early (it changed after it was opened?)`);
    }
    return bytes;
  }
}

/** `src` (read forward once, up to `head.length` already) with `head` served again from memory until reads pass it. */
function replaying(head: Uint8Array, src: ByteSource): ByteSource {
  let kept: Uint8Array | null = head;
  return {
    name: src.name,
    size: src.size,
    seekable: false,
    async read(offset, into) {
      if (kept && offset >= kept.length) kept = null;
      if (!kept) return src.read(offset, into);
      const part = kept.subarray(offset, offset + into.length);
      into.set(part);
      return part.length === into.length ? part.length : part.length + (await src.read(kept.length, into.subarray(part.length)));
    },
    close: () => src.close(),
  };
}
