// The tensor kinds of the .sqz format, in one registry (as ggml's type-traits table): for each kind,
// how to check a record, how its typed arrays become msgpack bin fields and back, how to expand it
// to f32 (the plain TypeScript reference) and how many payload bytes it holds. A new kind adds a row;
// an existing row never changes meaning (old files must keep reading the same).
//
// Every multi-byte number in a payload is little-endian. docs/FORMAT.md describes each field.
import { dequantUniformRow, expandSharedLut, floatToHalf, uniformGroupCount } from '../kernels/reference.ts';
import { halfTable, halvesToFloats } from './half.ts';
import { FormatError } from '../util/errors.ts';
import { type PackedBits, packedIndexAt, rowBytes } from './packing.ts';
import { fromLeBytes, leBytes, type WireValue } from './wire.ts';

interface RecordBase {
  name: string;
  shape: number[];
}

/** Dense f32 tensor, row-major. */
export interface F32Record extends RecordBase {
  kind: 'f32';
  data: Float32Array;
}

/** Dense IEEE binary16 tensor (raw bits), row-major. */
export interface F16Record extends RecordBase {
  kind: 'f16';
  data: Uint16Array;
}

/** CSR matrix with the dense matrix's shape: row r's entries are rowPtr[r] .. rowPtr[r+1]-1. */
export interface CsrSparse {
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float32Array;
}

/** SqueezeLLM dense-and-sparse: w[r, c] = lut[r, idx(r, c)] + sparse[r, c]. */
export interface NuqRecord extends RecordBase {
  kind: 'nuq';
  bits: 3 | 4;
  /** [rows, 2^bits]: row r's table, as f32 values in memory whatever lutType stores. */
  lut: Float32Array;
  /** How the file stores the table: 'f16' halves it (every value must then be exactly a binary16); absent = f32. */
  lutType?: 'f16';
  /** rows x rowBytes(bits, cols) bytes, packed as in packing.ts. */
  indices: Uint8Array;
  sparse?: CsrSparse;
  /** Row boundaries for workers: [0, r1, ..., rows], non-decreasing; worker i takes rows rowSplit[i] .. rowSplit[i+1]-1. */
  rowSplit?: Int32Array;
}

/** Uniform (RTN / GPTQ / AWQ) groups along each row: w[r, c] = scale[r, g] * (q[r, c] - zero[r, g]), g = floor(c / groupSize). */
export interface UniformRecord extends RecordBase {
  kind: 'uniform';
  bits: PackedBits;
  /** Weights per group along a row; the last group of a row may be short; >= cols means one group per row. */
  groupSize: number;
  /** [rows, nGroups] f32. */
  scales: Float32Array;
  /** [rows, nGroups] f32 (may be fractional). */
  zeros: Float32Array;
  /** rows x rowBytes(bits, cols) bytes, packed as in packing.ts. */
  values: Uint8Array;
}

/**
 * SqueezeLLM with tables that cost little on short rows: consecutive groups of `tableRows` rows
 * share one table (clustered jointly), and each row may scale it by its own f16 factor:
 * w[r, c] = f32(rowScales[r] * lut[floor(r / tableRows), idx(r, c)]) + sparse[r, c].
 */
export interface NuqSharedRecord extends RecordBase {
  kind: 'nuq-shared';
  bits: 3 | 4;
  /** Rows per table (the last table may serve fewer); >= 1. */
  tableRows: number;
  /** [ceil(rows / tableRows), 2^bits]: table t at [t * 2^bits, (t+1) * 2^bits), f32 values in memory whatever lutType stores. */
  lut: Float32Array;
  /** 'f16': the file stores the tables as binary16 (each value must be exactly one); absent = f32. */
  lutType?: 'f16';
  /** [rows] per-row factors, each exactly a binary16 (stored as f16); absent = no scaling. */
  rowScales?: Float32Array;
  /** rows x rowBytes(bits, cols) bytes, packed as in packing.ts. */
  indices: Uint8Array;
  sparse?: CsrSparse;
  rowSplit?: Int32Array;
}

