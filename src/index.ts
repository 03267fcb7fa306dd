// squeeze-edge's runtime API: load a .sqz model and generate text or measure perplexity.
//
//   const model = await loadModel('model.sqz');   // or a URL, bytes, a ReadableStream, a ByteSource
//   for await (const piece of model.generate('Once upon a time', { temperature: 0 })) process.stdout.write(piece);
//
// The runtime never imports the build-time toolchain (tools/), so a bundle of this file stays small.
import type { Backend } from './backend/types.ts';
import { cudaStatus } from './backend/cuda/addon.ts';
import { CudaBackend } from './backend/cuda/index.ts';
import { JsBackend } from './backend/js/index.ts';
import { WasmBackend } from './backend/wasm/index.ts';
import { SqzReader } from './format/reader.ts';
import { type ModelSource, openSource } from './format/source.ts';
import { Model, type ModelOptions } from './model/model.ts';
import { UsageError } from './util/errors.ts';

export { Model } from './model/model.ts';
export type { GenerateOptions, GenerateResult, GenerateStats, ModelOptions, QueuedPerplexityOptions } from './model/model.ts';
export { DEFAULT_CONTEXT } from './model/budget.ts';
export type { SamplerOptions } from './generate/sampler.ts';
export type { PerplexityOptions, PerplexityResult } from './generate/perplexity.ts';
export { SqzError, FormatError, UnsupportedError, UsageError, CudaUnavailableError, MemoryLimitError, NonFiniteError } from './util/errors.ts';
export type { CudaUnavailableReason } from './util/errors.ts';
export { MAX_READ, bytesSource, fileSource, streamSource, urlSource } from './format/source.ts';
export type { ByteSource, ModelSource } from './format/source.ts';

export type BackendName = 'auto' | 'wasm' | 'js' | 'cuda';

export interface BackendOptions {
  /** Threads for the WASM backend's matrix products, the main thread included (default 1). Call model.close() when done. */
  threads?: number;
  /**
   * The WASM backend's int8 fast path: every LUT (nuq) product, one token or a batch, with 7-bit tables
   * and int8 activations, faster but not exact (docs/KERNELS.md gives its error and perplexity). Default
   * false here; the CLI takes it by default on wasm.
   */
  fast?: boolean;
}

export interface LoadOptions extends ModelOptions, BackendOptions {
  /**
   * 'auto' (default): 'cuda' when its binding is built and a GPU answers (and neither threads nor
   * fast, which are wasm's, is asked for), else 'wasm'. 'wasm' (SIMD kernels), 'js' (the plain
   * TypeScript reference), 'cuda' (docs/CUDA.md; throws CudaUnavailableError saying why when it cannot run).
   */
  backend?: BackendName;
}

export async function createBackend(name: BackendName = 'auto', opts: BackendOptions = {}): Promise<Backend> {
  if (name === 'auto') name = (opts.threads ?? 1) === 1 && !opts.fast && cudaStatus().ok ? 'cuda' : 'wasm';
  if (name === 'wasm') return WasmBackend.create({ threads: opts.threads, fast: opts.fast });
  if (opts.threads !== undefined && opts.threads !== 1) throw new UsageError(`threads apply to the wasm backend only (backend '${name}')`);
  if (opts.fast) throw new UsageError(`the fast path applies to the wasm backend only (backend '${name}')`);
  if (name === 'js') return new JsBackend();
  if (name === 'cuda') return CudaBackend.create();
  throw new UsageError(`unknown backend '${name}' (auto, wasm, js or cuda)`);
}

/**
 * Loads a .sqz model, streaming its tensors into the backend one at a time: from a path, a URL
 * (file: read from disk; http(s): fetched, the body streamed, never held whole), the file's bytes
 * (Uint8Array or ArrayBuffer, not copied), a ReadableStream of its bytes, or your own ByteSource.
 * A string with a scheme (`https://…`) is a URL; any other string is a path.
 */
export async function loadModel(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
  const reader = await SqzReader.fromSource(await openSource(source));
  try {
    const backend = await createBackend(opts.backend, opts);
    try {
      return await Model.fromRecords(reader.header.config, reader.header.tokenizer, reader.records(), backend, opts, { source: reader.source, tensors: reader.entries });
    } catch (e) {
      await closeBackend(backend);
      throw e;
    }
  } finally {
    await reader.close();
  }
}

/** Stops a backend's worker threads, if it has any. */
export async function closeBackend(backend: Backend): Promise<void> {
  await (backend as { close?: () => Promise<void> }).close?.();
}
