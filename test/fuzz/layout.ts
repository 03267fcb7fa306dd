// Where the fields of a seed file lie, so the mutators can aim at them: every length, count,
// offset, dimension and type field of a GGUF file, a llama2.c checkpoint and its tokenizer.bin,
// the safetensors header length, and the byte ranges of float data (for non-finite values).
// Walked from the format descriptions on known-good seeds; nothing here reads a mutated file.

/** A little-endian integer field: its position, width in bytes, and what it means. */
export interface Field {
  pos: number;
  width: 1 | 4 | 8;
  what: string;
}

/** Float data: `elem` 4 (f32) or 2 (f16) byte elements from `start` to `end`. */
export interface FloatRegion {
  start: number;
  end: number;
  elem: 2 | 4;
  what: string;
}

export interface Layout {
  /** Bytes before the tensor data (where most parsing happens). */
  headerEnd: number;
  fields: Field[];
  floats: FloatRegion[];
  /** GGUF only: each tensor info's byte range and its type field, for retyping and duplicating. */
  tensorInfos?: Array<{ start: number; end: number; typePos: number; name: string }>;
  /** GGUF only: where the tensor count is. */
  tensorCountPos?: number;
}

const utf8 = new TextDecoder();

/** GGUF v3 (tools/gguf/spec.ts): header counts, every key/value's string lengths, types and array counts, every tensor info. */
export function ggufLayout(b: Uint8Array): Layout {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [{ pos: 4, width: 4, what: 'version' }, { pos: 8, width: 8, what: 'tensor count' }, { pos: 16, width: 8, what: 'kv count' }];
  const nTensors = Number(dv.getBigUint64(8, true));
  const nKv = Number(dv.getBigUint64(16, true));
  let p = 24;
  const str = (what: string): string => {
    fields.push({ pos: p, width: 8, what: `${what} length` });
    const n = Number(dv.getBigUint64(p, true));
    const s = utf8.decode(b.subarray(p + 8, p + 8 + n));
    p += 8 + n;
    return s;
  };
  const FIXED: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (t: number, what: string): void => {
    if (FIXED[t] !== undefined) {
      if (FIXED[t] === 4 || FIXED[t] === 8 || FIXED[t] === 1) fields.push({ pos: p, width: FIXED[t] as 1 | 4 | 8, what });
      p += FIXED[t];
    } else if (t === 8) str(what);
    else if (t === 9) {
      fields.push({ pos: p, width: 4, what: `${what} element type` });
      const et = dv.getUint32(p, true);
      fields.push({ pos: p + 4, width: 8, what: `${what} count` });
      const n = Number(dv.getBigUint64(p + 4, true));
      p += 12;
      for (let i = 0; i < n; i++) value(et, `${what}[${i}]`);
    }
  };
  for (let i = 0; i < nKv; i++) {
    const key = str(`key ${i}`);
    fields.push({ pos: p, width: 4, what: `${key} type` });
    const t = dv.getUint32(p, true);
    p += 4;
    value(t, key);
  }
  const infos: Array<{ start: number; end: number; typePos: number; name: string; ne: number[]; type: number; offset: number }> = [];
  for (let i = 0; i < nTensors; i++) {
    const start = p;
    const name = str(`tensor ${i} name`);
    fields.push({ pos: p, width: 4, what: `${name} n_dims` });
    const nd = dv.getUint32(p, true);
    p += 4;
    const ne: number[] = [];
    for (let d = 0; d < nd; d++, p += 8) {
      fields.push({ pos: p, width: 8, what: `${name} ne[${d}]` });
      ne.push(Number(dv.getBigUint64(p, true)));
    }
    const typePos = p;
    fields.push({ pos: p, width: 4, what: `${name} type` });
    const type = dv.getUint32(p, true);
    fields.push({ pos: p + 4, width: 8, what: `${name} offset` });
    const offset = Number(dv.getBigUint64(p + 4, true));
    p += 12;
    infos.push({ start, end: p, typePos, name, ne, type, offset });
  }
  const dataStart = Math.ceil(p / 32) * 32;
  const floats: FloatRegion[] = [];
  for (const t of infos) {
    const n = t.ne.reduce((a, x) => a * x, 1);
    if (t.type === 0) floats.push({ start: dataStart + t.offset, end: dataStart + t.offset + 4 * n, elem: 4, what: t.name });
    if (t.type === 1) floats.push({ start: dataStart + t.offset, end: dataStart + t.offset + 2 * n, elem: 2, what: t.name });
  }
  return { headerEnd: dataStart, fields, floats, tensorInfos: infos.map(({ start, end, typePos, name }) => ({ start, end, typePos, name })), tensorCountPos: 8 };
}

/** safetensors: the u64 header length; f32/f16 tensor data from the header's offsets. */
export function safetensorsLayout(b: Uint8Array): Layout {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(utf8.decode(b.subarray(8, 8 + n))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const floats: FloatRegion[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const elem = e.dtype === 'F32' ? 4 : e.dtype === 'F16' || e.dtype === 'BF16' ? 2 : 0;
    if (elem) floats.push({ start: 8 + n + e.data_offsets[0], end: 8 + n + e.data_offsets[1], elem, what: name });
  }
  return { headerEnd: 8 + n, fields: [{ pos: 0, width: 8, what: 'header length' }], floats };
}

/** llama2.c version 1 (256-byte header: magic, version, 7 int32, shared flag): the ints and the f32 data after it. */
export function llama2cLayout(b: Uint8Array): Layout {
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  const fields: Field[] = [{ pos: 4, width: 4, what: 'version' }, ...names.map((what, i) => ({ pos: 8 + 4 * i, width: 4 as const, what })), { pos: 36, width: 1, what: 'shared_classifier' }];
  return { headerEnd: 256, fields, floats: [{ start: 256, end: b.length, elem: 4, what: 'weights' }] };
}

/** llama2.c tokenizer.bin: max_token_length, then per token an f32 score and an int32 length. */
export function tokenizerBinLayout(b: Uint8Array): Layout {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [{ pos: 0, width: 4, what: 'max_token_length' }];
  const floats: FloatRegion[] = [];
  for (let p = 4, i = 0; p + 8 <= b.length; i++) {
    floats.push({ start: p, end: p + 4, elem: 4, what: `score ${i}` });
    fields.push({ pos: p + 4, width: 4, what: `token ${i} length` });
    p += 8 + dv.getInt32(p + 4, true);
  }
  return { headerEnd: b.length, fields, floats };
}
