// The mutators: one seeded change to one seed file. Byte-level ones work on any format (bit flips,
// truncation, appended bytes); field ones set a length, count, offset, dimension or type field
// (layout.ts) to 0, huge, negative or misaligned values; structural ones retype or duplicate a
// tensor, move safetensors offsets, edit JSON values and keys, inject NaN/Inf into float data, and
// (.sqz) rewrite the header, index or a record with valid checksums so the change gets past the
// CRCs to the checks behind them. Each returns the new bytes and a short description of the op.
import { crc32 } from '../../src/format/crc32.ts';
import { decodeFirst, packValue, unpackr } from '../../src/format/wire.ts';
import type { Rng } from '../../src/util/random.ts';
import { type Layout, ggufLayout, llama2cLayout, safetensorsLayout, tokenizerBinLayout } from './layout.ts';

export const FORMATS = ['sqz', 'sqz-quant', 'gguf-f32', 'gguf-q4_0', 'safetensors', 'config.json', 'tokenizer.json', 'llama2c', 'tokenizer.bin'] as const;
export type Format = (typeof FORMATS)[number];

export interface Mutation {
  bytes: Uint8Array;
  op: string;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];
const utf8 = new TextDecoder();
const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Byte level

function flip(b: Uint8Array, headerEnd: number, rng: Rng): Mutation {
  const out = b.slice();
  const k = 1 + rng.int(8);
  const at: number[] = [];
  for (let i = 0; i < k; i++) {
    const p = rng.next() < 0.6 ? rng.int(Math.max(1, Math.min(headerEnd, b.length))) : rng.int(b.length);
    out[p] ^= 1 << rng.int(8);
    at.push(p);
  }
  return { bytes: out, op: `flip bits at ${at.join(',')}` };
}

function truncate(b: Uint8Array, headerEnd: number, rng: Rng): Mutation {
  const n = rng.next() < 0.5 ? rng.int(Math.max(1, Math.min(headerEnd, b.length))) : rng.int(b.length);
  return { bytes: b.slice(0, n), op: `truncate to ${n}` };
}

function append(b: Uint8Array, rng: Rng): Mutation {
  const n = 1 + rng.int(100);
  const extra = rng.next() < 0.5 ? new Uint8Array(n) : Uint8Array.from({ length: n }, () => rng.int(256));
  const out = new Uint8Array(b.length + n);
  out.set(b);
  out.set(extra, b.length);
  return { bytes: out, op: `append ${n} bytes` };
}

/** Values a length/count/offset field is set to: zero, one, all ones (-1), huge, around 2^31, 2^32, 2^53, 2^63, misaligned and scaled neighbours. */
function specialInt(old: bigint, width: number, rng: Rng): bigint {
  const bits = BigInt(width * 8);
  const mask = (1n << bits) - 1n;
  const cands = [0n, 1n, mask, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, old + 1n, old - 1n, old * 2n, old / 2n, old + 3n, old + 32n, old * 1000n];
  return pick(rng, cands) & mask;
}

function field(b: Uint8Array, layout: Layout, rng: Rng): Mutation {
  const f = pick(rng, layout.fields);
  const out = b.slice();
  const dv = new DataView(out.buffer);
  if (f.pos + f.width > out.length) return { bytes: out, op: `field ${f.what} (past the end)` };
  const old = f.width === 8 ? dv.getBigUint64(f.pos, true) : BigInt(f.width === 4 ? dv.getUint32(f.pos, true) : dv.getUint8(f.pos));
  const v = specialInt(old, f.width, rng);
  if (f.width === 8) dv.setBigUint64(f.pos, v, true);
  else if (f.width === 4) dv.setUint32(f.pos, Number(v), true);
  else dv.setUint8(f.pos, Number(v));
  return { bytes: out, op: `field ${f.what} ${old} -> ${v}` };
}

const NON_FINITE_F32 = [NaN, Infinity, -Infinity];
/** f16 NaN, +Inf, -Inf bit patterns. */
const NON_FINITE_F16 = [0x7e00, 0x7c00, 0xfc00];

