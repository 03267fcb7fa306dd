// Hugging Face tokenizer.json: the TinyStories-656K reference ids and round trips, and tiny
// synthetic tokenizers (SentencePiece style with byte fallback; byte-level GPT-2 and Llama 3 style)
// whose ids are worked out by hand from their merge lists.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, hfTokenizerSpec, type Tokenizer } from '../../src/tokenizer/index.ts';
import { HfTokenizer } from '../../src/tokenizer/hf.ts';
import { FormatError, UnsupportedError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { absent, sharedFile, skip } from '../helpers.ts';

const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
const added = (id: number, content: string, normalized = false) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: true });
const spDecoder = {
  type: 'Sequence',
  decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
};
const template = (name: string, id: number) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: name, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [{ SpecialToken: { id: name, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { [name]: { id: name, ids: [id], tokens: [name] } },
});

// SentencePiece style: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0xNN>, then ▁ a b c ab ▁a ▁ab bc
function sentencePiece(style: 'normalizer' | 'metaspace'): string {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[hex(b)] = 3 + b;
  ['▁', 'a', 'b', 'c', 'ab', '▁a', '▁ab', 'bc'].forEach((p, i) => (vocab[p] = 259 + i));
  const merges = [['a', 'b'], ['▁', 'a'], ['▁', 'ab'], ['b', 'c']]; // ranks 0..3
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: style === 'normalizer' ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] } : null,
    pre_tokenizer: style === 'metaspace' ? { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false } : null,
    post_processor: template('<s>', 1),
    decoder: spDecoder,
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab,
      merges: style === 'normalizer' ? merges.map((m) => m.join(' ')) : merges,
    },
  });
}

/** GPT-2's byte-to-unicode map. */
function byteChars(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = [];
  for (const b of bs) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
}

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Byte-level: byte b has id b (its GPT-2 character), then merges 0..11 give ids 256..267
function byteLevel(style: 'gpt2' | 'llama3'): string {
  const ch = byteChars();
  const vocab: Record<string, number> = {};
  ch.forEach((c, b) => (vocab[c] = b));
  const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['Ġ', 'c'], ['a', 't'], ['Ġc', 'at'], ["'", 's'], ["'", 'S'], ['1', '2'], ['12', '3'], ['3', '4'], ['Ġ', 'Ġ']];
  merges.forEach(([a, b], i) => (vocab[a + b] = 256 + i));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: style === 'gpt2' ? [added(268, '<|endoftext|>')] : [added(268, '<|begin_of_text|>'), added(269, '<|end_of_text|>')],
    normalizer: null,
    pre_tokenizer:
      style === 'gpt2'
        ? bl
        : { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false }, { ...bl, use_regex: false }] },
    post_processor: style === 'gpt2' ? { ...bl, trim_offsets: false } : template('<|begin_of_text|>', 268),
    decoder: bl,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: style === 'gpt2' ? '' : null, end_of_word_suffix: style === 'gpt2' ? '' : null,
      fuse_unk: false, byte_fallback: false, ignore_merges: style === 'llama3',
      vocab,
      merges: style === 'gpt2' ? merges.map((m) => m.join(' ')) : merges,
    },
  });
}

const UNICODE = ['Héllo wörld 😀 ∑ 中文', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467} family', ' leading and trailing  ', 'tabs\tand\nnew\r\nlines', 'ÿ\u0000\u007f'];

function streamEqualsDecode(t: Tokenizer, ids: number[]): string[] {
  const d = t.streamDecoder();
  const pieces = ids.map((id) => d.push(id));
  assert.is(pieces.join('') + d.flush(), t.decode(ids), `stream of ${ids.join(' ')}`);
  return pieces;
}