export type TensorRecord = F32Record | F16Record | NuqRecord | UniformRecord | NuqSharedRecord;
export type TensorKind = TensorRecord['kind'];
export type RecordOfKind<K extends TensorKind> = Extract<TensorRecord, { kind: K }>;

/** The decoded msgpack map of a tensor record (or of a nested map). */
export type WireMap = Record<string, unknown>;

export interface KindTraits<R extends TensorRecord = TensorRecord> {
  readonly kind: R['kind'];
  /** One line for docs and error messages. */
  readonly description: string;
  /** The record's map keys besides name, kind and shape, in the order they are written. */
  readonly fields: readonly string[];
  /** Checks types and payload sizes against shape and bits; throws FormatError naming the tensor. */
  validate(r: R): void;
  /** The kind's fields as msgpack values: typed arrays become their little-endian bytes (bin). */
  encode(r: R): Record<string, WireValue | undefined>;
  /** Rebuilds the typed record from its decoded map (bins as aligned typed arrays: copies, or views of a read buffer the record owns, wire.ts ownRecordBuffer). Checks field types, not sizes (validate does). */
  decode(w: WireMap, base: RecordBase): R;
  /** The tensor as dense row-major f32 (the plain TypeScript reference). */
  dequantize(r: R): Float32Array;
  /** Bytes of payload (tables, indices, values, scales...) the record holds, framing excluded. */
  payloadBytes(r: R): number;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the kinds.

const describe = (r: { name: string; kind: string }): string => `tensor '${r.name}' (${r.kind})`;

function fail(r: { name: string; kind: string }, msg: string): never {
  throw new FormatError(`${describe(r)}: ${msg}`);
}

/** Number of elements of a shape (checked by checkShape first). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Checks a shape is an array of positive integers; `what` names the tensor. */
export function checkShape(shape: unknown, what: string): asserts shape is number[] {
  if (!Array.isArray(shape) || shape.length === 0) throw new FormatError(`${what}: shape ${fmt(shape)} is not a non-empty array of dimensions`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) throw new FormatError(`${what}: shape ${fmt(shape)} has a dimension that is not a positive integer`);
  }
  if (!Number.isSafeInteger(numel(shape))) throw new FormatError(`${what}: shape ${fmt(shape)} has too many elements`);
}

function fmt(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
}

function matrix(r: TensorRecord): [number, number] {
  if (r.shape.length !== 2) fail(r, `shape ${fmt(r.shape)} is not [rows, cols]`);
  return [r.shape[0], r.shape[1]];
}

type ArrayCtor = Float32ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;

const ELEMENT: Map<ArrayCtor, string> = new Map<ArrayCtor, string>([
  [Float32Array, 'f32'],
  [Uint16Array, 'u16'],
  [Int32Array, 'i32'],
  [Uint8Array, 'u8'],
]);

/** Checks `a` is a Ctor (exactly, not a subclass-free lookalike) of `n` elements. */
function checkArray(r: TensorRecord, field: string, a: unknown, Ctor: ArrayCtor, n: number, why: string): void {
  if (!(a instanceof Ctor)) fail(r, `${field} is ${a === undefined ? 'missing' : 'not a ' + Ctor.name}`);
  if (a.length !== n) fail(r, `${field} has ${a.length} ${ELEMENT.get(Ctor)} elements; ${why} needs ${n}`);
}

function checkBits(r: TensorRecord, bits: unknown, allowed: readonly number[]): void {
  if (typeof bits !== 'number' || !allowed.includes(bits)) fail(r, `bits ${fmt(bits)} is not one of ${allowed.join(', ')}`);
}

/**
 * Refuses a NaN or infinity in an f32 field, naming the tensor, the field and the first bad entry:
 * one pass of exponent tests over the values (beside the checksum pass every read makes, it adds
 * about a third), so a broken checkpoint fails at load instead of giving <unk> after <unk>.
 */
function checkFiniteF32(r: TensorRecord, field: string, a: Float32Array): void {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) nonFinite(r, field, i, a[i]);
}

