// Per-layer folders, so no toolchain step holds a whole model: `DIR/layer.{i}.sqz` holds block i's
// seven linear matrices (weights, Fisher, or their SqueezeLLM lookup tables), each a regular .sqz
// (length- and checksum-checked on read); `DIR/manifest.json` says what the folder holds and for
// which model. The manifest is written last, so a folder without one is incomplete.
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorRecord } from '../../src/format/kinds.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { SqzWriter } from '../../src/format/writer.ts';
import { LINEAR_LAYERS, type ModelConfig } from '../../src/model/config.ts';
import { FormatError, SqzError } from '../../src/util/errors.ts';
import { writeFileAtomic } from '../text.ts';

export type LayerDirKind = 'weights' | 'fisher' | 'lut';

export interface LayerManifest {
  format: 'sqz-layers';
  version: 1;
  kind: LayerDirKind;
  config: ModelConfig;
  /** Where the contents came from (checkpoint, calibration, method settings). */
  source: Record<string, unknown>;
  /** Layers present (a LUT folder may hold a --layers range). */
  layers: number[];
}

export const layerFile = (dir: string, i: number): string => join(dir, `layer.${i}.sqz`);
export const linearNamesOf = (i: number): string[] => LINEAR_LAYERS.map((l) => `layers.${i}.${l}`);

/** Writes one layer's records as DIR/layer.{i}.sqz. */
export async function writeLayer(dir: string, kind: LayerDirKind, config: ModelConfig, i: number, records: TensorRecord[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const w = await SqzWriter.create(layerFile(dir, i), { config, tokenizer: null, quant: { method: `layer-${kind}`, layer: i } });
  try {
    for (const r of records) await w.add(r);
    await w.finish();
  } catch (e) {
    await w.abort();
    throw e;
  }
}

export async function writeManifest(dir: string, m: Omit<LayerManifest, 'format' | 'version'>): Promise<void> {
  await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify({ format: 'sqz-layers', version: 1, ...m }, null, 1));
}

export async function readManifest(dir: string, want?: LayerDirKind): Promise<LayerManifest> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(dir)) throw new SqzError(`no such folder: ${dir}`);
  if (!existsSync(path)) throw new FormatError(`${dir} is not a complete layer folder (no manifest.json); run the step that makes it again`);
  let m: LayerManifest;
  try {
    m = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== 'sqz-layers' || m.version !== 1) throw new FormatError(`${path}: not a squeeze-edge layer folder manifest`);
  if (want && m.kind !== want) throw new FormatError(`${dir} holds ${m.kind}, but ${want} were expected here`);
  return m;
}

/** The records of layer i, by name, checked to be exactly block i's seven linear matrices. */
export async function readLayer(dir: string, i: number): Promise<Map<string, TensorRecord>> {
  const path = layerFile(dir, i);
  if (!existsSync(path)) throw new FormatError(`${dir} has no layer ${i} (${path} is missing)`);
  const r = await SqzReader.open(path);
  try {
    const out = new Map<string, TensorRecord>();
    for await (const rec of r.records()) out.set(rec.name, rec);
    for (const name of linearNamesOf(i)) if (!out.has(name)) throw new FormatError(`${path}: tensor ${name} is missing`);
    return out;
  } finally {
    await r.close();
  }
}

/** Throws unless two configs describe the same model shape (a folder made from another model). */
export function assertSameModel(a: ModelConfig, b: ModelConfig, what: string): void {
  const keys: (keyof ModelConfig)[] = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize'];
  const diff = keys.filter((k) => a[k] !== b[k]);
  if (diff.length) {
    throw new FormatError(`${what} was made from a different model (${diff.map((k) => `${k} ${b[k]} vs ${a[k]}`).join(', ')})`);
  }
}
