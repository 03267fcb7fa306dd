// llama2.c tokenizer (tokenizer.bin): SentencePiece-style BPE driven by piece scores, with <0xNN>
// byte fallback. encode/decode give exactly what llama2.c's run.c `encode`/`decode` give; the merge
// loop uses a heap instead of run.c's rescan (merge.ts), so long texts stay fast (docs/TOKENIZERS.md).
import { FormatError } from '../util/errors.ts';
import { mergePairs, type MergeRules } from './merge.ts';
import type { TokenizerSpec } from './spec.ts';
import { type ControlToken, controlTokens, type EncodeOptions, type StreamDecoder, type Tokenizer } from './types.ts';

export type Llama2cSpec = Extract<TokenizerSpec, { kind: 'llama2c' }>;

/** llama2.c's fixed special ids (run.c: BOS 1, EOS 2). */
const BOS = 1;
const EOS = 2;
/** run.c only merges a pair whose score beats this starting value. */
const MIN_SCORE = -1e10;

/**
 * Parses a llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len and
 * len bytes of UTF-8 (all little-endian). `source` names the file in error messages.
 */
export function llama2cTokenizerSpec(bytes: Uint8Array, source: string): Llama2cSpec {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new FormatError(`${source}: ${bytes.byteLength} bytes is too short for a llama2.c tokenizer.bin`);
  const maxLen = dv.getInt32(0, true);
  if (maxLen <= 0 || maxLen > 1 << 16) {
    throw new FormatError(`${source}: max_token_length ${maxLen} is implausible; not a llama2.c tokenizer.bin?`);
  }
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const pieces: string[] = [];
  const scores: number[] = [];
  let pos = 4;
  while (pos < bytes.byteLength) {
    const id = pieces.length;
    if (pos + 8 > bytes.byteLength) {
      throw new FormatError(`${source}: truncated: token ${id} needs an 8-byte score/length header at byte ${pos}, the file ends at ${bytes.byteLength}`);
    }
    const score = dv.getFloat32(pos, true);
    const len = dv.getInt32(pos + 4, true);
    pos += 8;
    if (len < 0 || len > maxLen) throw new FormatError(`${source}: token ${id} has length ${len} (max_token_length is ${maxLen})`);
    if (pos + len > bytes.byteLength) {
      throw new FormatError(`${source}: truncated: token ${id} needs ${len} bytes at byte ${pos}, the file ends at ${bytes.byteLength}`);
    }
    let piece: string;
    try {
      piece = utf8.decode(bytes.subarray(pos, pos + len));
    } catch {
      throw new FormatError(`${source}: token ${id} is not valid UTF-8`);
    }
    if (Number.isNaN(score)) throw new FormatError(`${source}: token ${id} has a NaN score`);
    pos += len;
    pieces.push(piece);
    scores.push(score);
  }
  if (pieces.length <= EOS) throw new FormatError(`${source}: only ${pieces.length} tokens; llama2.c needs BOS=1 and EOS=2`);
  return { kind: 'llama2c', pieces, scores, bos: BOS, eos: EOS };
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

function checkSpec(spec: Llama2cSpec): void {
  const { pieces, scores, bos, eos } = spec;
  if (!Array.isArray(pieces) || !Array.isArray(scores) || pieces.length !== scores.length || pieces.length === 0) {
    throw new FormatError(`llama2c tokenizer spec: pieces (${pieces?.length}) and scores (${scores?.length}) must be non-empty and of one length`);
  }
  for (let i = 0; i < pieces.length; i++) {
    if (typeof pieces[i] !== 'string' || typeof scores[i] !== 'number') throw new FormatError(`llama2c tokenizer spec: token ${i} is malformed`);
  }
  for (const [name, id] of [['bos', bos], ['eos', eos]] as const) {
    if (!Number.isInteger(id) || id < 0 || id >= pieces.length) throw new FormatError(`llama2c tokenizer spec: ${name} ${id} is outside the vocabulary of ${pieces.length}`);
  }
}

export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly controls: readonly ControlToken[];
  private readonly pieces: string[];
  private readonly scores: Float64Array;
  /** Piece text → id (the first id when a piece repeats). */
  private readonly ids = new Map<string, number>();
  /** Byte b → id of its <0xNN> piece (llama2.c assumes b + 3; a vocabulary without one gives <unk> 0). */
  private readonly byteIds = new Int32Array(256);
  /** UTF-8 bytes each id decodes to (a <0xNN> piece: that one byte). */
  private readonly pieceBytes: Uint8Array[];
  /** Concatenation lookups, keyed left * vocabSize + right → merged id or -1. */
  private readonly pairs = new Map<number, number>();
  private readonly spaceId: number;

  constructor(spec: Llama2cSpec) {
    checkSpec(spec);
    this.pieces = spec.pieces;
    this.scores = Float64Array.from(spec.scores);
    this.vocabSize = spec.pieces.length;
    this.bos = spec.bos;
    this.eos = spec.eos;
    this.controls = controlTokens([[this.eos, spec.pieces[this.eos]], [this.bos, spec.pieces[this.bos]]]);
    const enc = new TextEncoder();
    this.pieceBytes = spec.pieces.map((p) => {
      const m = BYTE_PIECE.exec(p);
      return m ? Uint8Array.of(parseInt(m[1], 16)) : enc.encode(p);
    });
    spec.pieces.forEach((p, i) => {
      if (!this.ids.has(p)) this.ids.set(p, i);
    });
    for (let b = 0; b < 256; b++) this.byteIds[b] = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? 0;
    this.spaceId = this.ids.get(' ') ?? this.byteIds[0x20];
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const tokens: number[] = [];
    if (opts.bos ?? true) tokens.push(this.bos);
    if (text.length > 0) {
      // the dummy prefix: run.c prepends the piece " " to any non-empty text
      tokens.push(this.spaceId);
      const enc = new TextEncoder();
      for (const ch of text) {
        const id = this.ids.get(ch);
        if (id !== undefined) tokens.push(id);
        else for (const b of enc.encode(ch)) tokens.push(this.byteIds[b]);
      }
    }
    return this.merge(tokens);
  }

  /**
   * run.c's merge loop: repeatedly merge the adjacent pair whose concatenation is a piece with the
   * highest score (the leftmost on ties; only scores above -1e10, run.c's starting best), until none is left.
   */
  private merge(tokens: number[]): number[] {
    return mergePairs(tokens, this.rules);
  }

  private readonly rules: MergeRules = {
    pair: (a, b) => {
      const m = this.pairOf(a, b);
      return m >= 0 && this.scores[m] > MIN_SCORE ? m : -1;
    },
    merged: (m) => m,
    priority: (m) => this.scores[m],
  };

  private pairOf(a: number, b: number): number {
    const key = a * this.vocabSize + b;
    let m = this.pairs.get(key);
    if (m === undefined) {
      m = this.ids.get(this.pieces[a] + this.pieces[b]) ?? -1;
      this.pairs.set(key, m);
    }
    return m;
  }

  /** run.c decode(prev, id): BOS/EOS and unknown ids give nothing; a piece after BOS loses a leading space. */
  private bytesOf(id: number, prev: number): Uint8Array | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || id === this.bos || id === this.eos) return null;
    const b = this.pieceBytes[id];
    return prev === this.bos && this.pieces[id].startsWith(' ') ? b.subarray(1) : b;
  }

  decode(ids: number[]): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    let prev = -1;
    for (const id of ids) {
      const b = this.bytesOf(id, prev);
      if (Number.isInteger(id) && id >= 0 && id < this.vocabSize) prev = id;
      if (b && b.length) {
        parts.push(b);
        total += b.length;
      }
    }
    const all = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  streamDecoder(): StreamDecoder {
    const td = new TextDecoder('utf-8', { ignoreBOM: true });
    let prev = -1;
    return {
      push: (id: number): string => {
        const b = this.bytesOf(id, prev);
        if (Number.isInteger(id) && id >= 0 && id < this.vocabSize) prev = id;
        return b && b.length ? td.decode(b, { stream: true }) : '';
      },
      flush: (): string => td.decode(),
    };
  }
}
