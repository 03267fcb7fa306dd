// Llama 3 / Qwen2 byte-level BPE and Gemma's SentencePiece-style BPE: tokenizer.json files in each
// family's real layout (normalizer, pre-tokenizer, post-processor, decoder, special tokens), with a
// vocabulary and merges learned here from a seeded corpus, checked against the brute-force
// reference of reference-bpe.ts. The runtime runs on Tokenizers.js (@huggingface/tokenizers), so
// that package cannot be its own oracle; the reference shares no code with src/tokenizer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, hfTokenizerSpec, type Tokenizer } from '../../src/tokenizer/index.ts';
import { Rng } from '../../src/util/random.ts';
import {
  byteLevelDecode, byteLevelEncode, byteToChar, hexPiece, learnMerges, type ReferenceVocab, sentencePieceDecode, sentencePieceEncode, SPLIT,
} from './reference-bpe.ts';

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const CORPUS = [
  "The cat's 12345 naps; it's 2024 and they'll say 'hi'.",
  'Café déjà vu: naïve résumé, straße, Ωmega 3.14159 and 1000000 rows.',
  '    indented   code\twith\ttabs\n\n\nand  many   spaces   at 007.',
  "WE'RE LOUD, YOU'VE HEARD, I'M SURE, HE'D GO, SHE'LL STAY.",
  '中文字符 and 日本語 with emoji 😀🎉 and 1,234,567.89 numbers.',
].join('\n');

/** Fragments the random test texts are drawn from: Unicode, digits, whitespace runs, contractions, special tokens. */
const FRAGMENTS = [
  'the', ' cat', "'s", "'S", "'ll", "'VE", "'d", ' 12345', '7', '0000', '3.14', ' ', '  ', '     ', '\t', '\n', '\r\n', '\n\n ',
  'é', 'e\u0301', 'ß', 'Ω', '中文', '日本', '😀', '\u{1F468}\u200D\u{1F469}', '!', '?!', ' ...', '(x)', 'naïve', 'CAFÉ', '\u0000', '~',
];

const TEXT = "<|begin_of_text|>Héllo wörld 😀 中文! It's 1234567 o'CLOCK'S\t\ttabs   runs  \n\n\r\n  e\u0301 <|im_start|>user\n42<|im_end|> end  ";

function randomTexts(specials: readonly string[], n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const pool = [...FRAGMENTS, ...specials];
  return Array.from({ length: n }, () => Array.from({ length: 1 + rng.int(12) }, () => pool[rng.int(pool.length)]).join(''));
}

const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const byteLevel = (trimOffsets: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: trimOffsets, use_regex: false });
const template = (name: string, id: number) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: name, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [{ SpecialToken: { id: name, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: name, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { [name]: { id: name, ids: [id], tokens: [name] } },
});

/** A tokenizer.json around `parts` (normalizer, pre_tokenizer, post_processor, decoder, model), every special an added token. */
function tokenizerJson(specials: Record<string, number>, parts: Record<string, unknown>): string {
  return JSON.stringify({ version: '1.0', truncation: null, padding: null, added_tokens: Object.entries(specials).map(([n, id]) => added(id, n)), ...parts });
}

interface Family {
  json: string;
  ref: ReferenceVocab;
  encode: (text: string) => number[];
  decode: (ids: number[]) => string;
}

/** The vocabulary: base pieces, then merge products (a product already there keeps its id). */
function vocabOf(base: string[], merges: Array<[string, string]>): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (const p of [...base, ...merges.map(([a, b]) => a + b)]) if (!Object.hasOwn(vocab, p)) vocab[p] = Object.keys(vocab).length;
  return vocab;
}

function withSpecials(vocab: Record<string, number>, names: string[]): Record<string, number> {
  const size = Object.keys(vocab).length;
  return Object.fromEntries(names.map((n, i) => [n, size + i]));
}

/** Llama 3 (digits 1-3, ignore_merges, BOS by template) or Qwen2 (single digits, NFC, no BOS) as their tokenizer.json lays them out. */
function byteLevelFamily(kind: 'llama3' | 'qwen2'): Family {
  const map = byteToChar();
  const nfc = kind === 'qwen2';
  const corpus = nfc ? CORPUS.normalize('NFC') : CORPUS;
  const words = [...corpus.matchAll(SPLIT[kind])].map((m) => [...new TextEncoder().encode(m[0])].map((b) => map[b]));
  const merges = learnMerges(words, 160);
  // Llama 3's ignore_merges: whole words in the vocabulary that no merge makes are taken as they are
  const whole = kind === 'llama3' ? [' wörld', '中文', ' 😀'].map((w) => [...new TextEncoder().encode(w)].map((b) => map[b]).join('')) : [];
  const vocab = vocabOf([...map, ...whole], merges);
  const names = kind === 'llama3' ? ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>'] : ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const specials = withSpecials(vocab, names);
  const ref: ReferenceVocab = { vocab, merges, specials };
  const json = tokenizerJson(specials, {
    normalizer: nfc ? { type: 'NFC' } : null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: kind === 'llama3' ? LLAMA3_REGEX : QWEN2_REGEX }, behavior: 'Isolated', invert: false }, byteLevel(kind === 'llama3')],
    },
    post_processor: kind === 'llama3' ? { type: 'Sequence', processors: [{ ...byteLevel(false), add_prefix_space: true }, template('<|begin_of_text|>', specials['<|begin_of_text|>'])] } : byteLevel(false),
    decoder: { ...byteLevel(true), add_prefix_space: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: kind === 'qwen2' ? '' : null, end_of_word_suffix: kind === 'qwen2' ? '' : null,
      fuse_unk: false, byte_fallback: false, ignore_merges: kind === 'llama3',
      vocab,
      merges: kind === 'llama3' ? merges : merges.map((m) => m.join(' ')),
    },
  });
  return {
    json,
    ref,
    encode: (t) => byteLevelEncode(t, ref, SPLIT[kind], { ignoreMerges: kind === 'llama3', nfc }),
    decode: (ids) => byteLevelDecode(ids, ref),
  };
}