test('SentencePiece style (Prepend/Replace normalizer, "a b" merges): ids by hand, byte fallback', () => {
  const spec = hfTokenizerSpec(sentencePiece('normalizer'), 'sp.json');
  assert.is(spec.bos, 1);
  assert.is(spec.eos, 2);
  const t = createTokenizer(spec);
  assert.is(t.vocabSize, 267);
  // "ab c" -> ▁ab▁c: chars ▁ a b ▁ c; ab (rank 0) first, then ▁+ab (rank 2); ▁ c has no merge
  assert.equal(t.encode('ab c'), [1, 265, 259, 262]);
  // "abc" -> ▁ a b c: ab (0) before ▁a (1) and bc (3), then ▁ab (2); ▁ab+c is no merge
  assert.equal(t.encode('abc'), [1, 265, 262]);
  // "bca" -> ▁ b c a: only bc (3)
  assert.equal(t.encode('bca', { bos: false }), [259, 266, 260]);
  // "é!" -> ▁ then bytes C3 A9 21 (no piece for é or !): id = byte + 3
  assert.equal(t.encode('é!'), [1, 259, 0xc3 + 3, 0xa9 + 3, 0x21 + 3]);
  assert.equal(t.encode(''), [1]);
  assert.equal(t.encode('', { bos: false }), []);
  assert.is(t.decode([1, 265, 259, 262, 2]), 'ab c');
  assert.is(t.decode([259, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]), '😀');
  for (const s of UNICODE) assert.is(t.decode(t.encode(s)), s, JSON.stringify(s));
  // the special token is matched in the (normalized) text, like `tokenizers` does
  assert.equal(t.encode('ab</s>', { bos: false }), [265, 2]);
});

test('SentencePiece style (Metaspace pre-tokenizer, [a, b] merges) gives the same ids', () => {
  const a = createTokenizer(hfTokenizerSpec(sentencePiece('normalizer'), 'sp.json'));
  const b = createTokenizer(hfTokenizerSpec(sentencePiece('metaspace'), 'meta.json'));
  for (const s of ['ab c', 'abc', 'bca', 'é!', 'cab  abc', ...UNICODE.filter((u) => !u.startsWith(' '))]) {
    assert.equal(b.encode(s), a.encode(s), JSON.stringify(s));
    assert.is(b.decode(b.encode(s)), s, JSON.stringify(s));
  }
  // Metaspace prepends ▁ only when the text does not already start with one (as in `tokenizers`),
  // so a leading space is absorbed: " ab" -> ▁ab, which decodes to "ab"
  assert.equal(a.encode(' ab'), [1, 259, 265]);
  assert.equal(b.encode(' ab'), [1, 265]);
  assert.is(b.decode(b.encode(' ab')), 'ab');
});

test('long words: the id-based BPE gives the ids Tokenizers.js gives', () => {
  const spec = hfTokenizerSpec(sentencePiece('normalizer'), 'sp.json');
  const fast = new HfTokenizer(spec);
  const lib = new HfTokenizer(spec, 'sp.json', { fastLongWords: false });
  const rng = new Rng(5);
  const alphabet = ['a', 'b', 'c', ' ', 'é', '😀', 'ab', 'abc'];
  for (let k = 0; k < 30; k++) {
    let s = '';
    for (let i = 200 + rng.int(400); i > 0; i--) s += alphabet[rng.int(alphabet.length)];
    assert.equal(fast.encode(s), lib.encode(s));
  }
  const p = sharedFile('data/tinystories/tinystories_valid_head.txt');
  const q = sharedFile('models/tinystories-656k/tokenizer.json');
  if (p && q) {
    const real = hfTokenizerSpec(readFileSync(q, 'utf8'), 'tokenizer.json');
    const text = readFileSync(p, 'utf8').slice(300_000, 340_000) + ' Ünïcödé 😀 @=#';
    assert.equal(new HfTokenizer(real).encode(text), new HfTokenizer(real, 'x', { fastLongWords: false }).encode(text));
  }
});

test('SentencePiece style: the Metaspace decoder', () => {
  const json = JSON.parse(sentencePiece('metaspace'));
  json.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
  const t = createTokenizer(hfTokenizerSpec(JSON.stringify(json), 'meta.json'));
  for (const s of ['ab c', 'abc', 'cab  abc', 'b  ']) assert.is(t.decode(t.encode(s)), s, JSON.stringify(s));
});

test('SentencePiece style: stream decoding holds back byte-fallback pieces of a character', () => {
  const t = createTokenizer(hfTokenizerSpec(sentencePiece('normalizer'), 'sp.json'));
  for (const s of UNICODE) {
    const ids = t.encode(s);
    const pieces = streamEqualsDecode(t, ids);
    assert.is(pieces.join(''), s);
  }
  const pieces = streamEqualsDecode(t, t.encode('a😀'));
  // ids: <s> ▁a <F0> <9F> <98> <80>: nothing until the fourth byte
  assert.equal(pieces, ['', 'a', '', '', '', '😀']);
});

