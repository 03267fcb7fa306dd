// The tokenizers of the families of issue 17 as their tokenizer.json files lay them out: Qwen2
// (NFC, its Split regex with single digits, ByteLevel, <|im_start|>/<|im_end|>), Llama 3 (its Split
// regex with digit triples, <|begin_of_text|>/<|eot_id|>) and Gemma (SentencePiece BPE with a Replace
// normalizer and no prefix space, byte fallback, whitespace-run pieces). Small vocabularies built
// here; ids compared with `@huggingface/tokenizers` called directly, plus the digit and whitespace
// splits each regex implies, worked out by hand; the byte-level ones also through GGUF metadata.
// families.test.ts checks the same three layouts against a brute-force reference written apart
// from src/tokenizer; this file adds the library-as-configured and hand-worked checks and the GGUF path.
import { Tokenizer as Oracle } from '@huggingface/tokenizers';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, hfTokenizerSpec, type Tokenizer, type TokenizerSpec } from '../../src/tokenizer/index.ts';
import { gpt2TokenizerSpec, hfTokenizerMetadata } from '../../tools/gguf/hf-tokenizer.ts';

const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's byte-to-unicode map. */
function byteChars(): string[] {
  const map: string[] = [];
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  for (let b = 0; b < 256; b++) if (printable(b)) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
}

// byte b is id b; merges (in byte-level characters) take ids from 256; specials follow
function byteLevel(split: string, specials: string[], ignoreMerges: boolean, nfc: boolean): string {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, b) => (vocab[c] = b));
  const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['1', '2'], ['12', '3'], ['4', '5'], ['Ġ', 'Ġ'], ['ĠĠ', 'ĠĠ'], ['Ã', '©'], ['Ċ', 'Ċ'], ["'", 's']];
  merges.forEach(([a, b], i) => (vocab[a + b] = 256 + i));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s, i) => added(256 + merges.length + i, s)),
    normalizer: nfc ? { type: 'NFC' } : null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: split }, behavior: 'Isolated', invert: false }, bl] },
    post_processor: bl,
    decoder: { ...bl, trim_offsets: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges },
  });
}

