// Where a .sqz file's bytes come from — a file, bytes in memory, a URL, a stream — behind one
// interface the reader consumes in bounded chunks. No read asks a source for more than MAX_READ
// bytes at once: Node's fs.read aborts the process (a native assertion, not an exception) when
// asked for 2 GiB or more, and a stream hands out its bytes in pieces anyway.
//
// Files and memory are random-access; URLs and streams are read forward once, which is all the
// model loader needs (the header, then every record in file order, with no gaps between them).
// Nothing here imports node:* at load time, so this module runs in browsers.
import { FormatError, UsageError } from '../util/errors.ts';

/** Largest single read asked of a source (16 MiB: well under fs.read's 2 GiB limit, few calls per record). */
export const MAX_READ = 16 * 1024 * 1024;

/** Random-access or forward-only bytes, read in chunks. Implement it to load a model from anywhere else. */
export interface ByteSource {
  /** Name used in error messages (a path, a URL, '<bytes>', '<stream>'). */
  readonly name: string;
  /** Total bytes, or undefined when only the end of the data tells (a stream without a length). */
  readonly size: number | undefined;
  /** False for sources read forward once (streams, HTTP bodies): each read starts at or after the end of the one before. */
  readonly seekable: boolean;
  /**
   * Fills `into` with the bytes at `offset` and resolves to how many it filled: fewer than
   * `into.length` only where the data ends. Callers never pass more than MAX_READ bytes.
   */
  read(offset: number, into: Uint8Array): Promise<number>;
  /** Bytes in memory already: `length` bytes at `offset` without a copy (in-memory sources only). */
  view?(offset: number, length: number): Uint8Array;
  close(): Promise<void>;
}

/** What loadModel reads a model from. A string is a path (Node) or, with a scheme such as https:, a URL. */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | ByteSource;

/**
 * `length` bytes at `offset`, fewer only where the data ends: read in pieces of at most `chunk`
 * bytes (MAX_READ; tests pass less), each straight into its place in the one result buffer.
 */
export async function readRange(src: ByteSource, offset: number, length: number, chunk = MAX_READ): Promise<Uint8Array> {
  if (src.view) return src.view(offset, length);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await src.read(offset + got, out.subarray(got, got + Math.min(chunk, length - got)));
    if (n === 0) return out.subarray(0, got);
    got += n;
  }
  return out;
}

/** Bytes already in memory (not copied). */
export function bytesSource(bytes: Uint8Array, name = '<bytes>'): ByteSource {
  return {
    name,
    size: bytes.length,
    seekable: true,
    async read(offset, into) {
      const part = bytes.subarray(offset, offset + into.length);
      into.set(part);
      return part.length;
    },
    view: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    close: async () => {},
  };
}

/** A file on disk (Node). node:fs is loaded only here, so bundles that never read files run without it. */
export async function fileSource(path: string): Promise<ByteSource> {
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
      name: path,
      size: st.size,
      seekable: true,
      async read(offset, into) {
        let got = 0;
        while (got < into.length) {
          const { bytesRead } = await fh.read(into, got, into.length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A stream read forward once. `size` (an HTTP Content-Length, say) lets the header check the
 * file's length up front; without it the reader checks that the data ends where the index says.
 */
export function streamSource(stream: ReadableStream<Uint8Array>, name = '<stream>', size?: number): ByteSource {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0); // received, not yet handed out; starts at `pos`
  let pos = 0;
  let done = false;
  /** Next piece of the stream, or null at its end. */
  const pull = async (): Promise<Uint8Array | null> => {
    if (pending.length) {
      const p = pending;
      pending = new Uint8Array(0);
      return p;
    }
    if (done) return null;
    const r = await reader.read();
    if (r.done) {
      done = true;
      return null;
    }
    return r.value;
  };
  return {
    name,
    size,
    seekable: false,
    async read(offset, into) {
      if (offset < pos) throw new UsageError(`${name}: a streamed model is read once, front to back (asked for byte ${offset} after byte ${pos})`);
      let got = 0;
      while (got < into.length) {
        const piece = await pull();
        if (piece === null) break;
        const skip = Math.min(offset + got - pos, piece.length);
        pos += skip;
        const take = Math.min(piece.length - skip, into.length - got);
        into.set(piece.subarray(skip, skip + take), got);
        got += take;
        pos += take;
        if (skip + take < piece.length) pending = piece.subarray(skip + take);
      }
      return got;
    },
    async close() {
      done = true;
      await reader.cancel().catch(() => {});
    },
  };
}

/** A URL: file: URLs are files; anything else is fetched and its body streamed (never held whole). */
export async function urlSource(url: URL): Promise<ByteSource> {
  if (url.protocol === 'file:') {
    const { fileURLToPath } = await import('node:url');
    return fileSource(fileURLToPath(url));
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const err = new FormatError(`${url.href}: cannot fetch (${(e as Error).message})`);
    err.cause = e;
    throw err;
  }
  if (!res.ok) throw new FormatError(`${url.href}: HTTP ${res.status} ${res.statusText}`);
  if (!res.body) throw new FormatError(`${url.href}: the response has no body`);
  // a compressed body's Content-Length counts the compressed bytes, not the file's
  const length = res.headers.get('content-length');
  const size = length !== null && !res.headers.get('content-encoding') ? Number(length) : undefined;
  return streamSource(res.body, url.href, size !== undefined && Number.isSafeInteger(size) ? size : undefined);
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The ByteSource for any ModelSource. */
export async function openSource(source: ModelSource): Promise<ByteSource> {
  if (typeof source === 'string') return URL_LIKE.test(source) ? urlSource(new URL(source)) : fileSource(source);
  if (source instanceof URL) return urlSource(source);
  if (source instanceof Uint8Array) return bytesSource(source);
  if (source instanceof ArrayBuffer) return bytesSource(new Uint8Array(source));
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return streamSource(source);
  if (isByteSource(source)) return source;
  throw new UsageError(`a model source is a path, a URL, a Uint8Array, an ArrayBuffer, a ReadableStream or a ByteSource (got ${Object.prototype.toString.call(source)})`);
}

function isByteSource(s: unknown): s is ByteSource {
  const o = s as Partial<ByteSource> | null;
  return typeof o === 'object' && o !== null && typeof o.read === 'function' && typeof o.close === 'function' && typeof o.seekable === 'boolean';
}