/** The same over binary16 bit patterns (exponent 0x1f: an infinity or NaN), two halves per 32-bit word where aligned. */
function checkFiniteF16(r: TensorRecord, field: string, h: Uint16Array): void {
  let i = 0;
  if ((h.byteOffset & 3) === 0) {
    // whole words up to the first that holds a bad half; the loop below then finds which one
    const w = new Uint32Array(h.buffer, h.byteOffset, h.length >>> 1);
    for (let k = 0; k < w.length && (w[k] & 0x7c00) !== 0x7c00 && (w[k] & 0x7c000000) !== 0x7c000000; k++) i += 2;
  }
  for (; i < h.length; i++) if ((h[i] & 0x7c00) === 0x7c00) nonFinite(r, field, i, halvesToFloats(h.subarray(i, i + 1))[0]);
}

function nonFinite(r: TensorRecord, field: string, i: number, v: number): never {
  fail(r, `${field}[${i}] is ${v}: the tensor holds a NaN or an infinity`);
}

/** Reads a bin field as an aligned typed array; `optional` fields may be absent or nil. */
function binField<T extends Float32Array | Uint16Array | Int32Array | Uint8Array>(w: WireMap, key: string, Ctor: { new (n: number): T; readonly BYTES_PER_ELEMENT: number; readonly name: string }, base: { name: string; kind: string }, where = ''): T {
  const v = w[key];
  if (!(v instanceof Uint8Array)) fail(base, `field '${where}${key}' is ${v === undefined ? 'missing' : 'not binary'}`);
  if (v.length % Ctor.BYTES_PER_ELEMENT) fail(base, `field '${where}${key}' is ${v.length} bytes, not a whole number of ${Ctor.BYTES_PER_ELEMENT}-byte elements`);
  return fromLeBytes(v, Ctor);
}

