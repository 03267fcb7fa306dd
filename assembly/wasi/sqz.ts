// Reads a .sqz (docs/FORMAT.md) that lies whole in memory into the forward pass's descriptor
// (assembly/runtime/model.ts): the header's config and tokenizer, then each tensor record, its
// payloads used in place (the LUT tables become the exact kernels' byte planes). Any bad input
// ends the process with one line naming the file and the field or tensor.
import { Reader } from './msgpack';
import { EXIT_INPUT, fail } from './wasi';
import { Model, Weight, W_F16, W_F32, W_LUT, W_UNIFORM, LAYER_WEIGHTS } from '../runtime/model';
import { attendScratchBytes, kvCacheBytes } from '../attention';
import { matmulScratchBytes } from '../dense';
import { f16ToF32 } from '../f16';

/** The tokenizer as stored: llama2c pieces and scores (addresses into the file), or an HF tokenizer.json. */
export class StoredTokenizer {
  kind: string = '';
  bos: i32 = -1;
  eos: i32 = -1;
  pieces: Array<usize> = new Array<usize>(); // UTF-8 bytes of each piece
  pieceLens: Array<i32> = new Array<i32>();
  scores: Array<f64> = new Array<f64>();
  json: string = '';
}

class Entry {
  constructor(public name: string, public kind: string, public rows: i32, public cols: i32, public bytes: usize) {}
}

const LAYER_NAMES = ['attn_norm', 'attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp_norm', 'mlp.gate', 'mlp.up', 'mlp.down'];

/** Keys of the config this runtime runs; any other non-default family field is refused by name. */
const LLAMA2_DEFAULTS = new Map<string, string>();
LLAMA2_DEFAULTS.set('qkvBias', 'false');
LLAMA2_DEFAULTS.set('oBias', 'false');
LLAMA2_DEFAULTS.set('normKind', 'rms');
LLAMA2_DEFAULTS.set('normOffset', '0');
LLAMA2_DEFAULTS.set('activation', 'silu');
LLAMA2_DEFAULTS.set('gated', 'true');
LLAMA2_DEFAULTS.set('embedScale', '1');
LLAMA2_DEFAULTS.set('logitSoftcap', '0');
LLAMA2_DEFAULTS.set('slidingWindow', '0');

export class SqzFile {
  model: Model = new Model();
  tokenizer: StoredTokenizer = new StoredTokenizer();
  tied: bool = false;
  maxSeqLen: i32 = 0;
}

function readConfig(r: Reader, f: SqzFile): void {
  const m = f.model;
  const n = r.mapLength();
  for (let i = 0; i < n; i++) {
    const key = r.str();
    if (key == 'dim') m.dim = r.int();
    else if (key == 'hiddenDim') m.hiddenDim = r.int();
    else if (key == 'nLayers') m.nLayers = r.int();
    else if (key == 'nHeads') m.nHeads = r.int();
    else if (key == 'nKvHeads') m.nKvHeads = r.int();
    else if (key == 'vocabSize') m.vocabSize = r.int();
    else if (key == 'maxSeqLen') f.maxSeqLen = r.int();
    else if (key == 'ropeTheta') m.ropeTheta = r.number();
    else if (key == 'normEps') m.normEps = <f32>r.number();
    else if (key == 'tiedEmbeddings') f.tied = r.bool();
    else if (key == 'rope') m.halfPairs = r.str() == 'half' ? 1 : 0;
    else if (key == 'arch') r.skip();
    else if (LLAMA2_DEFAULTS.has(key)) {
      const t = r.peek();
      let v = '';
      if (t == 0xc2 || t == 0xc3) v = r.bool() ? 'true' : 'false';
      else if ((t & 0xe0) == 0xa0 || t == 0xd9) v = r.str();
      else if (t == 0xc0) { r.skip(); continue; }
      else v = r.number().toString().replace('.0', '');
      if (v != LLAMA2_DEFAULTS.get(key)) r.bad(`config ${key} = ${v}: this runtime runs Llama 2-shaped models only (sqz run does the other families)`);
    } else if (key == 'ropeScaling') {
      if (!r.isNil()) r.bad('config ropeScaling: this runtime runs Llama 2-shaped models only (sqz run does the other families)');
      r.skip();
    } else r.skip();
  }
  if (m.dim <= 0 || m.hiddenDim <= 0 || m.nLayers <= 0 || m.nHeads <= 0 || m.nKvHeads <= 0 || m.vocabSize <= 0 || f.maxSeqLen <= 0) r.bad('config: a size is missing or not positive');
  if (m.dim % m.nHeads != 0 || (m.dim / m.nHeads) % 2 != 0 || m.nHeads % m.nKvHeads != 0) r.bad('config: dim, nHeads and nKvHeads do not divide');
}

