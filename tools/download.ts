// Downloading model files once into a cache folder. A download streams into a temporary file in
// the same folder and is renamed into place only once its size matches Content-Length, so a
// file under its final name is always complete; a second call finds it there and makes no request.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { SqzError, UsageError } from '../src/util/errors.ts';

/** A download that did not complete: network down, timeout, HTTP error, or a response cut short. */
export class DownloadError extends SqzError {
  override name = 'DownloadError';
  constructor(
    message: string,
    readonly url: string,
    /** The HTTP status when the server answered with an error, else undefined. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The cache folder: $SQZ_CACHE, else $XDG_CACHE_HOME/squeeze-edge, else ~/.cache/squeeze-edge. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SQZ_CACHE) return env.SQZ_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'squeeze-edge');
  return join(homedir(), '.cache', 'squeeze-edge');
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * Where a URL's file lives in the cache: <cache>/<12 hex digits of the URL's sha256>/<file name>.
 * The file keeps its own name (the checkpoint readers go by the extension); the hash keeps two
 * URLs with the same file name (two tokenizer.bin) apart.
 */
export function cachePath(url: string, dir: string = cacheDir()): string {
  let name: string;
  try {
    name = basename(decodeURIComponent(new URL(url).pathname));
  } catch {
    throw new UsageError(`not a valid URL: ${url}`);
  }
  if (!name || name === '/' || name.startsWith('.')) throw new UsageError(`${url} does not end in a file name`);
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return join(dir, hash, name);
}

export interface DownloadOptions {
  /** Cache folder (default cacheDir()). */
  cacheDir?: string;
  /** Milliseconds to wait for the server to answer (connection and response headers; default 10 s). */
  connectTimeoutMs?: number;
  /** Milliseconds without a byte of the body before giving up (default 60 s). */
  stallTimeoutMs?: number;
  /** Bytes received so far, and the total when the server said (Content-Length). */
  onProgress?: (done: number, total: number | undefined) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** True when the file was already in the cache (no request was made). */
  cached: boolean;
}

/** Downloads `url` into the cache (once), returning the path of the complete file. Throws DownloadError. */
export async function download(url: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const path = cachePath(url, opts.cacheDir ?? cacheDir());
  if (existsSync(path)) return { path, bytes: statSync(path).size, cached: true };
  const folder = join(path, '..');

  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const abort = new AbortController();
  let timedOut = '';
  let timer = setTimeout(() => {
    timedOut = `no answer within ${connectMs / 1000} s`;
    abort.abort();
  }, connectMs);
  const fail = (why: string, status?: number) => new DownloadError(`download of ${url} failed: ${why}`, url, status);

  let res: Response;
  try {
    // identity: Content-Length then counts the bytes we write, with no transparent decompression.
    res = await fetch(url, { signal: abort.signal, headers: { 'accept-encoding': 'identity', 'user-agent': 'squeeze-edge' }, redirect: 'follow' });
  } catch (e) {
    clearTimeout(timer);
    throw fail(timedOut || networkReason(e));
  }
  clearTimeout(timer);
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw fail(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, res.status);
  }
  const lengthHeader = res.headers.get('content-length');
  const encoding = res.headers.get('content-encoding');
  const total = lengthHeader !== null && (!encoding || encoding === 'identity') ? Number(lengthHeader) : undefined;
  if (!res.body) throw fail('the response has no body');
  try {
    mkdirSync(folder, { recursive: true });
  } catch (e) {
    await res.body.cancel().catch(() => {});
    throw new SqzError(`cannot create the cache folder ${folder}: ${(e as Error).message} (set SQZ_CACHE to another folder)`);
  }

  const tmp = join(folder, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.part`);
  const file = createWriteStream(tmp);
  const fileError = new Promise<never>((_, reject) => file.on('error', reject));
  fileError.catch(() => {});
  let done = 0;
  try {
    const armStall = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = `no data for ${stallMs / 1000} s after ${done} bytes`;
        abort.abort();
      }, stallMs);
    };
    armStall();
    opts.onProgress?.(0, total);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        armStall();
        done += chunk.byteLength;
        if (!file.write(chunk)) await Promise.race([new Promise<void>((r) => file.once('drain', () => r())), fileError]);
        opts.onProgress?.(done, total);
      }
    } catch (e) {
      if (e instanceof Error && (e as NodeJS.ErrnoException).syscall) throw e; // our disk, not the network
      throw fail(timedOut || `the connection broke after ${done}${total !== undefined ? ` of ${total}` : ''} bytes (${networkReason(e)})`);
    } finally {
      clearTimeout(timer);
    }
    await Promise.race([new Promise<void>((r) => file.end(() => r())), fileError]);
    if (total !== undefined && done !== total) throw fail(`the response was cut short: ${done} of ${total} bytes (Content-Length)`);
    if (done === 0) throw fail('the response was empty');
    await rename(tmp, path);
    return { path, bytes: done, cached: false };
  } catch (e) {
    file.destroy();
    await rm(tmp, { force: true });
    if (e instanceof DownloadError) throw e;
    throw new SqzError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** A short reason from a fetch failure ("fetch failed" alone says nothing; its cause does). */
function networkReason(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return err?.message ?? String(e);
}