function nonFinite(b: Uint8Array, layout: Layout, rng: Rng): Mutation {
  const regions = layout.floats.filter((r) => r.end - r.start >= r.elem && r.end <= b.length);
  if (!regions.length) return flip(b, layout.headerEnd, rng);
  const r = pick(rng, regions);
  const i = rng.int((r.end - r.start) / r.elem);
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const k = rng.int(3);
  if (r.elem === 4) dv.setFloat32(r.start + 4 * i, NON_FINITE_F32[k], true);
  else dv.setUint16(r.start + 2 * i, NON_FINITE_F16[k], true);
  return { bytes: out, op: `${['NaN', '+Inf', '-Inf'][k]} into ${r.what}[${i}]` };
}

function binary(b: Uint8Array, layout: Layout, rng: Rng, extra: Array<() => Mutation> = []): Mutation {
  const ops: Array<() => Mutation> = [() => flip(b, layout.headerEnd, rng), () => truncate(b, layout.headerEnd, rng), () => append(b, rng), ...extra];
  if (layout.fields.length) ops.push(() => field(b, layout, rng), () => field(b, layout, rng));
  if (layout.floats.length) ops.push(() => nonFinite(b, layout, rng));
  return pick(rng, ops)();
}

// ---------------------------------------------------------------------------------------------
// JSON

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SPECIAL_JSON: Json[] = [0, -1, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 1e9, 1e308, -1e308, 0.5, 1e-300, '1', '', null, true, [], {}, [1, 2]];

/** Every path in v (arrays and objects), with the value there. */
function paths(v: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (ArrayBuffer.isView(v)) return out; // a payload is one value here (mutatePayload edits inside them)
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function getAt(v: Json, p: Array<string | number>): Json {
  return p.reduce<Json>((x, k) => (x as Record<string | number, Json>)[k], v);
}

/** One change to a parsed JSON value: a node replaced by a special value or a scaled number, or a key deleted. Returns a description. */
function mutateJson(root: Json, rng: Rng, prefer?: (p: Array<string | number>) => boolean): string {
  let all = paths(root).filter((p) => p.length > 0);
  if (prefer && rng.next() < 0.6) {
    const some = all.filter(prefer);
    if (some.length) all = some;
  }
  if (!all.length) return 'nothing to change';
  const p = pick(rng, all);
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, Json>;
  const key = p[p.length - 1];
  const old = parent[key];
  const where = p.join('.');
  if (!Array.isArray(parent) && rng.next() < 0.15) {
    delete parent[key];
    return `delete ${where}`;
  }
  if (typeof old === 'number' && rng.next() < 0.4) {
    parent[key] = pick(rng, [old + 1, old - 1, old * 2, Math.floor(old / 2), -old, old * 1000, old + 0.5]);
  } else parent[key] = structuredClone(pick(rng, SPECIAL_JSON));
  return `${where} = ${JSON.stringify(parent[key])}`;
}

/** JSON text with a key of one object written twice (the second copy under a different value). */
function duplicateKeyText(text: string, rng: Rng): Mutation {
  const keys = [...text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)];
  if (!keys.length) return { bytes: enc.encode(text), op: 'no key to duplicate' };
  const m = pick(rng, keys);
  const insert = `"${m[1]}": ${JSON.stringify(pick(rng, SPECIAL_JSON))}, `;
  return { bytes: enc.encode(text.slice(0, m.index) + insert + text.slice(m.index)), op: `duplicate key "${m[1]}"` };
}

function jsonFile(b: Uint8Array, rng: Rng, prefer?: (p: Array<string | number>) => boolean): Mutation {
  const text = utf8.decode(b);
  const r = rng.next();
  if (r < 0.6) {
    const v = JSON.parse(text) as Json;
    const op = mutateJson(v, rng, prefer);
    return { bytes: enc.encode(JSON.stringify(v)), op };
  }
  if (r < 0.75) return duplicateKeyText(text, rng);
  if (r < 0.9) return truncate(b, b.length, rng);
  return flip(b, b.length, rng);
}

// ---------------------------------------------------------------------------------------------
// Format-specific structure