function readTokenizer(r: Reader, t: StoredTokenizer): void {
  if (r.isNil()) {
    r.skip();
    return;
  }
  const n = r.mapLength();
  for (let i = 0; i < n; i++) {
    const key = r.str();
    if (key == 'kind') t.kind = r.str();
    else if (key == 'bos') t.bos = r.isNil() ? (r.skip(), -1) : r.int();
    else if (key == 'eos') t.eos = r.isNil() ? (r.skip(), -1) : r.int();
    else if (key == 'pieces') {
      const k = r.arrayLength();
      for (let j = 0; j < k; j++) {
        t.pieces.push(r.strBytes());
        t.pieceLens.push(<i32>r.strLen);
      }
    } else if (key == 'scores') {
      const k = r.arrayLength();
      for (let j = 0; j < k; j++) t.scores.push(r.number());
    } else if (key == 'json') t.json = r.str();
    else r.skip();
  }
}

function readIndex(r: Reader): Array<Entry> {
  const out = new Array<Entry>();
  const n = r.arrayLength();
  for (let i = 0; i < n; i++) {
    let name = '', kind = '';
    let rows = 1, cols = 1;
    let bytes: usize = 0;
    const k = r.mapLength();
    for (let j = 0; j < k; j++) {
      const key = r.str();
      if (key == 'name') name = r.str();
      else if (key == 'kind') kind = r.str();
      else if (key == 'bytes') bytes = <usize>r.number();
      else if (key == 'shape') {
        const d = r.arrayLength();
        if (d < 1 || d > 2) r.bad(`tensor ${name}: shape of ${d} dimensions`);
        rows = r.int();
        cols = d == 2 ? r.int() : 1;
      } else r.skip();
    }
    out.push(new Entry(name, kind, rows, cols, bytes));
  }
  return out;
}

/** The exact LUT kernels' table: per row four 16-byte planes, plane b lane k = byte b of entry k (layout.ts lutPlanes). */
function lutPlanes(lut: usize, rows: i32, bits: i32): usize {
  const levels = 1 << bits;
  const out = heap.alloc(<usize>rows * 64);
  memory.fill(out, 0, <usize>rows * 64);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < levels; k++) {
      const v = load<u32>(lut + (<usize>(r * levels + k) << 2));
      for (let b = 0; b < 4; b++) store<u8>(out + <usize>(r * 64 + 16 * b + k), <u8>(v >>> (8 * b)));
    }
  }
  return out;
}

/** A vector weight (a norm) as f32 in fresh aligned memory. */
function vectorF32(kind: string, data: usize, n: i32, r: Reader): usize {
  const out = heap.alloc(<usize>n << 2);
  if (kind == 'f32') memory.copy(out, data, <usize>n << 2);
  else if (kind == 'f16') f16ToF32(out, data, n, 0);
  else r.bad(`a ${kind} vector; this runtime reads f32 and f16 vectors`);
  return out;
}

function readRecord(r: Reader, e: Entry, w: Weight): void {
  const n = r.mapLength();
  let lut: usize = 0, lutF16 = false;
  w.rows = e.rows;
  w.cols = e.cols;
  for (let i = 0; i < n; i++) {
    const key = r.str();
    if (key == 'name' || key == 'kind' || key == 'shape' || key == 'rowSplit') r.skip();
    else if (key == 'data') {
      w.data = r.bin();
      const want = <usize>e.rows * <usize>e.cols * (e.kind == 'f32' ? 4 : 2);
      if (r.binLen != want) r.bad(`tensor '${e.name}' (${e.kind}): data holds ${r.binLen} bytes, the shape needs ${want}`);
    } else if (key == 'bits') w.bits = r.int();
    else if (key == 'groupSize') w.groupSize = r.int();
    else if (key == 'lut') lut = r.bin();
    else if (key == 'lutType') lutF16 = !r.isNil() && r.str() == 'f16';
    else if (key == 'indices' || key == 'zeros') w.indices = r.bin();
    else if (key == 'values') w.values = r.bin();
    else if (key == 'scales') w.data = r.bin();
    else if (key == 'sparse') {
      if (r.isNil()) { r.skip(); continue; }
      const k = r.mapLength();
      for (let j = 0; j < k; j++) {
        const s = r.str();
        if (s == 'rowPtr') w.rowPtr = r.bin();
        else if (s == 'colIdx') w.colIdx = r.bin();
        else if (s == 'values') w.sparseValues = r.bin();
        else r.skip();
      }
    } else r.bad(`tensor '${e.name}' (${e.kind}): unknown field ${key}`);
  }
  if (e.kind == 'f32') w.kind = W_F32;
  else if (e.kind == 'f16') w.kind = W_F16;
  else if (e.kind == 'uniform') w.kind = W_UNIFORM;
  else if (e.kind == 'nuq') {
    if (w.bits != 3 && w.bits != 4) r.bad(`tensor '${e.name}' (nuq): ${w.bits} bits`);
    w.kind = W_LUT;
    let table = lut;
    if (lutF16) {
      const count = e.rows << w.bits;
      table = heap.alloc(<usize>count << 2);
      f16ToF32(table, lut, count, 0);
    }
    w.data = lutPlanes(table, e.rows, w.bits);
  } else r.bad(`tensor '${e.name}': kind ${e.kind} is not run by this runtime yet (f32, f16, nuq, uniform are)`);
}

