// Mixed precision: `--layer-bits "embed=f16,layers.0=8,layers.*.mlp=3,head=f16"` sets how each
// weight matrix is stored, for every method (docs/TOOLCHAIN.md, "Mixed precision").
//
// A spec is comma-separated PATTERN=VALUE entries. A pattern is a canonical tensor name or a
// dot-separated prefix of one (src/model/config.ts); `*` stands for one whole segment, so
// `layers.*.mlp` is every block's gate, up and down and `layers.0` all of block 0. VALUE is `f32`,
// `f16` or a bit width the method takes. When several entries match a tensor the last one wins,
// as later command-line options override earlier ones. Norm vectors always stay f32.
import { LINEAR_LAYERS, type ModelConfig, tensorShapes } from '../src/model/config.ts';
import { UsageError } from '../src/util/errors.ts';

/** How one matrix is stored: kept float, or quantized at a bit width by the method. */
export type Precision = 'f32' | 'f16' | number;

export interface LayerBitsEntry {
  pattern: string;
  value: Precision;
}

const SEGMENT = /^(\*|[A-Za-z0-9_]+)$/;

/** Parses a spec, checking its syntax only (which tensors exist is the model's business). */
export function parseLayerBits(spec: string): LayerBitsEntry[] {
  const entries: LayerBitsEntry[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) throw new UsageError(`--layer-bits: '${item}' is not PATTERN=VALUE (e.g. layers.*.mlp=3)`);
    const pattern = item.slice(0, eq).trim();
    const v = item.slice(eq + 1).trim().toLowerCase();
    if (!pattern.split('.').every((s) => SEGMENT.test(s))) {
      throw new UsageError(`--layer-bits: '${pattern}' is not a tensor name pattern (dot-separated names or *, e.g. layers.*.attn)`);
    }
    let value: Precision;
    if (v === 'f32' || v === 'f16') value = v;
    else if (/^\d+$/.test(v)) value = Number(v);
    else throw new UsageError(`--layer-bits: ${pattern}=${v}: the value must be f32, f16 or a bit width`);
    entries.push({ pattern, value });
  }
  if (!entries.length) throw new UsageError('--layer-bits is empty; give PATTERN=VALUE entries, e.g. "embed=f16,layers.*.mlp=3"');
  return entries;
}

/** The spec written back in one canonical form (what the header records). */
export function formatLayerBits(entries: readonly LayerBitsEntry[]): string {
  return entries.map((e) => `${e.pattern}=${e.value}`).join(',');
}

/** Whether `pattern` names `name` or a dot-prefix of it, `*` matching one segment. */
export function patternMatches(pattern: string, name: string): boolean {
  const p = pattern.split('.');
  const n = name.split('.');
  return p.length <= n.length && p.every((s, i) => s === '*' || s === n[i]);
}

/** The matrices of a model in file order: embed, each block's linear layers, head (unless tied). */
export function matrixNames(c: ModelConfig): string[] {
  return [...tensorShapes(c)].filter(([, shape]) => shape.length === 2).map(([name]) => name);
}

const isLinear = (name: string) => /^layers\.\d+\.(attn|mlp)\./.test(name);

export interface PrecisionPlan {
  /** Precision of every matrix the method quantizes or the spec names; a matrix not here is copied as f32 and not counted in bits per weight. */
  of: Map<string, Precision>;
  /** The canonical spec, or null without one. */
  spec: string | null;
}

/**
 * Each matrix's precision: the linear layers at `bits`, embed and head f32 and uncounted, then the
 * spec's entries in order. A pattern that matches no matrix of the model is an error (a typo would
 * otherwise go unnoticed), and so is a bit width `method` does not take. In a model whose head is
 * its embedding, `head` names that one matrix too; embed and head must then agree.
 */
export function planPrecision(c: ModelConfig, bits: number, spec: string | undefined, method: string, allowedBits: readonly number[]): PrecisionPlan {
  const names = matrixNames(c);
  const of = new Map<string, Precision>(names.filter(isLinear).map((n) => [n, bits]));
  if (spec === undefined) return { of, spec: null };
  const entries = parseLayerBits(spec);
  // tied: what the spec says of `head`, applied to embed
  let tiedHead: Precision | undefined;
  for (const { pattern, value } of entries) {
    if (typeof value === 'number' && !allowedBits.includes(value)) {
      throw new UsageError(`--layer-bits: ${pattern}=${value}: ${method} takes ${allowedBits.join(', ')} bits, f16 or f32`);
    }
    const hit = names.filter((n) => patternMatches(pattern, n));
    const headAlias = c.tiedEmbeddings && patternMatches(pattern, 'head');
    if (!hit.length && !headAlias) throw new UsageError(`--layer-bits: '${pattern}' matches no matrix of this model (${describeNames(c)})`);
    for (const n of hit) of.set(n, value);
    if (headAlias) tiedHead = value;
  }
  if (tiedHead !== undefined) {
    const embed = of.get('embed');
    if (embed !== undefined && embed !== tiedHead) {
      throw new UsageError(`--layer-bits: this model's head is its embedding, one matrix: embed=${embed} and head=${tiedHead} disagree`);
    }
    of.set('embed', tiedHead);
  }
  return { of, spec: formatLayerBits(entries) };
}

function describeNames(c: ModelConfig): string {
  const linear = LINEAR_LAYERS.join('|');
  return `matrices: embed, layers.0..${c.nLayers - 1}.{${linear}}, head${c.tiedEmbeddings ? ' (= embed)' : ''}; norms stay f32`;
}