/** Gemma: <pad> <eos> <bos> <unk>, turn markers, byte pieces, the corpus's characters (CJK and emoji left out: byte fallback), learned merges. */
function gemmaFamily(): Family {
  const text = CORPUS.replaceAll(' ', '▁');
  const chars = [...new Set([...text].filter((c) => c !== '\n' && !/[\p{Script=Han}\p{Script=Hiragana}\p{Extended_Pictographic}]/u.test(c)))].sort();
  const merges = learnMerges(text.split('\n').map((l) => [...l].filter((c) => chars.includes(c))), 160);
  const base = ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>', ...Array.from({ length: 256 }, (_, b) => hexPiece(b)), ...chars];
  const vocab = vocabOf(base, merges);
  const specials = { '<pad>': 0, '<eos>': 1, '<bos>': 2, '<unk>': 3, '<start_of_turn>': 4, '<end_of_turn>': 5 };
  const ref: ReferenceVocab = { vocab, merges, specials };
  const json = tokenizerJson(specials, {
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: null,
    post_processor: template('<bos>', 2),
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab,
      merges: merges.map((m) => m.join(' ')),
    },
  });
  return { json, ref, encode: (t) => sentencePieceEncode(t, ref), decode: (ids) => sentencePieceDecode(ids, ref) };
}

const FAMILIES: Array<[string, () => Family, { bos: string | null; eos: string }]> = [
  ['Llama 3', () => byteLevelFamily('llama3'), { bos: '<|begin_of_text|>', eos: '<|end_of_text|>' }],
  ['Qwen2', () => byteLevelFamily('qwen2'), { bos: null, eos: '<|endoftext|>' }],
  ['Gemma', gemmaFamily, { bos: '<bos>', eos: '<eos>' }],
];

function specialsIn(f: Family): string[] {
  return Object.keys(f.ref.specials).filter((s) => s !== '<unk>');
}

for (const [name, make, expect] of FAMILIES) {
  const f = make();
  const tok: Tokenizer = createTokenizer(hfTokenizerSpec(f.json, `${name} tokenizer.json`));
  const specials = specialsIn(f);
  // the family's own specials in the test text, plus the other family's (plain text to this one)
  const text = TEXT.replace('<|begin_of_text|>', specials[0]).replace('<|im_start|>', specials[specials.length - 1]);

  test(`${name}: BOS/EOS found in tokenizer.json`, () => {
    assert.is(tok.bos, expect.bos === null ? null : f.ref.specials[expect.bos]);
    assert.is(tok.eos, f.ref.specials[expect.eos]);
  });

  test(`${name}: ids equal to the brute-force reference on Unicode, digits, whitespace runs and special tokens`, () => {
    const want = f.encode(text);
    assert.equal(tok.encode(text, { bos: false }), want);
    assert.ok(want.length < [...text].length, 'the learned merges shorten the text');
    assert.equal(tok.encode(text), tok.bos === null ? want : [tok.bos, ...want]);
    for (const t of randomTexts(specials, 300, name.length)) assert.equal(tok.encode(t, { bos: false }), f.encode(t), JSON.stringify(t));
  });

  test(`${name}: decode and stream decode equal the reference; round trip gives the text less its special tokens`, () => {
    for (const t of [text, ...randomTexts(specials, 300, 7 + name.length)]) {
      const ids = tok.encode(t);
      const plain = specials.reduce((s, sp) => s.replaceAll(sp, ''), name === 'Qwen2' ? t.normalize('NFC') : t);
      assert.is(tok.decode(ids), f.decode(ids), JSON.stringify(t));
      assert.is(tok.decode(ids), plain, JSON.stringify(t));
      const stream = tok.streamDecoder();
      assert.is(ids.map((id) => stream.push(id)).join('') + stream.flush(), plain, `stream of ${JSON.stringify(t)}`);
    }
  });
}

test('the splits: Llama 3 keeps digits in threes, Qwen2 one by one; contractions in any case; ignore_merges', () => {
  const words = (re: RegExp, t: string) => [...t.matchAll(re)].map((m) => m[0]);
  assert.equal(words(SPLIT.llama3, "1234567 IT'S"), ['123', '456', '7', ' IT', "'S"]);
  assert.equal(words(SPLIT.qwen2, '123 x'), ['1', '2', '3', ' x']);
  // and the runtime agrees: with only byte pieces' merges for digits, a Llama 3 digit run is split 3/3/1
  const f = byteLevelFamily('llama3');
  const tok = createTokenizer(hfTokenizerSpec(f.json, 'llama3'));
  assert.equal(tok.encode('1234567', { bos: false }), f.encode('1234567'));
  // ignore_merges: ' wörld' is one vocabulary piece no merge sequence reaches
  const w = tok.encode(' wörld', { bos: false });
  assert.is(w.length, 1);
  assert.not.equal(byteLevelEncode(' wörld', f.ref, SPLIT.llama3, { ignoreMerges: false, nfc: false }), w);
});

test.run();