function ggufRetype(b: Uint8Array, layout: Layout, rng: Rng): Mutation {
  const t = pick(rng, layout.tensorInfos!);
  const type = pick(rng, [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30, 4, 99, 0xffffffff]);
  const out = b.slice();
  new DataView(out.buffer).setUint32(t.typePos, type >>> 0, true);
  return { bytes: out, op: `retype ${t.name} to ${type}` };
}

/** A tensor info written twice (the tensor count raised by one); the data section shifts, as a writer that duplicated it would leave it. */
function ggufDuplicate(b: Uint8Array, layout: Layout, rng: Rng): Mutation {
  const t = pick(rng, layout.tensorInfos!);
  const info = b.subarray(t.start, t.end);
  const out = new Uint8Array(b.length + info.length);
  out.set(b.subarray(0, t.end));
  out.set(info, t.end);
  out.set(b.subarray(t.end), t.end + info.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(layout.tensorCountPos!, dv.getBigUint64(layout.tensorCountPos!, true) + 1n, true);
  return { bytes: out, op: `duplicate tensor info ${t.name}` };
}

interface StEntry {
  dtype: Json;
  shape: Json;
  data_offsets: Json;
}

/** safetensors with its header replaced by `json` (the length field follows it). */
function withStHeader(b: Uint8Array, json: string): Uint8Array {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const head = enc.encode(json);
  const out = new Uint8Array(8 + head.length + b.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(b.subarray(8 + n), 8 + head.length);
  return out;
}

function safetensorsHeader(b: Uint8Array, rng: Rng): Mutation {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const text = utf8.decode(b.subarray(8, 8 + n));
  const h = JSON.parse(text) as Record<string, StEntry | Json>;
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const name = pick(rng, names);
  const e = h[name] as StEntry;
  const [b0, b1] = e.data_offsets as [number, number];
  const r = rng.int(7);
  let op: string;
  if (r === 0) {
    e.dtype = pick(rng, ['F16', 'BF16', 'F64', 'I8', 'U8', 'I64', 'F8_E4M3', 'XX', 7, null]);
    op = `${name} dtype ${JSON.stringify(e.dtype)}`;
  } else if (r === 1) {
    const shape = (e.shape as number[]).slice();
    const i = rng.int(shape.length + 1);
    if (i === shape.length) shape.push(1);
    else shape[i] = pick(rng, [0, -1, shape[i] * 2, shape[i] + 1, 1e9, 2 ** 53, 0.5]);
    e.shape = shape;
    op = `${name} shape ${JSON.stringify(shape)}`;
  } else if (r === 2) {
    const d = pick(rng, [4, -4, 8, -8, 1, b1 - b0]);
    e.data_offsets = pick(rng, [[b0 + d, b1 + d], [b1, b0], [0, b1 - b0], [b0, b1 + d], [b0, 2 ** 53], [-1, b1], [b0 + 0.5, b1]]);
    op = `${name} data_offsets ${JSON.stringify(e.data_offsets)}`;
  } else if (r === 3) {
    return { ...duplicateKeyEntry(b, text, name), op: `${name} twice in the header` };
  } else if (r === 4) {
    delete h[name];
    op = `drop ${name} from the header`;
  } else if (r === 5) {
    h.__metadata__ = pick<Json>(rng, [{ 'model.embed_tokens.weight': 'missing.weight' }, { format: 1 }, [], null, { 'lm_head.weight': name }]);
    op = `__metadata__ ${JSON.stringify(h.__metadata__)}`;
  } else {
    op = mutateJson(h as Json, rng);
  }
  return { bytes: withStHeader(b, JSON.stringify(h)), op };
}

function duplicateKeyEntry(b: Uint8Array, text: string, name: string): Mutation {
  const h = JSON.parse(text) as Record<string, Json>;
  const json = `{${JSON.stringify(name)}:${JSON.stringify(h[name])},${text.trim().slice(1)}`;
  return { bytes: withStHeader(b, json), op: '' };
}

// .sqz: the header value (format, version, crc32, meta bin), then one record per index entry.

interface SqzParts {
  header: { format: unknown; version: unknown; crc32: number; meta: Uint8Array };
  meta: { config: Record<string, Json>; tokenizer: Record<string, Json> | null; quant: Json; tensors: Array<Record<string, Json>> };
  records: Uint8Array[];
}

function splitSqz(b: Uint8Array): SqzParts {
  const first = decodeFirst(b)!;
  const header = first.value as SqzParts['header'];
  const meta = unpackr.unpack(header.meta) as SqzParts['meta'];
  const records: Uint8Array[] = [];
  let p = first.end;
  for (const e of meta.tensors) {
    records.push(b.slice(p, p + (e.bytes as number)));
    p += e.bytes as number;
  }
  return { header, meta, records };
}

/** The file again, with the meta's checksum (and, when `reindex`, each entry's bytes and crc32) made right. */
function joinSqz(parts: SqzParts, reindex: boolean): Uint8Array {
  if (reindex) {
    parts.meta.tensors.forEach((e, i) => {
      e.bytes = parts.records[i].length;
      e.crc32 = crc32(parts.records[i]);
    });
  }
  const meta = packValue(parts.meta);
  const header = packValue({ ...parts.header, crc32: crc32(meta), meta });
  const total = header.length + parts.records.reduce((s, r) => s + r.length, 0);
  const out = new Uint8Array(total);
  out.set(header);
  let p = header.length;
  for (const r of parts.records) {
    out.set(r, p);
    p += r.length;
  }
  return out;
}

type Payload = { path: string; holder: Record<string, unknown>; key: string; bytes: Uint8Array };

/** The bin fields of a record (its sparse part's too). */
function payloads(rec: Record<string, unknown>): Payload[] {
  const out: Payload[] = [];
  const scan = (o: Record<string, unknown>, at: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v instanceof Uint8Array) out.push({ path: at + k, holder: o, key: k, bytes: v });
      else if (v && typeof v === 'object' && !Array.isArray(v)) scan(v as Record<string, unknown>, `${at}${k}.`);
    }
  };
  scan(rec, '');
  return out;
}

