// A brute-force BPE tokenizer written apart from src/tokenizer (which runs on Tokenizers.js), as the
// test oracle for the Llama 3 / Qwen2 byte-level and Gemma SentencePiece-style files: the split
// patterns translated into JS regexes by hand, GPT-2's byte map rebuilt here, and BPE as a rescan
// of every pair after each merge (lowest merge rank, leftmost on ties). Slow on purpose: obvious.

/** The split patterns as JS regexes; `(?i:'s|...)` spelled out as character classes (Node 20 has no modifiers). */
const CONTRACTIONS = "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])";
const REST = String.raw`| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
export const SPLIT = {
  /** Llama 3: digits in runs of up to 3. */
  llama3: new RegExp(String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}${REST}`, 'gu'),
  /** Qwen2: every digit alone. */
  qwen2: new RegExp(String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}${REST}`, 'gu'),
};

/** The byte → character map of GPT-2 byte-level BPE: printable Latin-1 bytes stand for themselves, the rest go to U+0100.. in order. */
export function byteToChar(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) out[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(next++);
  return out;
}

/** Splits text at special tokens (leftmost, longest on ties): [piece, isSpecial][]. */
export function splitSpecials(text: string, specials: readonly string[]): Array<[string, boolean]> {
  const out: Array<[string, boolean]> = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const hit = specials.filter((s) => text.startsWith(s, i)).sort((a, b) => b.length - a.length)[0];
    if (hit === undefined) {
      i++;
      continue;
    }
    if (i > start) out.push([text.slice(start, i), false]);
    out.push([hit, true]);
    i += hit.length;
    start = i;
  }
  if (start < text.length) out.push([text.slice(start), false]);
  return out;
}

/** BPE by rescanning: merge the adjacent pair of lowest rank (leftmost on ties) until none is left. */
export function bpe(symbols: string[], rank: ReadonlyMap<string, number>): string[] {
  const s = [...symbols];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = rank.get(`${s[i]} ${s[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return s;
    s.splice(best, 2, s[best] + s[best + 1]);
  }
}

export interface ReferenceVocab {
  vocab: Record<string, number>;
  merges: Array<[string, string]>;
  /** Special tokens by content. */
  specials: Record<string, number>;
}

function ranks(merges: Array<[string, string]>): Map<string, number> {
  const m = new Map<string, number>();
  merges.forEach(([a, b], r) => m.set(`${a} ${b}`, r));
  return m;
}

/** Ids of text: special tokens as they are, the text between them through `pieces`. */
function encodeAround(text: string, v: ReferenceVocab, pieces: (plain: string) => string[]): number[] {
  const ids: number[] = [];
  for (const [piece, special] of splitSpecials(text, Object.keys(v.specials))) {
    if (special) ids.push(v.specials[piece]);
    else for (const p of pieces(piece)) ids.push(v.vocab[p]);
  }
  return ids;
}

/** Byte-level encode (Llama 3 with ignoreMerges, Qwen2 with NFC): ids of text, no BOS. */
export function byteLevelEncode(text: string, v: ReferenceVocab, split: RegExp, opts: { ignoreMerges: boolean; nfc: boolean }): number[] {
  const map = byteToChar();
  const rank = ranks(v.merges);
  return encodeAround(text, v, (plain) =>
    [...(opts.nfc ? plain.normalize('NFC') : plain).matchAll(split)].flatMap((m) => {
      const chars = [...new TextEncoder().encode(m[0])].map((b) => map[b]);
      const word = chars.join('');
      return opts.ignoreMerges && Object.hasOwn(v.vocab, word) ? [word] : bpe(chars, rank);
    }),
  );
}

/** Byte-level decode: special tokens left out, characters mapped back to bytes, UTF-8 (bad bytes U+FFFD). */
export function byteLevelDecode(ids: number[], v: ReferenceVocab): string {
  const map = byteToChar();
  const byteOf = new Map(map.map((c, b) => [c, b]));
  const piece = new Map(Object.entries(v.vocab).map(([p, id]) => [id, p]));
  const specialIds = new Set(Object.values(v.specials));
  const bytes: number[] = [];
  for (const id of ids) if (!specialIds.has(id)) for (const c of piece.get(id)!) bytes.push(byteOf.get(c)!);
  return new TextDecoder().decode(new Uint8Array(bytes));
}

export const hexPiece = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Gemma-style encode: spaces → ▁, no dummy prefix, no pre-split; characters without a piece become <0xNN> byte pieces before BPE. */
export function sentencePieceEncode(text: string, v: ReferenceVocab): number[] {
  const rank = ranks(v.merges);
  return encodeAround(text, v, (plain) => {
    const symbols: string[] = [];
    for (const ch of plain.replaceAll(' ', '▁')) {
      if (Object.hasOwn(v.vocab, ch)) symbols.push(ch);
      else for (const b of new TextEncoder().encode(ch)) symbols.push(hexPiece(b));
    }
    return bpe(symbols, rank);
  });
}

/** Gemma-style decode: special tokens left out, ▁ → space, byte pieces assembled as UTF-8, nothing stripped. */
export function sentencePieceDecode(ids: number[], v: ReferenceVocab): string {
  const piece = new Map(Object.entries(v.vocab).map(([p, id]) => [id, p]));
  const specialIds = new Set(Object.values(v.specials));
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (const id of ids) {
    if (specialIds.has(id)) continue;
    const p = piece.get(id)!;
    const byte = /^<0x([0-9A-F]{2})>$/.exec(p);
    if (byte) bytes.push(parseInt(byte[1], 16));
    else bytes.push(...enc.encode(p.replaceAll('▁', ' ')));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * Learns `count` merges from `words` (each a list of symbols) the classic way: the most frequent
 * adjacent pair, ties to the pair first seen; deterministic for a given corpus. Pairs seen once
 * merge too, so a small corpus still gives whole-word pieces.
 */
export function learnMerges(words: string[][], count: number): Array<[string, string]> {
  const ws = words.map((w) => [...w]);
  const merges: Array<[string, string]> = [];
  for (let k = 0; k < count; k++) {
    const freq = new Map<string, number>();
    for (const w of ws) for (let i = 0; i + 1 < w.length; i++) freq.set(`${w[i]}\u0000${w[i + 1]}`, (freq.get(`${w[i]}\u0000${w[i + 1]}`) ?? 0) + 1);
    let best: string | null = null;
    for (const [p, f] of freq) if (best === null || f > freq.get(best)!) best = p;
    if (best === null) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of ws) {
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
    }
  }
  return merges;
}
