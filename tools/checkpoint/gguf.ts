// GGUF import (llama.cpp's model file, v2/v3, architecture `llama`, `qwen2`, `gemma`, `gemma2` or `phi3`): config from the <arch>.* keys,
// the SentencePiece tokenizer from tokenizer.ggml.* (as a llama2c-kind spec), tensors in F32, F16,
// BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K dequantized to
// f32 one at a time.
// Q and K stay as stored: GGUF keeps them in the interleaved RoPE layout, so the config says rope
// 'interleaved'. phi3's fused attn_qkv and ffn_up are split into their parts by row ranges (no
// copy: rows are whole blocks of any type); Llama 3's rope_freqs becomes RoPE divisors. docs/GGUF.md.
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { tensorShapes, validateConfig } from '../../src/model/config.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { FormatError, SqzError, UnsupportedError, UsageError } from '../../src/util/errors.ts';
import { decodeGgml } from '../gguf/blocks.ts';
import { FUSED, canonicalPhi3Name, canonicalTensorName, checkArchitecture, configFromMetadata, ggufTensorName, ggufTokens, isRefusedTensor, metaNumber, tokenizerFromMetadata } from '../gguf/llama.ts';
import { type GgufHeader, type GgufTensorInfo, readGgufHeader } from '../gguf/read.ts';
import { GGML_TYPES, ggmlBytes, ggmlTypeName } from '../gguf/spec.ts';
import { checkLayerCount } from './checks.ts';
import { assertLittleEndianHost, fmtShape, readExact } from './tensors.ts';
import { readTokenizerFile } from './tokenizer.ts';
import type { Checkpoint } from './types.ts';

const SUPPORTED_TYPES = Object.values(GGML_TYPES).map((t) => t.name).join(', ');

interface Located {
  info: GgufTensorInfo;
  /** Absolute file offset of the data. */
  offset: number;
  bytes: number;
  numel: number;
}

/**
 * llama.cpp's layout rule: each tensor's data starts at the aligned end of the one before (the
 * first at 0), and the data section ends with the last tensor (its padding optional). So a tensor
 * whose type or shape was changed, overlapping or reordered data, and bytes after the last tensor
 * are all refused, naming the tensors. A tensor of a type whose size we do not know (one we
 * ignore) only has to start after the one before.
 */
function checkLayout(h: GgufHeader, size: number, source: string): void {
  const pad = (n: number) => Math.ceil(n / h.alignment) * h.alignment;
  let end = 0; // unpadded end of the previous tensor's data, relative to the data section
  let known = true;
  let prev: string | undefined;
  for (const t of h.tensors) {
    const start = known ? pad(end) : end;
    if (known ? t.offset !== start : t.offset < start) {
      const before = prev === undefined ? 'the first tensor starts at 0' : `${prev} ends at ${end}, so the next tensor starts at ${start}`;
      throw new FormatError(`${source}: tensor ${t.name} has data offset ${t.offset}, but ${before} (a retyped or resized tensor, or overlapping data?)`);
    }
    const type = GGML_TYPES[t.type];
    known = type !== undefined && t.ne[0] % type.blockSize === 0;
    end = t.offset + (known ? ggmlBytes(type, t.ne.reduce((a, b) => a * b, 1)) : 1);
    prev = `${t.name} (${ggmlTypeName(t.type)} ${fmtShape(t.ne)})`;
  }
  const last = h.dataOffset + pad(end);
  if (known && prev !== undefined && size > last) {
    throw new FormatError(`${source}: ${size - last} bytes after the last tensor's data (${prev}) belong to no tensor (a retyped or resized tensor?)`);
  }
}

/** rope_freqs.weight (Llama 3's scaling as llama.cpp's converter stores it: one divisor per RoPE pair), as numbers. */
async function readRopeFreqs(fh: FileHandle, h: GgufHeader, t: GgufTensorInfo, size: number, source: string): Promise<Float32Array> {
  const type = GGML_TYPES[t.type];
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (!type || n % type.blockSize) throw new UnsupportedError(`${source}: tensor rope_freqs.weight has type ${ggmlTypeName(t.type)}, which is not supported`);
  const offset = h.dataOffset + t.offset;
  const bytes = ggmlBytes(type, n);
  if (offset + bytes > size) throw new FormatError(`${source}: truncated: tensor rope_freqs.weight needs bytes ${offset}..${offset + bytes}, the file has ${size}`);
  return decodeGgml(t.type, await readExact(fh, offset, bytes, `${source}: tensor rope_freqs.weight`), n);
}