/** Element width and kind of a payload, from docs/FORMAT.md's tables. */
function payloadType(p: Payload, rec: Record<string, unknown>): 'i32' | 'u8' | 'f16' | 'f32' {
  if (p.key === 'rowPtr' || p.key === 'colIdx' || p.key === 'rowSplit') return 'i32';
  if (p.key === 'indices' || (p.key === 'values' && rec.kind === 'uniform')) return 'u8';
  if ((p.key === 'data' && rec.kind === 'f16') || (p.key === 'lut' && rec.lutType === 'f16')) return 'f16';
  return 'f32';
}

/** One element of a payload set to a value its readers must survive: NaN/Inf/huge floats, out-of-range or negative indices. */
function mutatePayload(p: Payload, rec: Record<string, unknown>, rng: Rng): string {
  const t = payloadType(p, rec);
  const size = t === 'i32' || t === 'f32' ? 4 : t === 'f16' ? 2 : 1;
  if (p.bytes.length < size) return `${p.path} empty`;
  const copy = p.bytes.slice();
  const dv = new DataView(copy.buffer);
  const k = rng.int(copy.length / size);
  let v: number;
  if (t === 'i32') {
    const shape = rec.shape as number[];
    v = pick(rng, [-1, 2 ** 31 - 1, -(2 ** 31), shape[0], shape[0] + 1, shape[1] ?? 1, (shape[1] ?? 1) + 1, dv.getInt32(4 * k, true) + 1, 1e6]);
    dv.setInt32(4 * k, v, true);
  } else if (t === 'u8') {
    v = rng.int(256);
    dv.setUint8(k, v);
  } else if (t === 'f16') {
    v = pick(rng, NON_FINITE_F16);
    dv.setUint16(2 * k, v, true);
  } else {
    v = pick(rng, [...NON_FINITE_F32, 3e38, -1e30]);
    dv.setFloat32(4 * k, v, true);
  }
  p.holder[p.key] = copy;
  return `${p.path}[${k}] = ${t === 'f16' ? `f16 0x${v.toString(16)}` : v}`;
}