/** Parses the file at [bytes, bytes + size) into `f`; `ctx` 0 takes min(maxSeqLen, 4096). */
export function openSqz(path: string, bytes: usize, size: usize, ctx: i32, f: SqzFile): void {
  const r = new Reader(bytes, bytes + size, path);
  if (r.peek() & 0xf0 != 0x80) r.bad('not a .sqz file');
  const hn = r.mapLength();
  let meta: usize = 0, metaLen: usize = 0;
  for (let i = 0; i < hn; i++) {
    const key = r.str();
    if (key == 'format') { if (r.str() != 'sqz') r.bad('not a .sqz file'); }
    else if (key == 'version') { const v = r.int(); if (v != 1) r.bad(`format version ${v}; this runtime reads version 1`); }
    else if (key == 'meta') { meta = r.bin(); metaLen = r.binLen; }
    else r.skip();
  }
  if (meta == 0) r.bad('not a .sqz file (no meta)');
  const records = r.pos;
  const mr = new Reader(meta, meta + metaLen, path);
  let index = new Array<Entry>();
  const mn = mr.mapLength();
  for (let i = 0; i < mn; i++) {
    const key = mr.str();
    if (key == 'config') readConfig(mr, f);
    else if (key == 'tokenizer') readTokenizer(mr, f.tokenizer);
    else if (key == 'tensors') index = readIndex(mr);
    else mr.skip();
  }
  const m = f.model;
  const byName = new Map<string, Weight>();
  let at = records;
  for (let i = 0; i < index.length; i++) {
    const e = index[i];
    if (at + e.bytes > bytes + size) r.bad(`truncated: tensor '${e.name}' needs ${e.bytes} bytes, ${bytes + size - at} are left`);
    const w = new Weight();
    readRecord(new Reader(at, at + e.bytes, path), e, w);
    if (e.cols == 1 && e.rows > 1) w.data = vectorF32(e.kind, w.data, e.rows, r);
    byName.set(e.name, w);
    at += e.bytes;
  }
  if (at != bytes + size) r.bad(`${bytes + size - at} bytes after the last tensor`);
  m.embed = get(byName, path, 'embed');
  m.norm = get(byName, path, 'norm');
  m.head = f.tied ? m.embed : get(byName, path, 'head');
  m.layers = heap.alloc(<usize>(m.nLayers * LAYER_WEIGHTS) << alignof<usize>());
  for (let l = 0; l < m.nLayers; l++) {
    for (let j = 0; j < LAYER_WEIGHTS; j++) store<usize>(m.layers + (<usize>(l * LAYER_WEIGHTS + j) << alignof<usize>()), get(byName, path, `layers.${l}.${LAYER_NAMES[j]}`));
  }
  m.ctx = ctx > 0 ? min(ctx, f.maxSeqLen) : min(f.maxSeqLen, 4096);
}

function zeroed(bytes: usize): usize {
  const p = heap.alloc(bytes);
  memory.fill(p, 0, bytes);
  return p;
}

function get(byName: Map<string, Weight>, path: string, name: string): usize {
  if (!byName.has(name)) fail(EXIT_INPUT, `${path}: tensor '${name}' is missing`);
  return changetype<usize>(byName.get(name));
}

/** Places the run state for batches of up to `batch` tokens, with an f16 KV cache (the CLI's default). */
export function placeRunState(m: Model, batch: i32): void {
  m.batch = batch;
  const hs = m.dim / m.nHeads;
  const kvDim = <usize>(m.nKvHeads * hs);
  const d = <usize>batch * <usize>m.dim << 2;
  const h = <usize>batch * <usize>m.hiddenDim << 2;
  m.x = zeroed(d);
  m.xb = zeroed(d);
  m.xb2 = zeroed(d);
  m.q = zeroed(d);
  m.att = zeroed(d);
  m.hb = zeroed(h);
  m.hb2 = zeroed(h);
  m.logits = zeroed(<usize>m.vocabSize << 2);
  m.k = zeroed(<usize>batch * kvDim << 2);
  m.v = zeroed(<usize>batch * kvDim << 2);
  m.kvMode = 1;
  m.kvResidual = 64;
  m.kv = zeroed(<usize>kvCacheBytes(m.nLayers, m.nKvHeads, hs, m.ctx, m.kvMode, m.kvResidual));
  m.attendScratch = zeroed(attendScratchBytes(hs, m.ctx));
  m.matmulScratch = zeroed(matmulScratchBytes(max(m.dim, m.hiddenDim)) + 64);
}
