// llama2.c checkpoints (Karpathy's export.py).
//   v0 (legacy): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then
//     f32 in run.c order: token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
//     freq_cis_real, freq_cis_imag, then wcls when vocab_size < 0 (unshared classifier).
//   v1: 256-byte header: uint32 magic "ak42" (0x616b3432), int32 version, the 7 int32, uint8
//     shared_classifier, zero padding; then f32: rms_att, rms_ffn, rms_final, token_embedding, wq, wk,
//     wv, wo, w1, w2, w3, and wcls when not shared. No freq_cis tables.
//   v2 (int8): the v1 header plus int32 group_size at byte 37; then f32 rms_att, rms_ffn,
//     rms_final; then each weight as its int8 values followed by one f32 scale per group_size
//     values (w = q * scale): token_embedding, wq, wk, wv, wo, w1, w2, w3 (each per layer), and
//     wcls when not shared. Read into f32 (the only rounding is q * scale, as llama2.c's).
// Every per-layer block holds all layers back to back; matrices are PyTorch [out, in] row-major.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { type ModelConfig, headSize, kvDim, validateConfig } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { assertLittleEndianHost, makeCheckpoint, numel, readExact, storedBytes, type TensorRef } from './tensors.ts';
import { readTokenizerFile } from './tokenizer.ts';
import type { Checkpoint } from './types.ts';

export const LLAMA2C_MAGIC = 0x616b3432;
const V1_HEADER_BYTES = 256;

interface Header {
  version: 0 | 1 | 2;
  headerBytes: number;
  /** Version 2: values per f32 scale of the int8 weights. */
  groupSize: number;
  config: ModelConfig;
  /** The classifier is stored after everything else. */
  unshared: boolean;
}

/** One block of the file: `count` tensors of `shape` back to back, named by `name(i)` (skipped when null). */
interface Block {
  name: ((i: number) => string) | null;
  stored: string;
  count: number;
  shape: number[];
  /** How each tensor is stored: f32, or (version 2 weights) int8 with f32 group scales. */
  dtype: 'F32' | 'Q8G';
}

function blocks(h: Header): Block[] {
  const c = h.config;
  const L = c.nLayers;
  const kv = kvDim(c);
  const layer = (what: string) => (i: number) => `layers.${i}.${what}`;
  const w = h.version === 2 ? 'Q8G' : 'F32';
  const embed: Block = { name: () => 'embed', stored: 'token_embedding_table', count: 1, shape: [c.vocabSize, c.dim], dtype: w };
  const rmsAtt: Block = { name: layer('attn_norm'), stored: 'rms_att_weight', count: L, shape: [c.dim], dtype: 'F32' };
  const rmsFfn: Block = { name: layer('mlp_norm'), stored: 'rms_ffn_weight', count: L, shape: [c.dim], dtype: 'F32' };
  const rmsFinal: Block = { name: () => 'norm', stored: 'rms_final_weight', count: 1, shape: [c.dim], dtype: 'F32' };
  const mats: Block[] = [
    { name: layer('attn.q'), stored: 'wq', count: L, shape: [c.dim, c.dim], dtype: w },
    { name: layer('attn.k'), stored: 'wk', count: L, shape: [kv, c.dim], dtype: w },
    { name: layer('attn.v'), stored: 'wv', count: L, shape: [kv, c.dim], dtype: w },
    { name: layer('attn.o'), stored: 'wo', count: L, shape: [c.dim, c.dim], dtype: w },
  ];
  const ffn: Block[] = [
    { name: layer('mlp.gate'), stored: 'w1', count: L, shape: [c.hiddenDim, c.dim], dtype: w },
    { name: layer('mlp.down'), stored: 'w2', count: L, shape: [c.dim, c.hiddenDim], dtype: w },
    { name: layer('mlp.up'), stored: 'w3', count: L, shape: [c.hiddenDim, c.dim], dtype: w },
  ];
  const wcls: Block[] = h.unshared ? [{ name: () => 'head', stored: 'wcls', count: 1, shape: [c.vocabSize, c.dim], dtype: w }] : [];
  if (h.version >= 1) return [rmsAtt, rmsFfn, rmsFinal, embed, ...mats, ...ffn, ...wcls];
  const freq = (part: string): Block => ({ name: null, stored: `freq_cis_${part}`, count: 1, shape: [c.maxSeqLen, headSize(c) / 2], dtype: 'F32' });
  return [embed, rmsAtt, ...mats, rmsFfn, ...ffn, rmsFinal, freq('real'), freq('imag'), ...wcls];
}

/** Bytes one tensor of block b takes in the file. */
const tensorBytes = (b: Block, groupSize: number): number => storedBytes(b.dtype, numel(b.shape), groupSize);

/** File size the header implies, in bytes. */
export function llama2cExpectedBytes(h: Header): number {
  return h.headerBytes + blocks(h).reduce((s, b) => s + b.count * tensorBytes(b, h.groupSize), 0);
}

