// squeeze-edge in a browser (or any host without Node's file system and worker threads): the same
// runtime as index.ts, but a model is a URL to fetch (streamed), bytes or a stream, and it runs on one thread.
//
//   import { loadModel } from './squeeze-edge.browser.mjs';
//   const model = await loadModel('/models/model.sqz');
//   for await (const piece of model.generate('Once upon a time', { temperature: 0 })) out.textContent += piece;
//
// scripts/build.mjs bundles this file with Node's built-in modules replaced by empty stand-ins;
// nothing reachable from here uses them unless given a file: URL or threads > 1, which this
// loadModel refuses first.
import { loadModel as loadFrom, type LoadOptions } from './index.ts';
import type { ModelSource } from './format/source.ts';
import type { Model } from './model/model.ts';
import { UsageError } from './util/errors.ts';

export * from './index.ts';

/**
 * Loads a .sqz model from a URL (a string, relative to the page, or a URL object; fetched and its
 * body streamed), its bytes (Uint8Array, ArrayBuffer), a ReadableStream of them, or a ByteSource.
 */
export async function loadModel(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
  if (opts.threads !== undefined && opts.threads !== 1) throw new UsageError(`threads need Node's worker_threads; in a browser the runtime runs on one thread (threads ${opts.threads})`);
  const url = typeof source === 'string' ? new URL(source, globalThis.location?.href) : source;
  if (url instanceof URL && url.protocol === 'file:') throw new UsageError(`${url.href}: a browser reads models over HTTP, from bytes or from a stream, not from files`);
  return loadFrom(url, opts);
}
