// llama2.c tokenizer: the reference ids of tok512.bin, a hand-built vocabulary whose merge order is
// worked out by hand, a plain transliteration of run.c's O(n^2) merge loop checked against the
// heap-based encoder, round trips on real text, streaming, and malformed files.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, llama2cTokenizerSpec, type Tokenizer, type TokenizerSpec } from '../../src/tokenizer/index.ts';
import { FormatError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { absent, sharedFile, sharedFiles, skip } from '../helpers.ts';

const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Serializes pieces/scores the way llama2.c's tokenizer.py export writes tokenizer.bin. */
function tokenizerBin(pieces: string[], scores: number[]): Uint8Array {
  const enc = new TextEncoder();
  const bytes = pieces.map((p) => enc.encode(p));
  const out = new Uint8Array(4 + bytes.reduce((s, b) => s + 8 + b.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, Math.max(...bytes.map((b) => b.length)), true);
  let o = 4;
  bytes.forEach((b, i) => {
    dv.setFloat32(o, scores[i], true);
    dv.setInt32(o + 4, b.length, true);
    out.set(b, o + 8);
    o += 8 + b.length;
  });
  return out;
}

// A tiny vocabulary laid out like llama2.c's: 0 <unk>, 1 BOS, 2 EOS, 3..258 the bytes, then pieces.
const HAND: Array<[string, number]> = [
  [' ', -100], // 259
  ['a', -100], // 260
  ['b', -100], // 261
  ['c', -100], // 262
  ['ab', -1], // 263
  ['bc', -2], // 264
  ['abc', -3], // 265
  [' a', -5], // 266
  ['ca', -0.5], // 267
  ['aa', -4], // 268
  [' ab', -6], // 269
  ['cc', -1e10], // 270: at run.c's starting best score, so never merged
];
const handPieces = ['<unk>', '\n<s>\n', '\n</s>\n', ...Array.from({ length: 256 }, (_, b) => hex(b)), ...HAND.map((h) => h[0])];
const handScores = [0, 0, 0, ...new Array(256).fill(0), ...HAND.map((h) => h[1])];
const handBin = tokenizerBin(handPieces, handScores);
const hand = createTokenizer(llama2cTokenizerSpec(handBin, 'hand.bin'));

/** run.c `encode`, transliterated loop for loop (rescans every pair after each merge). */
function runcEncode(pieces: string[], scores: number[], text: string, bos: boolean): number[] {
  const lookup = new Map<string, number>();
  pieces.forEach((p, i) => lookup.has(p) || lookup.set(p, i));
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (text !== '') tokens.push(lookup.get(' ')!);
  for (const ch of text) {
    const id = lookup.get(ch);
    if (id !== undefined) tokens.push(id);
    else for (const b of new TextEncoder().encode(ch)) tokens.push(b + 3);
  }
  for (;;) {
    let bestScore = -1e10, bestId = -1, bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(pieces[tokens[i]] + pieces[tokens[i + 1]]);
      if (id !== undefined && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

test('hand-built vocabulary: merge order worked out by hand', () => {
  // "abc": [BOS ' ' a b c]; candidates ' a'(-5) ab(-1) bc(-2) -> ab; then ' ab'(-6) abc(-3) -> abc; ' abc' is no piece
  assert.equal(hand.encode('abc'), [1, 259, 265]);
  // "bca": bc(-2) and ca(-0.5): the higher score wins although bc is further left -> [' ' b ca]; 'bca' is no piece
  assert.equal(hand.encode('bca'), [1, 259, 261, 267]);
  // "aaa": ' a'(-5), aa(-4) twice: the tie goes to the leftmost aa -> [' ' aa a]; ' aa'/'aaa' are no pieces
  assert.equal(hand.encode('aaa'), [1, 259, 268, 260]);
  // "ab" without BOS: ab(-1) beats ' a'(-5), then ' ab'(-6) merges
  assert.equal(hand.encode('ab', { bos: false }), [269]);
  // "a": ' a'(-5)
  assert.equal(hand.encode('a'), [1, 266]);
  // "cc": the pair scores exactly -1e10, which run.c's `>` never takes
  assert.equal(hand.encode('cc'), [1, 259, 262, 262]);
  // "é" is no piece: its UTF-8 bytes C3 A9 become <0xC3> <0xA9> = byte + 3
  assert.equal(hand.encode('é'), [1, 259, 0xc3 + 3, 0xa9 + 3]);
  // "x ab": ' '(dummy) x ' ' a b: ab first, then ' ab' on the right; the dummy ' ' has 'x' (a byte token) after it
  assert.equal(hand.encode('x ab'), [1, 259, 0x78 + 3, 269]);
  assert.equal(hand.encode(''), [1]);
  assert.equal(hand.encode('', { bos: false }), []);
});

test('hand-built vocabulary: decoding', () => {
  assert.is(hand.decode([1, 259, 265]), 'abc', 'the dummy-prefix space after BOS is dropped');
  assert.is(hand.decode([259, 265]), ' abc', 'no BOS: the space stays');
  assert.is(hand.decode([1, 269]), 'ab', "' ab' after BOS loses its space");
  assert.is(hand.decode([1, 259, 0xc3 + 3, 0xa9 + 3, 2]), 'é', 'byte tokens are assembled; EOS gives nothing');
  assert.is(hand.decode([1, 0x20 + 3, 260]), ' a', 'a <0x20> byte after BOS is not stripped (run.c checks the piece text)');
  assert.is(hand.decode([1, 260, 1, 266]), 'aa', 'a space is stripped after every BOS');
  assert.is(hand.decode([0, 99999, -1]), '<unk>', 'ids outside the vocabulary give nothing');
});

test('heap-based merging equals run.c rescanning on random strings (hand vocabulary)', () => {
  const rng = new Rng(11);
  const alphabet = ['a', 'b', 'c', ' ', 'é', 'x', '😀'];
  for (let k = 0; k < 400; k++) {
    const len = rng.int(24);
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[rng.int(alphabet.length)];
    const bos = k % 3 !== 0;
    assert.equal(hand.encode(s, { bos }), runcEncode(handPieces, handScores, s, bos), JSON.stringify(s));
  }
});

const tokPath = sharedFile('models/tok512.bin');
const tok: Tokenizer | null = tokPath ? createTokenizer(llama2cTokenizerSpec(readFileSync(tokPath), 'tok512.bin')) : null;
const spec = tokPath ? (llama2cTokenizerSpec(readFileSync(tokPath), 'tok512.bin') as Extract<TokenizerSpec, { kind: 'llama2c' }>) : null;

test('tok512.bin: provenance reference ids', () => {
  if (!tok) return skip(absent('models/tok512.bin'));
  assert.is(tok.vocabSize, 512);
  assert.is(tok.bos, 1);
  assert.is(tok.eos, 2);
  assert.equal(tok.encode('Once upon a time'), [1, 403, 407, 261, 378]);
  assert.equal(tok.encode('Once upon a time', { bos: false }), [403, 407, 261, 378]);
  assert.is(tok.decode([1, 403, 407, 261, 378]), 'Once upon a time');
});

test('tok512.bin: heap-based merging equals run.c rescanning on story lines', () => {
  if (!tok || !spec) return skip(absent('models/tok512.bin'));
  const p = sharedFiles('data/tinystories/tinystories_valid_head.txt')?.[0];
  if (!p) return;
  const lines = readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 150);
  for (const line of [...lines, 'Ünïcödé — “quotes” 😀 中文', '  two leading spaces', 'tab\tand\nnewline']) {
    assert.equal(tok.encode(line), runcEncode(spec.pieces, spec.scores, line, true), JSON.stringify(line));
  }
});

// Round trip: with BOS, decode(encode(t)) === t for any string without lone surrogates: the dummy
// prefix " " merges into the first piece and run.c's decode strips one leading space from the
// piece after BOS; text with no piece falls back to <0xNN> bytes. Without BOS nothing is stripped,
// so decode(encode(t, {bos:false})) === ' ' + t for non-empty t.
function roundTrip(t: Tokenizer, text: string, what: string) {
  assert.ok(t.decode(t.encode(text)) === text, `${what}: decode(encode(t)) !== t`);
  assert.ok(t.decode(t.encode(text, { bos: false })) === ' ' + text, `${what}: without BOS the dummy-prefix space should stay`);
}

test('tok512.bin: round trip on TinyStories, wikitext and unicode', () => {
  if (!tok) return skip(absent('models/tok512.bin'));
  for (const s of ['', ' leading space', 'Héllo wörld 😀 ∑ 中文 \u{1F468}\u200D\u{1F469}', '\n\n\ttabs', '\uFEFFbom']) {
    assert.is(tok.decode(tok.encode(s)), s);
    if (s) assert.is(tok.decode(tok.encode(s, { bos: false })), ' ' + s);
  }
  const ts = sharedFile('data/tinystories/tinystories_valid_head.txt');
  if (ts) roundTrip(tok, readFileSync(ts, 'utf8').slice(0, 200_000), 'tinystories 200 KB');
  const wiki = sharedFile('data/wikitext-2-raw/wiki.test.raw');
  if (wiki) roundTrip(tok, readFileSync(wiki, 'utf8').slice(0, 300_000), 'wiki.test.raw 300 KB');
});

test('tok512.bin: stream decoding equals decode, holding back split UTF-8', () => {
  if (!tok) return skip(absent('models/tok512.bin'));
  const text = 'Lily saw a café — “naïve” 😀 in 中文. The end.';
  const ids = tok.encode(text);
  const d = tok.streamDecoder();
  const pieces = ids.map((id) => d.push(id));
  assert.is(pieces.join('') + d.flush(), tok.decode(ids));
  assert.is(tok.decode(ids), text);
  // '😀' is four byte tokens: the first three give '' and the fourth the whole character
  const at = pieces.indexOf('😀');
  assert.ok(at >= 3 && pieces.slice(at - 3, at).every((p) => p === ''), 'emoji bytes held back until complete');
  // an incomplete sequence at the end comes out as U+FFFD on flush, like decode
  const d2 = tok.streamDecoder();
  assert.is(d2.push(1) + d2.push(0xf0 + 3) + d2.push(0x9f + 3), '');
  assert.is(d2.flush(), '\uFFFD');
  assert.is(tok.decode([1, 0xf0 + 3, 0x9f + 3]), '\uFFFD');
});

test('tokenizer.bin parse errors name the problem', () => {
  const err = (bytes: Uint8Array, re: RegExp) => {
    try {
      llama2cTokenizerSpec(bytes, 'bad.bin');
    } catch (e) {
      assert.instance(e, FormatError);
      assert.match((e as Error).message, re);
      assert.match((e as Error).message, /^bad\.bin: /);
      return;
    }
    assert.unreachable(`no error for ${bytes.length} bytes`);
  };
  err(handBin.subarray(0, 2), /too short/);
  err(handBin.subarray(0, handBin.length - 1), /truncated: token 270 needs 2 bytes/);
  err(handBin.subarray(0, handBin.length - 5), /truncated: token 270 needs an 8-byte/);
  err(handBin.subarray(0, 4 + 8 + 5 + 8 + 4), /truncated/); // only <unk> and BOS's header: the file ends inside a token
  err(handBin.subarray(0, 4 + 8 + 5), /only 1 tokens/);
  const neg = handBin.slice();
  new DataView(neg.buffer).setInt32(0, -3, true);
  err(neg, /max_token_length -3/);
  if (tokPath) {
    const real = readFileSync(tokPath);
    err(real.subarray(0, 3000), /truncated/);
  }
});

test('createTokenizer rejects malformed llama2c specs', () => {
  assert.throws(() => createTokenizer({ kind: 'llama2c', pieces: ['a'], scores: [], bos: 0, eos: 0 }), (e: Error) => e instanceof FormatError && /one length/.test(e.message));
  assert.throws(() => createTokenizer({ kind: 'llama2c', pieces: ['a', 'b'], scores: [0, 0], bos: 1, eos: 5 }), (e: Error) => e instanceof FormatError && /eos 5/.test(e.message));
  assert.throws(() => createTokenizer({ kind: 'sentencepiece' } as unknown as TokenizerSpec), (e: Error) => e instanceof FormatError && /unknown tokenizer kind/.test(e.message));
});

test.run();
