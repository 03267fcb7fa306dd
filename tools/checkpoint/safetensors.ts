// safetensors: u64 LE header length N, N bytes of JSON
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": {str: str} }
// then the data; offsets are relative to the first byte after the header. Only the header is read
// at open; tensors are read one at a time through tensors.ts. As the spec requires, the tensors
// must tile the data exactly: no overlaps, no holes, no bytes after the last one, each range the
// size its dtype and shape give, and no tensor named twice in the header.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { parseJsonObject } from './json.ts';
import { type StoredDtype, type TensorRef, fmtShape, numel, readExact } from './tensors.ts';

/** Element sizes of every dtype the format defines, to check extents even of tensors we never read. */
const ALL_DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4,
  U64: 8, I64: 8, F64: 8,
};

/** The safetensors spec caps the header at 100 MB. */
const MAX_HEADER = 100_000_000;

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  path: string;
  fh: FileHandle;
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Opens a .safetensors file and checks its header: every tensor's byte range is inside the data and matches dtype x shape. */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const fh = await open(path, 'r');
  try {
    const name = basename(path);
    const size = (await fh.stat()).size;
    if (size < 8) throw new FormatError(`${name}: ${size} bytes is too short for safetensors`);
    const n = Number(new DataView((await readExact(fh, 0, 8, name)).buffer).getBigUint64(0, true));
    if (n > MAX_HEADER || 8 + n > size) throw new FormatError(`${name}: header length ${n} does not fit a ${size}-byte file; not safetensors?`);
    const header = parseJsonObject(new TextDecoder().decode(await readExact(fh, 8, n, name)), `${name}: header`);
    const dataStart = 8 + n;
    const dataLen = size - dataStart;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [key, v] of Object.entries(header)) {
      if (key === '__metadata__') {
        if (v && typeof v === 'object') metadata = v as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const bad = (why: string) => new FormatError(`${name}: tensor ${key}: ${why}`);
      if (!e || typeof e !== 'object' || typeof e.dtype !== 'string') throw bad('no dtype');
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('bad shape');
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0) || off[0] > off[1]) {
        throw bad('bad data_offsets');
      }
      if (off[1] > dataLen) throw bad(`data ends at ${off[1]} but the file has ${dataLen} data bytes (truncated)`);
      const el = ALL_DTYPE_BYTES[e.dtype];
      const shape = e.shape as number[];
      if (el !== undefined && off[1] - off[0] !== numel(shape) * el) {
        throw bad(`${off[1] - off[0]} bytes stored, but ${e.dtype} ${fmtShape(shape)} needs ${numel(shape) * el}`);
      }
      entries.set(key, { dtype: e.dtype, shape, begin: dataStart + off[0], end: dataStart + off[1] });
    }
    checkTiling(name, entries, dataStart, size);
    return { path, fh, entries, metadata };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** The tensors' byte ranges must cover the data section exactly once, in some order (the spec forbids holes; overlaps would alias two tensors). */
function checkTiling(name: string, entries: Map<string, SafetensorsEntry>, dataStart: number, size: number): void {
  const byStart = [...entries].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  let prev = '';
  for (const [key, e] of byStart) {
    const rel = (x: number) => x - dataStart;
    if (e.begin < at) {
      throw new FormatError(`${name}: tensors ${prev} and ${key} overlap (data bytes ${rel(e.begin)}..${rel(at)} belong to both)`);
    }
    if (e.begin > at) throw new FormatError(`${name}: data bytes ${rel(at)}..${rel(e.begin)} belong to no tensor (a hole before ${key})`);
    at = e.end;
    prev = key;
  }
  if (at < size) throw new FormatError(`${name}: ${size - at} bytes after the last tensor${prev ? ` (${prev})` : ''} belong to no tensor`);
}

const isStored = (d: string): d is StoredDtype => d === 'F32' || d === 'F16' || d === 'BF16';

/** A reader-table entry for one stored tensor; dtypes other than F32/F16/BF16 are an UnsupportedError naming it. */
export function safetensorsRef(f: SafetensorsFile, stored: string): TensorRef {
  const e = f.entries.get(stored);
  if (!e) throw new FormatError(`${basename(f.path)}: no tensor ${stored}`);
  if (!isStored(e.dtype)) {
    throw new UnsupportedError(`${basename(f.path)}: tensor ${stored} has dtype ${e.dtype}; supported dtypes are F32, F16 and BF16`);
  }
  return { fh: f.fh, file: f.path, offset: e.begin, dtype: e.dtype, shape: e.shape.slice(), storedName: stored };
}