// Gemma: 0 <pad>, 1 <eos>, 2 <bos>, 3 <unk>, 4 <start_of_turn>, 5 <end_of_turn>, 6..261 <0xNN>, then pieces
function gemma(): string {
  const vocab: Record<string, number> = { '<pad>': 0, '<eos>': 1, '<bos>': 2, '<unk>': 3, '<start_of_turn>': 4, '<end_of_turn>': 5 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 6 + b;
  const pieces = ['▁', 't', 'h', 'e', 'a', '1', '2', '3', 'é', '\n', 'th', '▁th', '▁the', '▁▁', '▁▁▁▁', '12', '\n\n', 'he'];
  pieces.forEach((p, i) => (vocab[p] = 262 + i));
  const merges = [['t', 'h'], ['▁', 'th'], ['▁th', 'e'], ['▁', '▁'], ['▁▁', '▁▁'], ['1', '2'], ['\n', '\n'], ['h', 'e']];
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>'].map((s) => added(vocab[s], s)),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<bos>': { id: '<bos>', ids: [2], tokens: ['<bos>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  });
}

const TEXTS = [
  'Héllo wörld 😀 ∑ 中文 the 12345 and 1234567',
  "He's   the\t\tthe\n\n\nend     x  ",
  'e\u0301 decomposed, \u{1F468}\u200D\u{1F469}\u200D\u{1F467} joined, 0.5e-3',
];

function oracleIds(json: string, text: string): number[] {
  return new Oracle(JSON.parse(json), {}).encode(text, { add_special_tokens: false }).ids;
}

function checkAgainstOracle(name: string, json: string, t: Tokenizer, special: string): void {
  for (const text of [...TEXTS, `${special}${TEXTS[0]}${special} x`]) {
    assert.equal(t.encode(text, { bos: false }), oracleIds(json, text), `${name}: ${JSON.stringify(text)}`);
  }
}

test('Qwen2: ids equal the library, digits one at a time, NFC, specials, round trips', () => {
  const json = byteLevel(QWEN2_SPLIT, ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], false, true);
  const spec = hfTokenizerSpec(json, 'qwen2.json');
  assert.is(spec.bos, null, 'Qwen2 has no BOS');
  assert.is(spec.eos, 267, '<|endoftext|>');
  const t = createTokenizer(spec);
  checkAgainstOracle('qwen2', json, t, '<|im_start|>');
  const d = (s: string) => [...Buffer.from(s)];
  // \p{N} alone: "12345" is five words, so the merge 1+2 never applies
  assert.equal(t.encode(' 12345', { bos: false }), [...d(' '), ...d('12345')]);
  assert.equal(t.encode('<|im_start|>the<|im_end|>', { bos: false }), [268, ...d('t'), 257, 269]);
  assert.is(t.encode('e\u0301', { bos: false }).length, 1, 'NFC composes é, which is one merged piece');
  for (const text of TEXTS) assert.is(t.decode(t.encode(text)), text.normalize('NFC'));
  assert.is(t.decode(t.encode('<|im_start|>the<|im_end|>')), 'the', 'special tokens left out of decode');
});

test('Llama 3: ids equal the library, digit triples, whitespace runs, specials, round trips', () => {
  const json = byteLevel(LLAMA3_SPLIT, ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'], true, false);
  const spec = hfTokenizerSpec(json, 'llama3.json', { bos: '<|begin_of_text|>' });
  assert.is(spec.bos, 267);
  assert.is(spec.eos, 268, '<|end_of_text|>');
  const t = createTokenizer(spec);
  checkAgainstOracle('llama3', json, t, '<|eot_id|>');
  // \p{N}{1,3}: "12345" is "123" (merged) then "45" (merged)
  assert.equal(t.encode('12345', { bos: false }), [260, 261]);
  // "\s+(?!\S)" leaves the last space of a run to the word: 5 spaces + x = ĠĠĠĠ, Ġ + x
  assert.equal(t.encode('     x', { bos: false }), [263, ...Buffer.from(' x')]);
  for (const text of TEXTS) assert.is(t.decode(t.encode(text)), text);
  assert.is(t.encode('the')[0], 267, 'BOS first');
});

test('Gemma: SentencePiece BPE ids equal the library, no prefix space, whitespace pieces, byte fallback, round trips', () => {
  const json = gemma();
  const spec = hfTokenizerSpec(json, 'gemma.json');
  assert.is(spec.bos, 2, '<bos>');
  assert.is(spec.eos, 1, '<eos>');
  const t = createTokenizer(spec);
  checkAgainstOracle('gemma', json, t, '<start_of_turn>');
  // no prefix: "the" is t+h+e (th, then he is not reachable), " the" is ▁the
  assert.equal(t.encode('the the', { bos: false }), [272, 265, 274]);
  assert.equal(t.encode('     ', { bos: false }), [276, 262], 'four spaces merged, one left');
  assert.equal(t.encode('Z', { bos: false }), [6 + 0x5a], 'byte fallback');
  for (const text of TEXTS) assert.is(t.decode(t.encode(text)), text, `gemma round trip ${JSON.stringify(text)}`);
  assert.is(t.decode(t.encode('<start_of_turn>the<end_of_turn>')), 'the');
});

/** The spec written as GGUF tokenizer.ggml.* metadata and read back as our GGUF import does. */
function throughGguf(spec: Extract<TokenizerSpec, { kind: 'hf' }>, vocabSize: number): { pre: unknown; back: TokenizerSpec } {
  const md = new Map(hfTokenizerMetadata(spec, vocabSize, 't.json').map(([k, v]) => [k, (v as { value: unknown }).value]));
  const types = md.get('tokenizer.ggml.token_type') as number[];
  const back = gpt2TokenizerSpec(
    { tokens: md.get('tokenizer.ggml.tokens') as string[], merges: md.get('tokenizer.ggml.merges') as string[], types: Array.from(types), pre: md.get('tokenizer.ggml.pre') as string, bos: spec.bos, eos: spec.eos },
    't.gguf',
  );
  return { pre: md.get('tokenizer.ggml.pre'), back };
}

test('Qwen2 and Llama 3 through GGUF metadata: pre qwen2 / llama-bpe, the same ids after import', () => {
  const cases: Array<[string, string, string[], boolean, boolean]> = [
    ['qwen2', QWEN2_SPLIT, ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], false, true],
    ['llama-bpe', LLAMA3_SPLIT, ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'], true, false],
  ];
  for (const [pre, split, specials, ignoreMerges, nfc] of cases) {
    const spec = hfTokenizerSpec(byteLevel(split, specials, ignoreMerges, nfc), `${pre}.json`) as Extract<TokenizerSpec, { kind: 'hf' }>;
    const r = throughGguf(spec, 256 + 11 + 3);
    assert.is(r.pre, pre);
    const [orig, back] = [createTokenizer(spec), createTokenizer(r.back)];
    for (const text of [...TEXTS, `${specials[1]}the 12345${specials[2]}`]) assert.equal(back.encode(text), orig.encode(text), `${pre}: ${JSON.stringify(text)}`);
  }
});

test.run();