function sqzStructure(b: Uint8Array, rng: Rng): Mutation {
  const parts = splitSqz(b);
  const r = rng.int(6);
  let op: string;
  let reindex = false;
  if (r === 0) {
    op = 'config ' + mutateJson(parts.meta.config as Json, rng);
  } else if (r === 1) {
    const i = rng.int(parts.meta.tensors.length);
    op = `index[${i}] ` + mutateJson(parts.meta.tensors[i] as Json, rng);
  } else if (r === 2) {
    const t = parts.meta.tokenizer;
    op = t ? 'tokenizer ' + mutateJson(t as Json, rng, (p) => p.length === 1) : 'no tokenizer';
    if (t && Array.isArray(t.pieces) && Array.isArray(t.scores) && rng.next() < 0.3) {
      const extra = 1 + rng.int(50);
      for (let k = 0; k < extra; k++) {
        (t.pieces as string[]).push(`<x${k}>`);
        (t.scores as number[]).push(0);
      }
      op = `tokenizer gains ${extra} pieces`;
    }
  } else if (r === 3) {
    // an index entry (and its record) written twice
    const i = rng.int(parts.meta.tensors.length);
    parts.meta.tensors.splice(i, 0, { ...parts.meta.tensors[i] });
    parts.records.splice(i, 0, parts.records[i]);
    op = `index[${i}] ${parts.meta.tensors[i].name} twice`;
  } else {
    // a record's payload changed, its checksum made right: one element of a payload, or a field edited
    const i = rng.int(parts.records.length);
    let rec = unpackr.unpack(parts.records[i]) as Record<string, Json | Uint8Array>;
    const bins = payloads(rec);
    if (r === 4 && bins.length) {
      op = `record ${rec.name} ` + mutatePayload(pick(rng, bins), rec, rng);
    } else {
      const top = Object.fromEntries(Object.entries(rec).filter(([, v]) => v instanceof Uint8Array));
      const plain = Object.fromEntries(Object.entries(rec).filter(([, v]) => !(v instanceof Uint8Array))) as Record<string, Json>;
      op = `record ${rec.name} ` + mutateJson(plain, rng, (p) => !(p[0] === 'sparse' && p.length > 1));
      rec = { ...plain, ...top };
    }
    parts.records[i] = packValue(rec);
    reindex = true;
  }
  return { bytes: joinSqz(parts, reindex), op };
}

// ---------------------------------------------------------------------------------------------

/** The config.json keys a mutation aims at more often than the rest (the numbers the reader checks). */
const configKey = (p: Array<string | number>) => p.length === 1;
/** tokenizer.json: ids in the vocab and added tokens, the model type and the special-token paths. */
const tokenizerKey = (p: Array<string | number>) =>
  (p[0] === 'model' && (p[1] === 'vocab' || p[1] === 'type' || p[1] === 'merges')) || p[0] === 'added_tokens' || p[0] === 'post_processor';

/** One seeded mutation of a seed file of `format`. */
export function mutate(format: Format, seed: Uint8Array, rng: Rng): Mutation {
  switch (format) {
    case 'sqz':
    case 'sqz-quant': {
      if (rng.next() < 0.5) return sqzStructure(seed, rng);
      const headerEnd = decodeFirst(seed)!.end;
      return binary(seed, { headerEnd, fields: [], floats: [] }, rng);
    }
    case 'gguf-f32':
    case 'gguf-q4_0': {
      const l = ggufLayout(seed);
      return binary(seed, l, rng, [() => ggufRetype(seed, l, rng), () => ggufRetype(seed, l, rng), () => ggufDuplicate(seed, l, rng)]);
    }
    case 'safetensors': {
      const l = safetensorsLayout(seed);
      return binary(seed, l, rng, [() => safetensorsHeader(seed, rng), () => safetensorsHeader(seed, rng), () => safetensorsHeader(seed, rng)]);
    }
    case 'config.json':
      return jsonFile(seed, rng, configKey);
    case 'tokenizer.json':
      return jsonFile(seed, rng, tokenizerKey);
    case 'llama2c':
      return binary(seed, llama2cLayout(seed), rng);
    case 'tokenizer.bin':
      return binary(seed, tokenizerBinLayout(seed), rng);
  }
}