test('byte-level BPE, GPT-2 style: ids by hand, unicode round trip', () => {
  const spec = hfTokenizerSpec(byteLevel('gpt2'), 'gpt2.json');
  assert.is(spec.bos, null, 'GPT-2 adds no BOS');
  assert.is(spec.eos, 268);
  const t = createTokenizer(spec);
  assert.is(t.vocabSize, 269);
  // pre-tokens "the" " cat" "'s" " hat": t+he; Ġc, at, Ġc+at; 's; Ġ h at
  assert.equal(t.encode("the cat's hat"), [116, 257, 261, 262, 32, 104, 260]);
  // GPT-2's contractions are case-sensitive: "IT" "'" "S" " 123456"; 1+2 (rank 8) then 12+3 (9), 3+4 no longer adjacent
  assert.equal(t.encode("IT'S 123456"), [73, 84, 39, 83, 32, 265, 52, 53, 54]);
  // "x   y": "x" "  " " y" (\s+(?!\S) leaves the last space to the word)
  assert.equal(t.encode('x   y'), [120, 267, 32, 121]);
  // é is C3 A9, 😀 is F0 9F 98 80: one id per byte
  assert.equal(t.encode('hé 😀'), [104, 0xc3, 0xa9, 32, 0xf0, 0x9f, 0x98, 0x80]);
  assert.equal(t.encode('the<|endoftext|>'), [116, 257, 268]);
  for (const s of UNICODE) assert.is(t.decode(t.encode(s)), s, JSON.stringify(s));
  assert.is(t.decode([116, 257, 268, 261]), 'the cat', 'special tokens are left out');
});

test('byte-level BPE, Llama 3 style (Split regex + ByteLevel, ignore_merges): ids by hand', () => {
  const spec = hfTokenizerSpec(byteLevel('llama3'), 'llama3.json');
  assert.is(spec.bos, 268);
  assert.is(spec.eos, 269);
  const t = createTokenizer(spec);
  assert.equal(t.encode("the cat's hat"), [268, 116, 257, 261, 262, 32, 104, 260]);
  // case-insensitive contractions: "IT" "'S" " " "123" "456"; digits split in threes
  assert.equal(t.encode("IT'S 123456", { bos: false }), [73, 84, 263, 32, 265, 52, 53, 54]);
  assert.equal(t.encode('x   y', { bos: false }), [120, 267, 32, 121]);
  assert.equal(t.encode('hé 😀', { bos: false }), [104, 0xc3, 0xa9, 32, 0xf0, 0x9f, 0x98, 0x80]);
  for (const s of UNICODE) {
    assert.is(t.decode(t.encode(s)), s, JSON.stringify(s));
    assert.is(streamEqualsDecode(t, t.encode(s)).join(''), s);
  }
  const pieces = streamEqualsDecode(t, t.encode('a😀b'));
  assert.equal(pieces, ['', 'a', '', '', '', '😀', 'b']);
});

test('stream decoding: flush gives out an incomplete character as U+FFFD, like decode', () => {
  const t = createTokenizer(hfTokenizerSpec(byteLevel('gpt2'), 'gpt2.json'));
  const d = t.streamDecoder();
  assert.is(d.push(97) + d.push(0xf0) + d.push(0x9f), 'a');
  assert.is(d.flush(), '\uFFFD');
  assert.is(t.decode([97, 0xf0, 0x9f]), 'a\uFFFD');
});

test('special tokens can be given from the model config', () => {
  const json = byteLevel('gpt2');
  assert.equal(hfTokenizerSpec(json, 'x', { bos: '<|endoftext|>', eos: { content: '<|endoftext|>' } }), { kind: 'hf', json, bos: 268, eos: 268 });
  assert.is(hfTokenizerSpec(json, 'x', { eos: null }).eos, null);
  assert.is(hfTokenizerSpec(json, 'x', { bos: 5 }).bos, 5);
  assert.throws(() => hfTokenizerSpec(json, 'x', { eos: '<|nope|>' }), (e: Error) => e instanceof FormatError && /"<\|nope\|>" is not in the vocabulary/.test(e.message));
  assert.throws(() => hfTokenizerSpec(json, 'x', { bos: 9999 }), (e: Error) => e instanceof FormatError && /BOS id 9999/.test(e.message));
});