function intField(w: WireMap, key: string, base: { name: string; kind: string }): number {
  const v = w[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(base, `field '${key}' is ${v === undefined ? 'missing' : fmt(v) + ', not an integer'}`);
  return v;
}

function isPlainMap(v: unknown): v is WireMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function onlyKeys(w: WireMap, allowed: readonly string[], base: { name: string; kind: string }, where: string): void {
  for (const k of Object.keys(w)) if (!allowed.includes(k)) fail(base, `unexpected field '${where}${k}' (a ${base.kind} record has ${allowed.join(', ')})`);
}

// ---------------------------------------------------------------------------------------------
// The kinds.

const f32: KindTraits<F32Record> = {
  kind: 'f32',
  description: 'dense f32, row-major',
  fields: ['data'],
  validate(r) {
    checkArray(r, 'data', r.data, Float32Array, numel(r.shape), `shape ${fmt(r.shape)}`);
    checkFiniteF32(r, 'data', r.data);
  },
  encode: (r) => ({ data: leBytes(r.data) }),
  decode: (w, b) => ({ name: b.name, kind: 'f32', shape: b.shape, data: binField(w, 'data', Float32Array, { ...b, kind: 'f32' }) }),
  dequantize: (r) => r.data.slice(),
  payloadBytes: (r) => r.data.byteLength,
};

const f16: KindTraits<F16Record> = {
  kind: 'f16',
  description: 'dense IEEE binary16, row-major',
  fields: ['data'],
  validate(r) {
    checkArray(r, 'data', r.data, Uint16Array, numel(r.shape), `shape ${fmt(r.shape)}`);
    checkFiniteF16(r, 'data', r.data);
  },
  encode: (r) => ({ data: leBytes(r.data) }),
  decode: (w, b) => ({ name: b.name, kind: 'f16', shape: b.shape, data: binField(w, 'data', Uint16Array, { ...b, kind: 'f16' }) }),
  dequantize: (r) => halvesToFloats(r.data),
  payloadBytes: (r) => r.data.byteLength,
};

const SPARSE_FIELDS = ['rowPtr', 'colIdx', 'values'] as const;

function validateSparse(r: TensorRecord, s: CsrSparse, rows: number, cols: number): void {
  if (!isPlainMap(s)) fail(r, 'sparse is not a {rowPtr, colIdx, values} map');
  checkArray(r, 'sparse.rowPtr', s.rowPtr, Int32Array, rows + 1, `${rows} rows`);
  const nnz = s.rowPtr[rows];
  if (s.rowPtr[0] !== 0) fail(r, `sparse.rowPtr[0] is ${s.rowPtr[0]}, not 0`);
  for (let i = 0; i < rows; i++) {
    if (s.rowPtr[i + 1] < s.rowPtr[i]) fail(r, `sparse.rowPtr decreases at row ${i} (${s.rowPtr[i]} then ${s.rowPtr[i + 1]})`);
  }
  checkArray(r, 'sparse.colIdx', s.colIdx, Int32Array, nnz, `rowPtr[${rows}] = ${nnz}`);
  checkArray(r, 'sparse.values', s.values, Float32Array, nnz, `rowPtr[${rows}] = ${nnz}`);
  checkFiniteF32(r, 'sparse.values', s.values);
  for (let k = 0; k < nnz; k++) {
    const c = s.colIdx[k];
    if (c < 0 || c >= cols) fail(r, `sparse.colIdx[${k}] = ${c} is outside 0..${cols - 1}`);
  }
}

function validateRowSplit(r: TensorRecord, s: Int32Array, rows: number): void {
  if (!(s instanceof Int32Array)) fail(r, 'rowSplit is not an Int32Array');
  if (s.length < 2 || s[0] !== 0 || s[s.length - 1] !== rows) fail(r, `rowSplit must run from 0 to ${rows} (has ${s.length} entries: ${fmt(Array.from(s.subarray(0, 8)))}${s.length > 8 ? '...' : ''})`);
  for (let i = 1; i < s.length; i++) if (s[i] < s[i - 1]) fail(r, `rowSplit decreases at entry ${i} (${s[i - 1]} then ${s[i]})`);
}

const nuq: KindTraits<NuqRecord> = {
  kind: 'nuq',
  description: 'SqueezeLLM non-uniform: per-row lookup table, packed 3/4-bit indices, optional CSR sparse part',
  fields: ['bits', 'lut', 'lutType', 'indices', 'sparse', 'rowSplit'],
  validate(r) {
    const [rows, cols] = matrix(r);
    validateLutParts(r, rows, cols);
    const levels = 1 << r.bits;
    checkArray(r, 'lut', r.lut, Float32Array, rows * levels, `${rows} rows x ${levels} levels`);
    checkFiniteF32(r, 'lut', r.lut);
  },
  encode: (r) => ({
    bits: r.bits,
    lut: r.lutType === 'f16' ? leBytes(exactHalves(r, r.lut)) : leBytes(r.lut),
    lutType: r.lutType,
    indices: leBytes(r.indices),
    ...encodeSparseParts(r),
  }),
  decode(w, b) {
    const base = { name: b.name, kind: 'nuq' as const, shape: b.shape };
    const out: NuqRecord = { ...base, bits: intField(w, 'bits', base) as 3 | 4, ...decodeLut(w, base), indices: binField(w, 'indices', Uint8Array, base) };
    decodeSparseParts(w, base, out);
    return out;
  },
  dequantize(r) {
    const [rows, cols] = r.shape;
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) nuqRowInto(r, i, out.subarray(i * cols, (i + 1) * cols));
    return out;
  },
  payloadBytes: (r) => r.lut.length * (r.lutType === 'f16' ? 2 : 4) + r.indices.byteLength + sparsePartBytes(r),
};

/** The sparse part and row split of a LUT record as msgpack values (nuq and nuq-shared share them). */
function encodeSparseParts(r: NuqRecord | NuqSharedRecord): { sparse?: Record<string, WireValue>; rowSplit?: WireValue } {
  return {
    sparse: r.sparse && { rowPtr: leBytes(r.sparse.rowPtr), colIdx: leBytes(r.sparse.colIdx), values: leBytes(r.sparse.values) },
    rowSplit: r.rowSplit && leBytes(r.rowSplit),
  };
}

