// The llama2.c tokenizer as stored in a .sqz (pieces and scores): run.c's encode and decode, as
// src/tokenizer/llama2c.ts gives them (dummy prefix " ", <0xNN> byte fallback, merge the adjacent
// pair whose concatenation is the highest-scoring piece, leftmost on ties, until none is left).
import { StoredTokenizer } from './sqz';

const MIN_SCORE: f64 = -1e10;

export class Llama2c {
  strings: Array<string> = new Array<string>();
  ids: Map<string, i32> = new Map<string, i32>();
  byteIds: StaticArray<i32> = new StaticArray<i32>(256);
  /** For a <0xNN> piece, NN; else -1. */
  byteOf: Array<i32> = new Array<i32>();
  spaceId: i32 = 0;

  constructor(public t: StoredTokenizer) {
    const n = t.pieces.length;
    for (let i = 0; i < n; i++) {
      const s = String.UTF8.decodeUnsafe(t.pieces[i], t.pieceLens[i]);
      this.strings.push(s);
      if (!this.ids.has(s)) this.ids.set(s, i);
      this.byteOf.push(s.length == 6 && s.startsWith('<0x') && s.endsWith('>') ? hexByte(s.slice(3, 5)) : -1);
    }
    for (let b = 0; b < 256; b++) {
      const name = '<0x' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase() + '>';
      this.byteIds[b] = this.ids.has(name) ? this.ids.get(name) : 0;
    }
    this.spaceId = this.ids.has(' ') ? this.ids.get(' ') : this.byteIds[0x20];
  }

  encode(text: string): Array<i32> {
    const tokens = new Array<i32>();
    tokens.push(this.t.bos);
    if (text.length > 0) {
      tokens.push(this.spaceId);
      for (let i = 0; i < text.length; ) {
        const c = text.codePointAt(i);
        const ch = String.fromCodePoint(c);
        i += ch.length;
        if (this.ids.has(ch)) tokens.push(this.ids.get(ch));
        else {
          const b = Uint8Array.wrap(String.UTF8.encode(ch));
          for (let j = 0; j < b.length; j++) tokens.push(this.byteIds[b[j]]);
        }
      }
    }
    // run.c's merge loop
    while (true) {
      let best = MIN_SCORE, at = -1, merged = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const s = this.strings[tokens[i]] + this.strings[tokens[i + 1]];
        if (!this.ids.has(s)) continue;
        const id = this.ids.get(s);
        if (this.t.scores[id] > best) {
          best = this.t.scores[id];
          at = i;
          merged = id;
        }
      }
      if (at < 0) break;
      tokens[at] = merged;
      tokens.splice(at + 1, 1);
    }
    return tokens;
  }

  /** Writes the bytes of `id` after `prev` (run.c decode: BOS/EOS give nothing; after BOS a leading space is dropped) through `write`. */
  bytesOf(id: i32, prev: i32, write: (ptr: usize, len: usize) => void): void {
    if (id < 0 || id >= this.strings.length || id == this.t.bos || id == this.t.eos) return;
    const b = this.byteOf[id];
    if (b >= 0) {
      const p = heap.alloc(1);
      store<u8>(p, <u8>b);
      write(p, 1);
      return;
    }
    let p = this.t.pieces[id], n = <usize>this.t.pieceLens[id];
    if (prev == this.t.bos && n > 0 && load<u8>(p) == 0x20) {
      p++;
      n--;
    }
    if (n > 0) write(p, n);
  }
}

function hexByte(s: string): i32 {
  let v = 0;
  for (let i = 0; i < 2; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}
