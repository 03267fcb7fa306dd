// The part every reader shares: where each canonical tensor lies (file, byte offset, stored dtype),
// positional reads that pull one tensor off disk at a time, conversion of f16/bf16 to f32, and the
// Checkpoint object built from that table.
import { endianness } from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { f16ToF32 } from '../../src/kernels/reference.ts';
import { FormatError, SqzError, UnsupportedError, UsageError } from '../../src/util/errors.ts';
import type { Checkpoint } from './types.ts';

/**
 * Stored element types the readers convert to f32. Q8G is llama2.c version 2's int8: all the
 * tensor's int8 values, then one f32 scale per `groupSize` consecutive values (w = q * scale).
 */
export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'Q8G';

/** Where one canonical tensor is stored. */
export interface TensorRef {
  fh: FileHandle;
  /** File path, for messages. */
  file: string;
  /** Absolute byte offset of the first element. */
  offset: number;
  dtype: StoredDtype;
  /** With dtype Q8G: values per scale. */
  groupSize?: number;
  shape: number[];
  /** The name the source format gives it (e.g. "model.layers.0.self_attn.q_proj.weight"), for messages. */
  storedName: string;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The readers view file bytes as little-endian typed arrays directly. */
export function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new UnsupportedError('checkpoint readers need a little-endian host');
}

/** Largest single fs read (Node rejects reads of 2 GiB or more). */
const MAX_READ = 1 << 30;

/**
 * Reads exactly n bytes at pos into a fresh, 0-aligned buffer. A short file is a FormatError
 * naming `what` (the file was checked at open, so this means it changed underneath us).
 */
export async function readExact(fh: FileHandle, pos: number, n: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const { bytesRead } = await fh.read(out, done, Math.min(MAX_READ, n - done), pos + done);
    if (bytesRead === 0) throw new FormatError(`${what}: truncated (wanted ${n} bytes at offset ${pos}, got ${done})`);
    done += bytesRead;
  }
  return out;
}

/** Bytes that n elements take when stored as `dtype` (groupSize: values per scale, for Q8G). */
export function storedBytes(dtype: StoredDtype, n: number, groupSize = 0): number {
  switch (dtype) {
    case 'F32':
      return 4 * n;
    case 'F16':
    case 'BF16':
      return 2 * n;
    case 'Q8G':
      return n + 4 * Math.ceil(n / groupSize);
  }
}

/**
 * Stored little-endian bytes (0-aligned buffer) to f32. bf16 is the top half of an f32, so exact;
 * f16 is exact too; Q8G is q * scale rounded once to f32, as llama2.c's dequantize does.
 */
export function toF32(bytes: Uint8Array, dtype: StoredDtype, n: number, groupSize = 0): Float32Array {
  if (bytes.byteOffset % 4) bytes = bytes.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    case 'F16': {
      const out = new Float32Array(n);
      f16ToF32(out, new Uint16Array(bytes.buffer, bytes.byteOffset, n), n);
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'Q8G': {
      const q = new Int8Array(bytes.buffer, bytes.byteOffset, n);
      const scales = new Float32Array(bytes.buffer.slice(bytes.byteOffset + n, bytes.byteOffset + storedBytes('Q8G', n, groupSize)));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = q[i] * scales[Math.floor(i / groupSize)];
      return out;
    }
  }
}

export interface CheckpointParts {
  source: string;
  config: ModelConfig;
  tokenizer: TokenizerSpec | undefined;
  /** Every canonical name of tensorShapes(config), already checked against its shape. */
  tensors: Map<string, TensorRef>;
  /** Every handle opened, closed by close(). */
  handles: FileHandle[];
  notes?: string[];
  /** The canonical tensors that must be present (default: all of tensorShapes(config)). */
  required?: Map<string, number[]>;
}

/** Checks a reader's table covers the required tensors (default tensorShapes(config)), with matching shapes (a bug if not: readers check first). */
function assertComplete(p: CheckpointParts): Map<string, number[]> {
  const want = p.required ?? tensorShapes(p.config);
  for (const [name, shape] of want) {
    const ref = p.tensors.get(name);
    if (!ref) throw new FormatError(`${p.source}: tensor ${name} is missing`);
    if (fmtShape(ref.shape) !== fmtShape(shape)) {
      throw new FormatError(`${p.source}: tensor ${ref.storedName} (${name}) has shape ${fmtShape(ref.shape)}, expected ${fmtShape(shape)}`);
    }
  }
  return want;
}

export function makeCheckpoint(p: CheckpointParts): Checkpoint {
  const shapes = assertComplete(p);
  const names = [...shapes.keys()];
  let closed = false;
  return {
    source: p.source,
    config: p.config,
    tokenizer: p.tokenizer,
    names: () => names.slice(),
    shape(name: string): number[] {
      const s = shapes.get(name);
      if (!s) throw new UsageError(`${p.source}: no tensor named '${name}'`);
      return s.slice();
    },
    async read(name: string): Promise<Float32Array> {
      if (closed) throw new SqzError(`${p.source}: read('${name}') after close()`);
      const ref = p.tensors.get(name);
      if (!ref || !shapes.has(name)) throw new UsageError(`${p.source}: no tensor named '${name}'`);
      const n = numel(ref.shape);
      const bytes = await readExact(ref.fh, ref.offset, storedBytes(ref.dtype, n, ref.groupSize), `${ref.file}: tensor ${ref.storedName}`);
      return toF32(bytes, ref.dtype, n, ref.groupSize);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(p.handles.map((h) => h.close()));
    },
    ...(p.notes?.length ? { notes: p.notes.slice() } : {}),
  };
}