export async function openGguf(path: string, opts: { tokenizer?: string } = {}): Promise<Checkpoint> {
  assertLittleEndianHost();
  const name = basename(path);
  const source = `GGUF ${name}`;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const h = await readGgufHeader(fh, size, name);
    checkLayout(h, size, source);
    const md = h.metadata;
    const arch = checkArchitecture(md, source);

    const stored = new Map<string, GgufTensorInfo>();
    const ignored: string[] = [];
    let ropeFreqs: GgufTensorInfo | undefined;
    for (const t of h.tensors) {
      if (isRefusedTensor(t.name)) throw new UnsupportedError(`${source}: tensor ${t.name} is not supported (the llama forward pass here has no place for it)`);
      const c = arch === 'phi3' ? canonicalPhi3Name(t.name) : canonicalTensorName(t.name);
      if (t.name === 'rope_freqs.weight') ropeFreqs = t;
      else if (c === undefined) ignored.push(t.name);
      else stored.set(c, t);
    }

    const tokens = ggufTokens(md, source);
    const embed = stored.get('embed');
    const vocabSize = tokens?.length ?? metaNumber(md, `${arch}.vocab_size`, source, { int: true }) ?? embed?.ne[1];
    if (vocabSize === undefined) throw new FormatError(`${source}: cannot tell the vocabulary size (no tokenizer.ggml.tokens, ${arch}.vocab_size or token_embd.weight)`);
    const notes: string[] = [];
    let tokenizer: TokenizerSpec;
    if (opts.tokenizer) tokenizer = await readTokenizerFile(opts.tokenizer, vocabSize, { configs: [] });
    else {
      const t = tokenizerFromMetadata(md, source);
      tokenizer = t.spec;
      notes.push(...t.notes);
    }
    const config = configFromMetadata(md, source, vocabSize, !stored.has('head'), arch);
    if (ropeFreqs) config.ropeScaling = { kind: 'factors', divisors: Array.from(await readRopeFreqs(fh, h, ropeFreqs, size, source)) };
    validateConfig(config, source, { nLayers: 'block_count' });
    checkLayerCount(h.tensors.map((t) => t.name), config.nLayers, /^blk\.(\d+)\./, `${source}: block_count`);
    if (ignored.length) notes.push(`ignored tensors: ${ignored.join(', ')}`);

    const shapes = tensorShapes(config);
    const locate = (canonical: string, shape: number[]): Located => {
      const info = stored.get(canonical);
      if (!info) throw new FormatError(`${source}: tensor ${ggufTensorName(canonical)} (${canonical}) is missing`);
      const ne = info.ne.slice();
      while (ne.length > shape.length && ne[ne.length - 1] === 1) ne.pop();
      const got = ne.slice().reverse();
      if (fmtShape(got) !== fmtShape(shape)) {
        throw new FormatError(`${source}: tensor ${info.name} (${canonical}) has shape ${fmtShape(got)} (ggml ne ${fmtShape(info.ne)}), expected ${fmtShape(shape)}`);
      }
      const type = GGML_TYPES[info.type];
      if (!type) throw new UnsupportedError(`${source}: tensor ${info.name} (${canonical}) has type ${ggmlTypeName(info.type)}, which is not supported (supported: ${SUPPORTED_TYPES})`);
      if (info.ne[0] % type.blockSize) {
        throw new FormatError(`${source}: tensor ${info.name} has ${info.ne[0]} columns, not a multiple of ${type.name}'s block of ${type.blockSize}`);
      }
      const numel = shape.reduce((a, b) => a * b, 1);
      const bytes = ggmlBytes(type, numel);
      const offset = h.dataOffset + info.offset;
      if (offset + bytes > size) {
        throw new FormatError(`${source}: truncated: tensor ${info.name} (${type.name}) needs bytes ${offset}..${offset + bytes}, the file has ${size}`);
      }
      return { info, offset, bytes, numel };
    };
    const table = new Map<string, Located>();
    const fusedUsed = new Set<string>();
    for (const [canonical, shape] of shapes) {
      if (table.has(canonical)) continue;
      const m = /^(layers\.\d+\.)(.+)$/.exec(canonical);
      const fused = m && arch === 'phi3' ? Object.keys(FUSED).find((f) => FUSED[f].includes(m[2])) : undefined;
      if (!fused) {
        table.set(canonical, locate(canonical, shape));
        continue;
      }
      // phi3: the parts of a fused matrix are consecutive row ranges of it
      const partNames = FUSED[fused].map((n) => m![1] + n);
      const partShapes = partNames.map((n) => shapes.get(n)!);
      const whole = locate(m![1] + fused, [partShapes.reduce((r, sh) => r + sh[0], 0), shape[1]]);
      fusedUsed.add(m![1] + fused);
      const rowBytes = ggmlBytes(GGML_TYPES[whole.info.type], shape[1]);
      let row = 0;
      partNames.forEach((n, i) => {
        const rows = partShapes[i][0];
        table.set(n, { info: whole.info, offset: whole.offset + row * rowBytes, bytes: rows * rowBytes, numel: rows * shape[1] });
        row += rows;
      });
    }
    for (const [canonical, info] of stored) {
      if (shapes.has(canonical) || fusedUsed.has(canonical)) continue;
      // a bias the architecture does not have (llama's q bias, qwen2's o bias) changes what the model computes
      if (canonical.endsWith('_bias')) throw new UnsupportedError(`${source}: tensor ${info.name} is not supported (the ${arch} architecture has no place for it)`);
      throw new FormatError(`${source}: tensor ${info.name} does not fit the config (block_count ${config.nLayers})`);
    }

    const names = [...shapes.keys()];
    let closed = false;
    return {
      source,
      config,
      tokenizer,
      names: () => names.slice(),
      shape(n: string): number[] {
        const s = shapes.get(n);
        if (!s) throw new UsageError(`${source}: no tensor named '${n}'`);
        return s.slice();
      },
      async read(n: string): Promise<Float32Array> {
        if (closed) throw new SqzError(`${source}: read('${n}') after close()`);
        const t = table.get(n);
        if (!t) throw new UsageError(`${source}: no tensor named '${n}'`);
        const bytes = await readExact(fh, t.offset, t.bytes, `${path}: tensor ${t.info.name}`);
        return decodeGgml(t.info.type, bytes, t.numel);
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await fh.close();
      },
      ...(notes.length ? { notes } : {}),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
