// squeeze-edge in a browser (or any host without Node's file system and worker threads): the same
// runtime as index.ts, but a model is bytes or a URL to fetch, and it runs on one thread.
//
//   import { loadModel } from './squeeze-edge.browser.mjs';
//   const model = await loadModel('/models/model.sqz');
//   for await (const piece of model.generate('Once upon a time', { temperature: 0 })) out.textContent += piece;
//
// scripts/build.mjs bundles this file with Node's built-in modules replaced by empty stand-ins;
// nothing reachable from here uses them unless given a file path or threads > 1, which this
// loadModel refuses first.
import { loadModel as loadBytes, type LoadOptions } from './index.ts';
import type { Model } from './model/model.ts';
import { SqzError, UsageError } from './util/errors.ts';

export * from './index.ts';

/** Loads a .sqz model from its bytes, or from a URL (fetched whole). */
export async function loadModel(source: string | URL | Uint8Array | ArrayBuffer, opts: LoadOptions = {}): Promise<Model> {
  if (opts.threads !== undefined && opts.threads !== 1) throw new UsageError(`threads need Node's worker_threads; in a browser the runtime runs on one thread (threads ${opts.threads})`);
  if (source instanceof Uint8Array) return loadBytes(source, opts);
  if (source instanceof ArrayBuffer) return loadBytes(new Uint8Array(source), opts);
  const res = await fetch(source);
  if (!res.ok) throw new SqzError(`${String(source)}: HTTP ${res.status} ${res.statusText}`);
  return loadBytes(new Uint8Array(await res.arrayBuffer()), opts);
}
