// llama.cpp's tokenizer.ggml.pre names for the byte-level BPE pre-tokenizers we read and write, and
// the tokenizer.json parts each stands for (normalizer, pre-tokenizer, ignore_merges). The regexes are
// the ones in the families' tokenizer.json files; llama.cpp's `llama-bpe` also ignores merges.
interface Component {
  type?: string;
  [k: string]: unknown;
}
export interface BytePre {
  name: string;
  normalizer: Component | null;
  preTokenizer: Component;
  ignoreMerges: boolean;
}

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const split = (regex: string): Component => ({
  type: 'Sequence',
  pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, byteLevel(false)],
});
// Llama 3 takes digits three at a time, Qwen2 one at a time; otherwise the same pattern
const contractionsWordsSymbols = (digits: string) =>
  `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|${digits}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

export const BYTE_PRES: BytePre[] = [
  { name: 'gpt-2', normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false },
  { name: 'llama-bpe', normalizer: null, preTokenizer: split(contractionsWordsSymbols('\\p{N}{1,3}')), ignoreMerges: true },
  { name: 'qwen2', normalizer: { type: 'NFC' }, preTokenizer: split(contractionsWordsSymbols('\\p{N}')), ignoreMerges: false },
];

/** The Split regexes of a pre-tokenizer, or whether it is one ByteLevel with its own regex: what tells the pres apart. */
function signature(pre: Component | null | undefined): string {
  if (!pre) return 'none';
  if (pre.type === 'ByteLevel') return pre.use_regex === false || pre.add_prefix_space === true ? 'other' : 'bytelevel';
  if (pre.type !== 'Sequence') return 'other';
  const ps = (pre.pretokenizers ?? []) as Component[];
  const last = ps[ps.length - 1];
  if (ps.length !== 2 || ps[0].type !== 'Split' || last.type !== 'ByteLevel' || last.use_regex !== false || last.add_prefix_space === true) return 'other';
  if (ps[0].behavior !== 'Isolated' || ps[0].invert === true) return 'other';
  return `split:${(ps[0].pattern as { Regex?: string } | undefined)?.Regex ?? '?'}`;
}

/** The llama.cpp pre a byte-level tokenizer.json's parts amount to, or undefined. */
export function bytePreOf(normalizer: Component | null | undefined, pre: Component | null | undefined, ignoreMerges: boolean): BytePre | undefined {
  const sig = signature(pre);
  return BYTE_PRES.find(
    (p) => signature(p.preTokenizer) === sig && p.ignoreMerges === ignoreMerges && JSON.stringify(p.normalizer) === JSON.stringify(normalizer ?? null),
  );
}
