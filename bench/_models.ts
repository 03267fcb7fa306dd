// The benchmark's model files, built with the CLI itself (sqz synth → sqz quantize → sqz export)
// into a cache folder and reused while they are there: nothing here is committed, and a file is
// rebuilt only when it is missing. Every step is seeded, so the same options give the same bytes.
//
// Cache folder: $SQZ_BENCH_CACHE, else .cache/bench in the repository (git-ignored).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = process.env.SQZ_BENCH_CACHE ?? join(repoRoot, '.cache', 'bench');

/** A synthetic Llama shape (sqz synth's options). */
export interface Shape {
  id: string;
  dim: number;
  layers: number;
  heads: number;
  ffn: number;
  vocab: number;
  /** The head is the embedding (sqz synth --tied), as in stories15M. */
  tied?: boolean;
}

/** The three sizes of issue 12: stories15M's shape (tied head), the 134M reference model, and a ~500M one (head size 128). */
export const SHAPES: Record<'tiny' | 's15' | 'm134' | 'm500', Shape> = {
  /** Only for the harness's own smoke test (test/bench/): seconds to build and run. */
  tiny: { id: 'tiny', dim: 64, layers: 2, heads: 4, ffn: 160, vocab: 512 },
  s15: { id: 's15', dim: 288, layers: 6, heads: 6, ffn: 768, vocab: 32000, tied: true },
  m134: { id: 'm134', dim: 768, layers: 12, heads: 12, ffn: 2048, vocab: 32000 },
  m500: { id: 'm500', dim: 1536, layers: 14, heads: 12, ffn: 4096, vocab: 32000 },
};

/** Weights of a shape (the embedding, and the head unless tied), as sqz synth counts them. */
export function parameters(s: Shape): number {
  const perLayer = 4 * s.dim * s.dim + 3 * s.dim * s.ffn + 2 * s.dim;
  return s.layers * perLayer + (s.tied ? 1 : 2) * s.vocab * s.dim + s.dim;
}

/** A file the engines run: ours (.sqz, with the fast flag where it applies) or llama.cpp's (.gguf). */
export interface Product {
  /** The label in tables and JSON, e.g. 'sqz 4-bit --fast'. */
  label: string;
  engine: 'sqz' | 'llama.cpp';
  /** Which built file it runs (a key of `files`). */
  file: FileKind;
  fast?: boolean;
}

export type FileKind = 'f32' | 'q4' | 'q3' | 'q4s' | 'gguf-q4_0' | 'gguf-iq4_nl' | 'gguf-f32';

export const PRODUCTS: Record<string, Product> = {
  'q4_0': { label: 'llama.cpp Q4_0', engine: 'llama.cpp', file: 'gguf-q4_0' },
  'iq4_nl': { label: 'llama.cpp IQ4_NL', engine: 'llama.cpp', file: 'gguf-iq4_nl' },
  'gguf-f32': { label: 'llama.cpp f32', engine: 'llama.cpp', file: 'gguf-f32' },
  'q4-fast': { label: 'sqz 4-bit --fast', engine: 'sqz', file: 'q4', fast: true },
  'q4': { label: 'sqz 4-bit exact', engine: 'sqz', file: 'q4' },
  'q3-fast': { label: 'sqz 3-bit --fast', engine: 'sqz', file: 'q3', fast: true },
  'q3': { label: 'sqz 3-bit exact', engine: 'sqz', file: 'q3' },
  'q4s-fast': { label: 'sqz 4-bit + 0.45% sparse --fast', engine: 'sqz', file: 'q4s', fast: true },
  'f32': { label: 'sqz f32', engine: 'sqz', file: 'f32' },
};

/**
 * SqueezeLLM without calibration text (the weights are random: there is nothing to calibrate on),
 * the embedding and head at the same bits as the rest, as llama.cpp's Q4_0 stores them too.
 */
const nuq = (src: string, bits: 3 | 4) => ['quantize', src, '--bits', `${bits}`, '--no-fisher', '--layer-bits', `embed=${bits},head=${bits}`];
// (a tied model has no head tensor: the pattern then matches nothing)

/** How each file is made: the sqz command's arguments after the source (the f32 .sqz), or null for the source itself. */
const RECIPES: Record<FileKind, (src: string, out: string) => string[]> = {
  f32: () => [],
  q4: (src, out) => [...nuq(src, 4), '-o', out],
  q3: (src, out) => [...nuq(src, 3), '-o', out],
  q4s: (src, out) => [...nuq(src, 4), '--outlier-percent', '0.45', '-o', out],
  'gguf-q4_0': (src, out) => ['export', src, '--type', 'q4_0', '--gguf', out],
  'gguf-iq4_nl': (src, out) => ['export', src, '--type', 'iq4_nl', '--gguf', out],
  'gguf-f32': (src, out) => ['export', src, '--type', 'f32', '--gguf', out],
};

/** The 32000-token Llama 2 vocabulary, where ../shared has it (else sqz synth stores a synthetic byte-level one). */
function llama2Tokenizer(vocab: number): string | undefined {
  const p = join(repoRoot, '..', 'shared', 'models', 'llama2c-tokenizer', 'tokenizer.bin');
  return vocab === 32000 && existsSync(p) ? p : undefined;
}

export function filePath(shape: Shape, kind: FileKind): string {
  return join(cacheDir, kind.startsWith('gguf-') ? `${shape.id}-${kind.slice(5)}.gguf` : `${shape.id}-${kind}.sqz`);
}

/** The sqz commands that (re)build a shape's files, for the docs. */
export function synthCommand(shape: Shape, out: string): string[] {
  const tok = llama2Tokenizer(shape.vocab);
  return ['synth', '--dim', `${shape.dim}`, '--layers', `${shape.layers}`, '--heads', `${shape.heads}`, '--ffn', `${shape.ffn}`, '--vocab', `${shape.vocab}`, '--ctx', '4096', '--seed', '1', ...(shape.tied ? ['--tied'] : []), ...(tok ? ['--tokenizer', tok] : []), '-o', out];
}

function sqz(args: string[], log: (s: string) => void): void {
  log(`  sqz ${args.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sqz.mjs'), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`sqz ${args[0]} failed (exit ${r.status}): sqz ${args.join(' ')}`);
  log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

/** Builds whichever of `kinds` of `shape` is missing (the f32 source first) and returns the paths. */
export function ensureFiles(shape: Shape, kinds: Iterable<FileKind>, log: (s: string) => void = console.error): Map<FileKind, string> {
  mkdirSync(cacheDir, { recursive: true });
  const src = filePath(shape, 'f32');
  const out = new Map<FileKind, string>();
  for (const kind of new Set<FileKind>(['f32', ...kinds])) {
    const path = filePath(shape, kind);
    if (!existsSync(path)) {
      log(`building ${path}`);
      sqz(kind === 'f32' ? synthCommand(shape, path) : RECIPES[kind](src, path), log);
    }
    out.set(kind, path);
  }
  return out;
}

export function fileBytes(path: string): number {
  return statSync(path).size;
}
