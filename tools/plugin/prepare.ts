// Build-time packing for any bundler: quantize a checkpoint once, keep the .sqz in a cache keyed by
// a hash of the inputs' bytes and the options, and hand back its path (or copy it beside a bundle).
// The esbuild plugin (esbuild.ts) is a thin layer over this; Vite, Rollup or webpack configs call it
// directly. Quantizing is deterministic under a seed, so equal inputs give an equal file and a
// cached one is as good as a fresh one.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { copyFile, rename, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { checkOutputFile, tempPath, trackTemp, untrackTemp } from '../../src/format/outpath.ts';
import { SqzError } from '../../src/util/errors.ts';
import { packageVersion } from '../cli/version.ts';
import { quantize, type QuantizeOptions, type QuantizeResult } from '../squeezellm/steps.ts';

export interface PrepareOptions extends Omit<QuantizeOptions, 'workDir' | 'onStep' | 'onProgress'> {
  /** The checkpoint to quantize: a llama2.c .bin, a Hugging Face folder, a GGUF file or a dense .sqz. */
  checkpoint: string;
  /**
   * Where quantized models are kept, one `<hash>.sqz` per distinct input (default
   * `node_modules/.cache/squeeze-edge` under the working folder). Delete it to force a fresh quantization.
   */
  cacheDir?: string;
  /** Also copy the .sqz here (a temporary file renamed into place), e.g. beside the bundle. */
  output?: string;
  /** Called with each step's progress while quantizing (never on a cache hit). */
  onProgress?: QuantizeOptions['onProgress'];
}

export interface PreparedModel {
  /** The .sqz in the cache. */
  path: string;
  /** Hex SHA-256 of the inputs' bytes and the options: the cache key. */
  hash: string;
  /** True when the cache already held this model and nothing was quantized. */
  cacheHit: boolean;
  /** Size of the .sqz in bytes. */
  bytes: number;
  /** The quantizer's result when it ran (absent on a cache hit). */
  quantized?: QuantizeResult;
}

/** The default cache folder: `node_modules/.cache/squeeze-edge` under `cwd` (where bundlers keep their caches). */
export function defaultCacheDir(cwd = process.cwd()): string {
  return join(cwd, 'node_modules', '.cache', 'squeeze-edge');
}

/**
 * The options that decide the output, as canonical JSON (sorted keys). Left out: the paths (files
 * count by their bytes), callbacks, and threads, which change the speed but not a bit of the
 * result (test/fisher/parallel and test/kmeans/parallel check that), so a laptop and CI share entries.
 */
function optionsKey(opts: PrepareOptions): string {
  const skip = new Set(['checkpoint', 'calib', 'tokenizer', 'cacheDir', 'output', 'onProgress', 'threads']);
  const entries = Object.entries(opts)
    .filter(([k, v]) => !skip.has(k) && v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(entries);
}

async function hashFile(h: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

/** Adds a file, or every file of a folder (sorted, each with its relative name), to the hash. */
async function hashInput(h: Hash, label: string, path: string): Promise<void> {
  if (!existsSync(path)) throw new SqzError(`no such file or folder: ${path}`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path, { recursive: true, encoding: 'utf8' })
        .map((f) => join(path, f))
        .filter((f) => statSync(f).isFile())
        .sort()
    : [path];
  for (const f of files) {
    h.update(`\0${label}:${relative(path, f)}:${statSync(f).size}\0`);
    await hashFile(h, f);
  }
}

/** The cache key: the package version (a new quantizer may write other bytes), the options, and the inputs' bytes. */
export async function prepareHash(opts: PrepareOptions): Promise<string> {
  const h = createHash('sha256');
  h.update(`squeeze-edge ${packageVersion()}\0${optionsKey(opts)}`);
  await hashInput(h, 'checkpoint', opts.checkpoint);
  if (opts.calib) await hashInput(h, 'calib', opts.calib);
  if (opts.tokenizer) await hashInput(h, 'tokenizer', opts.tokenizer);
  return h.digest('hex');
}

/** Copies a file to `dest` through a temporary name, so `dest` is never half written. */
async function copyInto(src: string, dest: string): Promise<void> {
  checkOutputFile(dest);
  const tmp = tempPath(dest);
  trackTemp(tmp);
  try {
    await copyFile(src, tmp);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    untrackTemp(tmp);
  }
}

/**
 * Quantizes `checkpoint` with SqueezeLLM (the options of `quantize`), unless the cache holds the
 * result for the same input bytes and options already; then copies it to `output` when given.
 */
export async function prepareModel(opts: PrepareOptions): Promise<PreparedModel> {
  const hash = await prepareHash(opts);
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `${hash}.sqz`);
  let quantized: QuantizeResult | undefined;
  const cacheHit = existsSync(path);
  if (!cacheHit) quantized = await quantize(opts.checkpoint, path, opts);
  if (opts.output !== undefined) await copyInto(path, opts.output);
  return { path, hash, cacheHit, bytes: statSync(path).size, ...(quantized && { quantized }) };
}
