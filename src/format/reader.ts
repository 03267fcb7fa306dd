// Streaming, verifying .sqz reader. Opening reads only the header (and checks it, the index and the
// file size); each tensor is then read on demand, exactly its bytes at its offset, and checked
// (checksum, framing, name/kind/shape, payload sizes) before it is returned. Host memory holds one
// tensor at a time. Every problem is a FormatError naming the file and, where there is one, the tensor.
//
// SqzReader.fromBytes works on a file already in memory and uses nothing from node:*, so this module
// runs in browsers; SqzReader.open loads node:fs lazily.
import { FormatError } from '../util/errors.ts';
import type { TensorRecord } from './kinds.ts';
import { contextError, decodeRecord, type LocatedEntry, MAX_HEADER_BYTES, parseHeader, type SqzHeader } from './sqz.ts';

/** Random-access bytes: a file or a buffer. */
interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (fewer only if the source shrank). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

const FIRST_READ = 64 * 1024;

export class SqzReader {
  /** Config, tokenizer, quant summary and tensor index, checked. */
  readonly header: SqzHeader;
  /** The index with each record's offset, in file order. */
  readonly entries: readonly LocatedEntry[];
  /** Bytes of the header value (offset of the first tensor). */
  readonly headerBytes: number;
  /** Total file size in bytes. */
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
    this.fileBytes = src.size;
    this.byName = new Map(parsed.entries.map((e) => [e.name, e]));
  }

  /** Opens a .sqz file and checks its header, index and size. */
  static async open(path: string): Promise<SqzReader> {
    const src = await fileSource(path);
    try {
      return await SqzReader.start(src, path);
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  /** A reader over a whole .sqz file in memory (same checks as open). The bytes are not copied. */
  static fromBytes(bytes: Uint8Array, source = '<bytes>'): SqzReader {
    const parsed = parseHeader(bytes, bytes.length, source);
    if ('need' in parsed) throw new FormatError(`${source}: truncated inside the header`);
    return new SqzReader(bytesSource(bytes), source, parsed);
  }

  private static async start(src: ByteSource, source: string): Promise<SqzReader> {
    let want = Math.min(src.size, FIRST_READ);
    for (;;) {
      const head = await src.read(0, want);
      if (head.length < want) throw new FormatError(`${source}: the file shrank while its header was read`);
      const parsed = parseHeader(head, src.size, source);
      if (!('need' in parsed)) return new SqzReader(src, source, parsed);
      // exact when the cut fell inside the meta bin (the usual case), else grow
      want = parsed.need > head.length + 1 ? parsed.need : Math.min(src.size, MAX_HEADER_BYTES, want * 4);
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
    return decodeRecord(await this.readBytes(e), e, this.source);
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
    for (const e of this.entries) yield decodeRecord(await this.readBytes(e), e, this.source);
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
      bytes = await this.src.read(e.offset, e.bytes);
    } catch (err) {
      throw contextError(err, this.source, `tensor '${e.name}'`, 'reading');
    }
    if (bytes.length !== e.bytes) {
      throw new FormatError(`${this.source}: tensor '${e.name}': the file ends ${e.bytes - bytes.length} bytes early (it changed after it was opened?)`);
    }
    return bytes;
  }
}

function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    close: async () => {},
  };
}

async function fileSource(path: string): Promise<ByteSource> {
  const fs = await import('node:fs/promises');
  let fh: Awaited<ReturnType<typeof fs.open>>;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code;
    const err = new FormatError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot open (${(e as Error).message})`);
    err.cause = e;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FormatError(`${path}: not a regular file`);
    return {
      size: st.size,
      async read(offset, length) {
        const out = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(out, got, length - got, offset + got);
          if (bytesRead === 0) return out.subarray(0, got);
          got += bytesRead;
        }
        return out;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
