// GGUF v3 writing: the header (metadata and tensor infos) as bytes, then tensor data streamed one
// tensor at a time into a temp file that is renamed into place at the end (a failure leaves no
// half file under the final name).
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { checkOutputFile, tempPath, trackTemp, untrackTemp } from '../../src/format/outpath.ts';
import { writeError } from '../../src/format/writer.ts';
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, ggmlBytes, ggmlTypeName, VT } from './spec.ts';

/** A metadata value to write, with its GGUF type. */
export type KvValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: Float32Array | readonly number[] }
  | { type: 'i32[]'; value: Int32Array | readonly number[] };

export const kv = {
  u32: (value: number): KvValue => ({ type: 'u32', value }),
  i32: (value: number): KvValue => ({ type: 'i32', value }),
  f32: (value: number): KvValue => ({ type: 'f32', value }),
  bool: (value: boolean): KvValue => ({ type: 'bool', value }),
  str: (value: string): KvValue => ({ type: 'string', value }),
  strings: (value: readonly string[]): KvValue => ({ type: 'string[]', value }),
  f32s: (value: Float32Array | readonly number[]): KvValue => ({ type: 'f32[]', value }),
  i32s: (value: Int32Array | readonly number[]): KvValue => ({ type: 'i32[]', value }),
};

/** One tensor of the file: its GGUF name, ggml dims (innermost first) and type. */
export interface TensorPlan {
  name: string;
  ne: number[];
  type: number;
}

/** A growable little-endian byte buffer. */
export class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private readonly enc = new TextEncoder();

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }
  u8(v: number): this {
    this.grow(1);
    this.dv.setUint8(this.length, v);
    this.length += 1;
    return this;
  }
  u32(v: number): this {
    this.grow(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
    return this;
  }
  i32(v: number): this {
    this.grow(4);
    this.dv.setInt32(this.length, v, true);
    this.length += 4;
    return this;
  }
  f32(v: number): this {
    this.grow(4);
    this.dv.setFloat32(this.length, v, true);
    this.length += 4;
    return this;
  }
  u64(v: number | bigint): this {
    this.grow(8);
    this.dv.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  str(s: string): this {
    const b = this.enc.encode(s);
    return this.u64(b.length).bytes(b);
  }
  pad(alignment: number): this {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.grow(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(w: ByteWriter, v: KvValue): void {
  switch (v.type) {
    case 'u32':
      w.u32(VT.U32).u32(v.value);
      return;
    case 'i32':
      w.u32(VT.I32).i32(v.value);
      return;
    case 'f32':
      w.u32(VT.F32).f32(v.value);
      return;
    case 'u64':
      w.u32(VT.U64).u64(v.value);
      return;
    case 'bool':
      w.u32(VT.BOOL).u8(v.value ? 1 : 0);
      return;
    case 'string':
      w.u32(VT.STRING).str(v.value);
      return;
    case 'string[]':
      w.u32(VT.ARRAY).u32(VT.STRING).u64(v.value.length);
      for (const s of v.value) w.str(s);
      return;
    case 'f32[]':
      w.u32(VT.ARRAY).u32(VT.F32).u64(v.value.length);
      for (const x of v.value) w.f32(x);
      return;
    case 'i32[]':
      w.u32(VT.ARRAY).u32(VT.I32).u64(v.value.length);
      for (const x of v.value) w.i32(x);
      return;
  }
}

/** Bytes of a tensor's data. */
export function tensorBytes(t: TensorPlan): number {
  const info = GGML_TYPES[t.type];
  if (!info) throw new Error(`no size for ggml type ${ggmlTypeName(t.type)}`);
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.ne[0] % info.blockSize) throw new Error(`tensor ${t.name}: ${t.ne[0]} columns is not a multiple of ${info.name}'s block of ${info.blockSize}`);
  return ggmlBytes(info, n);
}

/** The header: magic .. the padding before the data section, each tensor's offset in it included. */
export function ggufHeader(metadata: ReadonlyArray<readonly [string, KvValue]>, tensors: readonly TensorPlan[], alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC).u32(GGUF_VERSION).u64(tensors.length).u64(metadata.length);
  for (const [key, value] of metadata) {
    w.str(key);
    writeValue(w, value);
  }
  let off = 0;
  for (const t of tensors) {
    w.str(t.name).u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type).u64(off);
    off += Math.ceil(tensorBytes(t) / alignment) * alignment;
  }
  w.pad(alignment);
  return w.result();
}

/**
 * Writes a GGUF file: the header, then each tensor's bytes from `data(i)` (called in order, one at a
 * time), padded to the alignment. Written to `<out>.<pid>.tmp` and renamed into place.
 */
export async function writeGguf(
  out: string,
  metadata: ReadonlyArray<readonly [string, KvValue]>,
  tensors: readonly TensorPlan[],
  data: (i: number) => Promise<Uint8Array>,
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Promise<number> {
  checkOutputFile(out);
  const header = ggufHeader(metadata, tensors, alignment);
  const tmp = tempPath(out);
  trackTemp(tmp);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'w');
    let pos = 0;
    const put = async (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += (await fh!.write(b, done, b.length - done, pos + done)).bytesWritten;
      pos += b.length;
    };
    await put(header);
    for (let i = 0; i < tensors.length; i++) {
      const bytes = await data(i);
      const want = tensorBytes(tensors[i]);
      if (bytes.length !== want) throw new Error(`tensor ${tensors[i].name}: ${bytes.length} bytes of data, its type and shape need ${want}`);
      await put(bytes);
      const pad = (alignment - (bytes.length % alignment)) % alignment;
      // llama.cpp's loader expects every tensor padded, the last one included
      if (pad) await put(new Uint8Array(pad));
    }
    // the data reaches the disk before the name does: a crash after the rename never finds a hole
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, out);
    return pos;
  } catch (e) {
    await fh?.close();
    await rm(tmp, { force: true });
    throw writeError(out, e);
  } finally {
    untrackTemp(tmp);
  }
}