/** The optional sparse part and row split of a decoded LUT record, into `out`. */
function decodeSparseParts(w: WireMap, base: { name: string; kind: string }, out: NuqRecord | NuqSharedRecord): void {
  const s = w.sparse;
  if (s !== undefined && s !== null) {
    if (!isPlainMap(s)) fail(base, "field 'sparse' is not a map");
    onlyKeys(s, SPARSE_FIELDS, base, 'sparse.');
    out.sparse = {
      rowPtr: binField(s, 'rowPtr', Int32Array, base, 'sparse.'),
      colIdx: binField(s, 'colIdx', Int32Array, base, 'sparse.'),
      values: binField(s, 'values', Float32Array, base, 'sparse.'),
    };
  }
  if (w.rowSplit !== undefined && w.rowSplit !== null) out.rowSplit = binField(w, 'rowSplit', Int32Array, base);
}

/** A LUT record's table from its `lut` and `lutType` fields (f16 widened to f32). */
function decodeLut(w: WireMap, base: { name: string; kind: string }): { lut: Float32Array; lutType?: 'f16' } {
  const lutType = w.lutType ?? undefined;
  if (lutType !== undefined && lutType !== 'f16') fail(base, `field 'lutType' is ${fmt(lutType)}, not 'f16' (absent means f32)`);
  if (lutType === 'f16') return { lut: halvesToFloats(binField(w, 'lut', Uint16Array, base)), lutType };
  return { lut: binField(w, 'lut', Float32Array, base) };
}

function sparsePartBytes(r: NuqRecord | NuqSharedRecord): number {
  return (r.sparse ? r.sparse.rowPtr.byteLength + r.sparse.colIdx.byteLength + r.sparse.values.byteLength : 0) + (r.rowSplit?.byteLength ?? 0);
}

/** The checks nuq and nuq-shared share: bits, table type, indices, sparse part and row split. */
function validateLutParts(r: NuqRecord | NuqSharedRecord, rows: number, cols: number): void {
  checkBits(r, r.bits, [3, 4]);
  if (r.lutType !== undefined && r.lutType !== 'f16') fail(r, `lutType ${fmt(r.lutType)} is not 'f16' (absent means f32)`);
  checkArray(r, 'indices', r.indices, Uint8Array, rows * rowBytes(r.bits, cols), `${rows} rows x ${rowBytes(r.bits, cols)} bytes (${cols} columns at ${r.bits} bits)`);
  if (r.sparse !== undefined) validateSparse(r, r.sparse, rows, cols);
  if (r.rowSplit !== undefined) validateRowSplit(r, r.rowSplit, rows);
}

/** Tables of a nuq-shared matrix: ceil(rows / tableRows). */
export function sharedTableCount(rows: number, tableRows: number): number {
  return Math.ceil(rows / tableRows);
}

const nuqShared: KindTraits<NuqSharedRecord> = {
  kind: 'nuq-shared',
  description: 'SqueezeLLM non-uniform with one table per group of rows and optional f16 row scales, packed 3/4-bit indices, optional CSR sparse part',
  fields: ['bits', 'tableRows', 'lut', 'lutType', 'rowScales', 'indices', 'sparse', 'rowSplit'],
  validate(r) {
    const [rows, cols] = matrix(r);
    validateLutParts(r, rows, cols);
    if (typeof r.tableRows !== 'number' || !Number.isSafeInteger(r.tableRows) || r.tableRows < 1) fail(r, `tableRows ${fmt(r.tableRows)} is not a positive integer`);
    const tables = sharedTableCount(rows, r.tableRows);
    checkArray(r, 'lut', r.lut, Float32Array, tables << r.bits, `${tables} tables (${rows} rows, ${r.tableRows} per table) x ${1 << r.bits} levels`);
    checkFiniteF32(r, 'lut', r.lut);
    if (r.rowScales !== undefined) checkArray(r, 'rowScales', r.rowScales, Float32Array, rows, `${rows} rows`);
  },
  encode: (r) => ({
    bits: r.bits,
    tableRows: r.tableRows,
    lut: r.lutType === 'f16' ? leBytes(exactHalves(r, r.lut)) : leBytes(r.lut),
    lutType: r.lutType,
    rowScales: r.rowScales && leBytes(exactHalves(r, r.rowScales, 'rowScales', 'row scales are stored as f16')),
    indices: leBytes(r.indices),
    ...encodeSparseParts(r),
  }),
  decode(w, b) {
    const base = { name: b.name, kind: 'nuq-shared' as const, shape: b.shape };
    const out: NuqSharedRecord = {
      ...base,
      bits: intField(w, 'bits', base) as 3 | 4,
      tableRows: intField(w, 'tableRows', base),
      ...decodeLut(w, base),
      indices: binField(w, 'indices', Uint8Array, base),
    };
    if (w.rowScales !== undefined && w.rowScales !== null) out.rowScales = halvesToFloats(binField(w, 'rowScales', Uint16Array, base));
    decodeSparseParts(w, base, out);
    return out;
  },
  dequantize: (r) => nuq.dequantize(nuqOfShared(r)),
  payloadBytes: (r) => r.lut.length * (r.lutType === 'f16' ? 2 : 4) + (r.rowScales ? r.rowScales.length * 2 : 0) + r.indices.byteLength + sparsePartBytes(r),
};

