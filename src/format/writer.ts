// Streaming .sqz writer. Records are validated, encoded and appended one at a time to a temporary
// body file beside the destination (host memory holds one tensor); finish() writes the header (whose
// index needs every record's length and checksum) and the body into `path.<pid>.tmp`, syncs it and
// renames it over `path`. Until that rename nothing exists under the final name, and any failure
// (or abort()) removes the temporary files: a pre-existing file at `path` is left as it was.
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { FormatError, SqzError } from '../util/errors.ts';
import type { TensorRecord } from './kinds.ts';
import { checkOutputFile, tempPath, trackTemp, untrackTemp } from './outpath.ts';
import { encodeHeader, encodeRecord, type SqzIndexEntry, type SqzMeta, validateMeta } from './sqz.ts';

export { encodeSqz } from './sqz.ts';

export interface SqzWriteResult {
  path: string;
  /** Size of the file written. */
  bytes: number;
  headerBytes: number;
  tensors: number;
}

type State = 'open' | 'finished' | 'aborted' | 'failed';

const COPY_CHUNK = 4 * 1024 * 1024;

export class SqzWriter {
  readonly path: string;
  private meta: SqzMeta;
  private readonly bodyPath: string;
  private readonly tmpPath: string;
  private body: FileHandle | null;
  private bodyBytes = 0;
  private readonly entries: SqzIndexEntry[] = [];
  private readonly names = new Set<string>();
  private state: State = 'open';
  private failure: unknown = null;
  /** Operations run one after another in call order. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, meta: SqzMeta, body: FileHandle, bodyPath: string, tmpPath: string) {
    this.path = path;
    this.meta = meta;
    this.body = body;
    this.bodyPath = bodyPath;
    this.tmpPath = tmpPath;
  }

  /** Starts a file at `path` (nothing appears under that name until finish()). Checks the meta first. */
  static async create(path: string, meta: SqzMeta): Promise<SqzWriter> {
    validateMeta(meta, path);
    checkOutputFile(path);
    const bodyPath = tempPath(path, 'body.tmp');
    const tmpPath = tempPath(path);
    trackTemp(bodyPath);
    trackTemp(tmpPath);
    let body: FileHandle;
    try {
      body = await open(bodyPath, 'w+');
    } catch (e) {
      untrackTemp(bodyPath);
      untrackTemp(tmpPath);
      throw writeError(path, e);
    }
    return new SqzWriter(path, { config: meta.config, tokenizer: meta.tokenizer, quant: meta.quant }, body, bodyPath, tmpPath);
  }

  /** Replaces the quantization summary; for figures known only once every tensor is added (bits per weight). */
  setQuant(quant: SqzMeta['quant']): void {
    if (this.state !== 'open') throw new FormatError(`${this.path}: setQuant() after the writer was ${this.state}`);
    const meta = { ...this.meta, quant };
    validateMeta(meta, this.path);
    this.meta = meta;
  }

  /** Tensors added so far (their index entries, in order). */
  get tensors(): readonly SqzIndexEntry[] {
    return this.entries;
  }

  /**
   * Validates, encodes and appends one tensor. Records go to the file in the order add() is called;
   * the record's arrays must stay unchanged until the returned promise settles. A record that fails
   * validation (FormatError naming the tensor) or a write error aborts the writer.
   */
  add(record: TensorRecord): Promise<void> {
    return this.run('add', async () => {
      const enc = encodeRecord(record);
      if (this.names.has(enc.entry.name)) throw new FormatError(`${this.path}: tensor '${enc.entry.name}' is added twice`);
      for (const chunk of enc.chunks) await writeAll(this.body!, chunk);
      this.names.add(enc.entry.name);
      this.entries.push(enc.entry);
      this.bodyBytes += enc.entry.bytes;
    });
  }

  /** Writes the header and the body under the final name. */
  finish(): Promise<SqzWriteResult> {
    return this.run('finish', async () => {
      const header = encodeHeader(this.meta, this.entries);
      const body = this.body!;
      const out = await open(this.tmpPath, 'w');
      try {
        await writeAll(out, header);
        const buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(1, this.bodyBytes)));
        for (let pos = 0; pos < this.bodyBytes; ) {
          const { bytesRead } = await body.read(buf, 0, Math.min(buf.length, this.bodyBytes - pos), pos);
          if (bytesRead === 0) throw new Error(`${this.bodyPath}: temporary body file ends at ${pos} of ${this.bodyBytes} bytes`);
          await writeAll(out, buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        await out.sync();
      } finally {
        await out.close();
      }
      const total = header.length + this.bodyBytes;
      this.body = null;
      await body.close();
      await rename(this.tmpPath, this.path);
      this.state = 'finished';
      untrackTemp(this.tmpPath);
      await rm(this.bodyPath, { force: true }).catch(() => {});
      untrackTemp(this.bodyPath);
      return { path: this.path, bytes: total, headerBytes: header.length, tensors: this.entries.length };
    });
  }

  /** Drops everything written so far (temporary files removed). Safe to call more than once, and after a failure. */
  async abort(): Promise<void> {
    await this.queue.catch(() => {});
    if (this.state === 'finished') return;
    if (this.state === 'open') this.state = 'aborted';
    await this.cleanup();
  }

  private run<T>(op: string, f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      if (this.state !== 'open') {
        const why = this.state === 'failed' ? `failed earlier: ${(this.failure as Error)?.message ?? this.failure}` : `is ${this.state}`;
        throw new Error(`${this.path}: cannot ${op}: the writer ${why}`);
      }
      try {
        return await f();
      } catch (e) {
        this.state = 'failed';
        this.failure = e;
        await this.cleanup();
        throw writeError(this.path, e);
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }

  private async cleanup(): Promise<void> {
    const body = this.body;
    this.body = null;
    if (body) await body.close().catch(() => {});
    await rm(this.bodyPath, { force: true });
    await rm(this.tmpPath, { force: true });
    untrackTemp(this.bodyPath);
    untrackTemp(this.tmpPath);
  }
}

/** A failed open/write of an output file as a one-line error naming it (a full disk, no permission). */
export function writeError(path: string, e: unknown): Error {
  if (e instanceof SqzError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === undefined) return e as Error;
  const err = new SqzError(`cannot write ${path}: ${(e as Error).message}`);
  err.cause = e;
  return err;
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, null);
    off += bytesWritten;
  }
}

/** Writes a whole file from a (possibly async) sequence of records; on any error no file is left under `path`. */
export async function writeSqz(path: string, meta: SqzMeta, records: Iterable<TensorRecord> | AsyncIterable<TensorRecord>): Promise<SqzWriteResult> {
  const w = await SqzWriter.create(path, meta);
  try {
    for await (const r of records) await w.add(r);
    return await w.finish();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