function configFrom(ints: Int32Array, vocab: number, tied: boolean): ModelConfig {
  return {
    arch: 'llama',
    dim: ints[0],
    hiddenDim: ints[1],
    nLayers: ints[2],
    nHeads: ints[3],
    nKvHeads: ints[4],
    vocabSize: vocab,
    maxSeqLen: ints[6],
    ropeTheta: 10000,
    normEps: 1e-5,
    tiedEmbeddings: tied,
    rope: 'interleaved',
  };
}

async function readHeader(fh: FileHandle, path: string, size: number): Promise<Header> {
  const name = basename(path);
  if (size < 28) throw new FormatError(`${name}: ${size} bytes is too short for a llama2.c checkpoint (header is 28 bytes)`);
  const head = await readExact(fh, 0, Math.min(size, V1_HEADER_BYTES), name);
  const ascii = String.fromCharCode(...head.subarray(0, 4));
  if (ascii === 'GGUF') throw new FormatError(`${name}: this is a GGUF file; give it a .gguf extension`);
  if (ascii.startsWith('PK')) throw new FormatError(`${name}: this is a zip (a PyTorch pytorch_model.bin?), not a llama2.c checkpoint`);
  const dv = new DataView(head.buffer);
  if (dv.getUint32(0, true) === LLAMA2C_MAGIC) {
    const version = dv.getInt32(4, true);
    if (version !== 1 && version !== 2) throw new UnsupportedError(`${name}: llama2.c checkpoint version ${version} is not supported (versions 0, 1 and 2 are)`);
    if (size < V1_HEADER_BYTES) throw new FormatError(`${name}: truncated: a version ${version} header is ${V1_HEADER_BYTES} bytes, the file has ${size}`);
    const ints = new Int32Array(head.buffer.slice(8, 36));
    const shared = head[36];
    if (shared > 1) throw new FormatError(`${name}: shared_classifier flag is ${shared}, expected 0 or 1`);
    const config = configFrom(ints, ints[5], shared === 1);
    const groupSize = version === 2 ? dv.getInt32(37, true) : 0;
    if (version === 2) checkGroupSize(name, groupSize, config);
    return { version, headerBytes: V1_HEADER_BYTES, groupSize, config, unshared: shared === 0 };
  }
  const ints = new Int32Array(head.buffer.slice(0, 28));
  const vocab = ints[5];
  return { version: 0, headerBytes: 28, groupSize: 0, config: configFrom(ints, Math.abs(vocab), vocab > 0), unshared: vocab < 0 };
}

/** export.py requires every quantized tensor to be a whole number of groups; so do we (dim divides all of them). */
function checkGroupSize(name: string, groupSize: number, c: ModelConfig): void {
  if (!(groupSize > 0) || groupSize > 1 << 20) throw new FormatError(`${name}: version 2 group_size is ${groupSize}, expected a positive integer`);
  if (c.dim > 0 && c.dim % groupSize) throw new FormatError(`${name}: version 2 group_size ${groupSize} does not divide dim ${c.dim}`);
}

/** Opens a llama2.c .bin; `tokenizer` is a tokenizer.bin path (nothing is looked up next to the checkpoint). */
export async function openLlama2c(path: string, opts: { tokenizer?: string } = {}): Promise<Checkpoint> {
  assertLittleEndianHost();
  const name = basename(path);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const h = await readHeader(fh, path, size);
    const source = `llama2.c ${name}`;
    validateConfig(h.config, source);

    const want = llama2cExpectedBytes(h);
    if (size !== want) {
      const other = llama2cExpectedBytes({ ...h, unshared: !h.unshared });
      const hint =
        size === other
          ? ` (that is the size ${h.unshared ? 'without' : 'with'} a separate classifier, but the header says the classifier is ${h.unshared ? 'unshared' : 'shared'})`
          : '';
      const what = size < want ? 'truncated' : 'shape does not match config';
      throw new FormatError(`${source}: ${what}: the header (${describe(h.config)}) implies ${want} bytes, the file has ${size}${hint}`);
    }

    const tensors = new Map<string, TensorRef>();
    let offset = h.headerBytes;
    for (const b of blocks(h)) {
      const bytes = tensorBytes(b, h.groupSize);
      for (let i = 0; i < b.count; i++, offset += bytes) {
        if (!b.name) continue;
        const stored = b.count > 1 ? `${b.stored}[${i}]` : b.stored;
        const group = b.dtype === 'Q8G' ? { groupSize: h.groupSize } : {};
        tensors.set(b.name(i), { fh, file: path, offset, dtype: b.dtype, ...group, shape: b.shape.slice(), storedName: stored });
      }
    }

    let tokenizer: TokenizerSpec | undefined;
    if (opts.tokenizer) tokenizer = await readTokenizerFile(opts.tokenizer, h.config.vocabSize, { configs: [] });
    return makeCheckpoint({ source, config: h.config, tokenizer, tensors, handles: [fh] });
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function describe(c: ModelConfig): string {
  return `dim ${c.dim}, hidden_dim ${c.hiddenDim}, n_layers ${c.nLayers}, n_heads ${c.nHeads}, n_kv_heads ${c.nKvHeads}, vocab ${c.vocabSize}, seq_len ${c.maxSeqLen}`;
}