/**
 * The nuq matrix a nuq-shared one equals: its tables expanded to one per row (expandSharedLut),
 * the same indices, sparse part and row split (shared, not copied). What the runtime loads, so the
 * exact and the int8 LUT kernels read either kind the same way.
 */
export function nuqOfShared(r: NuqSharedRecord): NuqRecord {
  const out: NuqRecord = { name: r.name, kind: 'nuq', shape: r.shape, bits: r.bits, lut: expandSharedLut(r.lut, r.tableRows, r.rowScales, r.shape[0], r.bits), indices: r.indices };
  if (r.sparse) out.sparse = r.sparse;
  if (r.rowSplit) out.rowSplit = r.rowSplit;
  return out;
}

/**
 * An f16 table's bit patterns. Storing it must lose nothing (the toolchain rounds the table before
 * it assigns indices), so a value f16 cannot hold exactly is refused. Checked on write only: a
 * table read from a file is exact by construction.
 */
function exactHalves(r: TensorRecord, values: Float32Array, field = 'lut', why = "lutType 'f16'"): Uint16Array {
  const t = halfTable();
  const h = new Uint16Array(values.length);
  for (let i = 0; i < h.length; i++) {
    const v = values[i];
    h[i] = floatToHalf(v);
    if (t[h[i]] !== v) fail(r, `${field}[${i}] = ${v} is not exactly representable in f16 (${why})`);
  }
  return h;
}

/** Row `row` of a nuq tensor as f32 into out[0..cols): table lookups plus the row's sparse values. */
export function nuqRowInto(r: NuqRecord, row: number, out: Float32Array): void {
  const cols = r.shape[1];
  const start = row * rowBytes(r.bits, cols);
  const base = row << r.bits;
  for (let c = 0; c < cols; c++) out[c] = r.lut[base + packedIndexAt(r.indices, start, c, r.bits)];
  const s = r.sparse;
  if (s) for (let k = s.rowPtr[row]; k < s.rowPtr[row + 1]; k++) out[s.colIdx[k]] += s.values[k];
}