test('unsupported or malformed tokenizer.json', () => {
  const bad = (json: string, cls: typeof FormatError | typeof UnsupportedError, re: RegExp) => {
    const calls: Array<[() => unknown, string]> = [
      [() => hfTokenizerSpec(json, 'tok.json'), 'tok.json: '],
      [() => createTokenizer({ kind: 'hf', json, bos: null, eos: null }), 'tokenizer.json in the model header: '],
    ];
    for (const [f, source] of calls) {
      try {
        f();
      } catch (e) {
        assert.instance(e, cls);
        assert.match((e as Error).message, re);
        assert.ok((e as Error).message.startsWith(source), (e as Error).message);
        continue;
      }
      assert.unreachable(`no error for ${json.slice(0, 80)}`);
    }
  };
  const wordPiece = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[UNK]': 0, a: 1 } } };
  bad(JSON.stringify(wordPiece), UnsupportedError, /tokenizer model type "WordPiece" is not supported/);
  const unigram = { ...wordPiece, model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', -1]] } };
  bad(JSON.stringify(unigram), UnsupportedError, /model type "Unigram" is not supported/);
  const sp = JSON.parse(sentencePiece('normalizer'));
  bad(JSON.stringify({ ...sp, normalizer: { type: 'Fancy' } }), UnsupportedError, /cannot build the tokenizer: .*Fancy/);
  bad('{"model": ', FormatError, /not valid JSON/);
  bad('[1, 2]', FormatError, /not a JSON object/);
  bad('{"version": "1.0"}', FormatError, /no "model"/);
  bad(JSON.stringify({ ...sp, model: { ...sp.model, merges: [['a']] } }), FormatError, /merge \["a"\]/);
  bad(JSON.stringify({ ...sp, model: { ...sp.model, merges: undefined } }), FormatError, /no "merges"/);
});

const tsPath = sharedFile('models/tinystories-656k/tokenizer.json');
const ts = tsPath ? createTokenizer(hfTokenizerSpec(readFileSync(tsPath, 'utf8'), 'tinystories-656k/tokenizer.json')) : null;

test('TinyStories-656K tokenizer.json: provenance reference ids, BOS/EOS', () => {
  if (!ts) return skip(absent('models/tinystories-656k/tokenizer.json'));
  assert.is(ts.vocabSize, 2048);
  assert.is(ts.bos, 1);
  assert.is(ts.eos, 2);
  assert.equal(ts.encode('Once upon a time'), [1, 80, 147, 201, 282, 57]);
  assert.is(ts.decode([1, 80, 147, 201, 282, 57, 2]), 'Once upon a time');
});

// Round trip: decode(encode(t)) === t (BOS or not: the Strip decoder drops the prepended ▁) when
// every character of t is in the vocabulary. This vocabulary has no <0xNN> pieces, so byte fallback
// cannot apply: any other character encodes as <unk> (runs fused into one), which decode leaves out.
test('TinyStories-656K: round trip on TinyStories; wikitext loses exactly the characters outside the vocabulary', () => {
  if (!ts || !tsPath) return skip(absent('models/tinystories-656k/tokenizer.json'));
  const p = sharedFile('data/tinystories/tinystories_valid_head.txt');
  if (p) {
    const text = readFileSync(p, 'utf8').slice(0, 200_000);
    const ids = ts.encode(text);
    assert.ok(!ids.includes(0), 'no <unk> in TinyStories text');
    assert.ok(ts.decode(ids) === text, 'decode(encode(t)) !== t');
    assert.ok(ts.decode(ts.encode(text.slice(0, 20_000), { bos: false })) === text.slice(0, 20_000), 'without BOS');
  }
  const w = sharedFile('data/wikitext-2-raw/wiki.test.raw');
  if (w) {
    const text = readFileSync(w, 'utf8').slice(0, 100_000);
    const vocab = JSON.parse(readFileSync(tsPath, 'utf8')).model.vocab as Record<string, number>;
    const known = (c: string) => c === ' ' || Object.hasOwn(vocab, c);
    const ids = ts.encode(text);
    assert.ok(ids.includes(0), 'wikitext has characters this vocabulary lacks');
    assert.ok(ts.decode(ids) === [...text].filter(known).join(''), 'decode(encode(t)) is t without its unknown characters');
  }
});

test('TinyStories-656K: stream decoding equals decode', () => {
  if (!ts) return skip(absent('models/tinystories-656k/tokenizer.json'));
  const ids = ts.encode('Once upon a time, there was a little girl named Lily.\nShe said, "Hi!"');
  const pieces = streamEqualsDecode(ts, ids);
  assert.is(pieces.slice(0, 3).join(''), 'On', 'no leading space after BOS');
  // as Model.generate uses it: the prompt is pushed first, the continuation keeps its spaces
  const all = ts.encode('Once upon a time, there was');
  const d = ts.streamDecoder();
  const prompt = all.slice(0, 4).map((id) => d.push(id)).join('');
  assert.is(prompt, 'Once ');
  assert.is(all.slice(4).map((id) => d.push(id)).join('') + d.flush(), 'upon a time, there was');
});

test.run();