const uniform: KindTraits<UniformRecord> = {
  kind: 'uniform',
  description: 'uniform (RTN/GPTQ/AWQ): packed 3/4/8-bit values, f32 scale and zero per group along a row',
  fields: ['bits', 'groupSize', 'scales', 'zeros', 'values'],
  validate(r) {
    const [rows, cols] = matrix(r);
    checkBits(r, r.bits, [3, 4, 8]);
    if (typeof r.groupSize !== 'number' || !Number.isSafeInteger(r.groupSize) || r.groupSize < 1) fail(r, `groupSize ${fmt(r.groupSize)} is not a positive integer`);
    const groups = uniformGroupCount(cols, r.groupSize);
    const why = `${rows} rows x ${groups} groups (${cols} columns, group size ${r.groupSize})`;
    checkArray(r, 'scales', r.scales, Float32Array, rows * groups, why);
    checkArray(r, 'zeros', r.zeros, Float32Array, rows * groups, why);
    checkFiniteF32(r, 'scales', r.scales);
    checkFiniteF32(r, 'zeros', r.zeros);
    checkArray(r, 'values', r.values, Uint8Array, rows * rowBytes(r.bits, cols), `${rows} rows x ${rowBytes(r.bits, cols)} bytes (${cols} columns at ${r.bits} bits)`);
  },
  encode: (r) => ({ bits: r.bits, groupSize: r.groupSize, scales: leBytes(r.scales), zeros: leBytes(r.zeros), values: leBytes(r.values) }),
  decode(w, b) {
    const base = { name: b.name, kind: 'uniform' as const, shape: b.shape };
    return {
      ...base,
      bits: intField(w, 'bits', base) as PackedBits,
      groupSize: intField(w, 'groupSize', base),
      scales: binField(w, 'scales', Float32Array, base),
      zeros: binField(w, 'zeros', Float32Array, base),
      values: binField(w, 'values', Uint8Array, base),
    };
  },
  dequantize(r) {
    const [rows, cols] = r.shape;
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) dequantUniformRow(out.subarray(i * cols, (i + 1) * cols), r.scales, r.zeros, r.values, i, cols, r.groupSize, r.bits);
    return out;
  },
  payloadBytes: (r) => r.scales.byteLength + r.zeros.byteLength + r.values.byteLength,
};

/** The registry. A new kind adds a row; rows never change. */
export const KINDS: { readonly [K in TensorKind]: KindTraits<RecordOfKind<K>> } = { f32, f16, nuq, uniform, 'nuq-shared': nuqShared };

export const KIND_NAMES = Object.keys(KINDS) as TensorKind[];

export function isKnownKind(kind: unknown): kind is TensorKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** The traits of a known kind; throws FormatError (naming the kind and, when given, the tensor) otherwise. */
export function kindTraits(kind: unknown, tensor?: string): KindTraits {
  if (!isKnownKind(kind)) {
    throw new FormatError(`${tensor === undefined ? '' : `tensor '${tensor}': `}unknown tensor kind ${fmt(kind)} (known kinds: ${KIND_NAMES.join(', ')})`);
  }
  return KINDS[kind] as unknown as KindTraits;
}

/** Full check of a typed record: name, known kind, shape, then the kind's own checks. */
export function validateRecord(r: TensorRecord): void {
  if (typeof r !== 'object' || r === null) throw new FormatError(`tensor record ${fmt(r)} is not an object`);
  if (typeof r.name !== 'string' || r.name.length === 0) throw new FormatError(`tensor record has no name (name = ${fmt(r.name)})`);
  const traits = kindTraits(r.kind, r.name);
  checkShape(r.shape, describe(r));
  traits.validate(r);
}

/** The record as a msgpack map: name, kind and shape first, then the kind's fields (absent optional fields left out). */
export function encodeRecordFields(r: TensorRecord): Record<string, WireValue> {
  const out: Record<string, WireValue> = { name: r.name, kind: r.kind, shape: [...r.shape] };
  for (const [k, v] of Object.entries(kindTraits(r.kind, r.name).encode(r))) if (v !== undefined) out[k] = v;
  return out;
}

/** Rebuilds and validates a typed record from its decoded msgpack map. */
export function decodeRecordFields(w: unknown): TensorRecord {
  if (!isPlainMap(w)) throw new FormatError(`tensor record is not a map (got ${fmt(w)})`);
  const name = w.name;
  if (typeof name !== 'string' || name.length === 0) throw new FormatError(`tensor record has no name (name = ${fmt(name)})`);
  const traits = kindTraits(w.kind, name);
  const what = describe({ name, kind: traits.kind });
  checkShape(w.shape, what);
  onlyKeys(w, ['name', 'kind', 'shape', ...traits.fields], { name, kind: traits.kind }, '');
  const r = traits.decode(w, { name, shape: [...w.shape] });
  traits.validate(r);
  return r;
}

/** The tensor as dense row-major f32. */
export function dequantize(r: TensorRecord): Float32Array {
  return kindTraits(r.kind, r.name).dequantize(r);
}

/** Payload bytes of a record (framing excluded). */
export function payloadBytes(r: TensorRecord): number {
  return kindTraits(r.kind, r.name).payloadBytes(r);
}
