// GGUF export of a Hugging Face tokenizer.json (an `hf`-kind spec) as one of the tokenizer models
// llama.cpp reads: a SentencePiece-style BPE (▁ for spaces, byte fallback) as `llama`, a GPT-2
// byte-level BPE as `gpt2` with its merges and pre (GPT-2's, Llama 3's or Qwen2's regex: bpe-pre.ts). Scores and token types come from the file itself;
// docs/GGUF.md has the mapping. Any other kind is refused with one line naming what was found.
// Import: a `gpt2` GGUF tokenizer as the tokenizer.json it stands for (a `llama` one is read by
// llama.ts as a llama2c-kind spec).
import { hfTokenizerSpec } from '../../src/tokenizer/hf.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { UnsupportedError } from '../../src/util/errors.ts';
import { BYTE_PRES, bytePreOf } from './bpe-pre.ts';
import { BYTE_PIECE, TOKEN_TYPE } from './spec.ts';
import { type KvValue, kv } from './write.ts';

type HfSpec = Extract<TokenizerSpec, { kind: 'hf' }>;
interface Component {
  type?: string;
  [k: string]: unknown;
}
interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  normalizer?: Component | null;
  pre_tokenizer?: Component | null;
  post_processor?: Component | null;
  decoder?: Component | null;
  padding?: { pad_id?: number } | null;
  model: { type?: string; vocab: Record<string, number>; merges: Array<string | [string, string]>; unk_token?: string | null; byte_fallback?: boolean; ignore_merges?: boolean };
}

/**
 * The score of a token that no merge produces: run.c's threshold, below which our llama2c merge loop
 * never forms a token from a pair (as `tokenizers` never does); llama.cpp's loop, which has no
 * threshold, tries it after every merge.
 */
const NO_MERGE_SCORE = -1e10;
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

/** A component and, for a Sequence, its parts, flattened. */
const parts = (c: Component | null | undefined): Component[] =>
  !c ? [] : c.type === 'Sequence' ? ((c.normalizers ?? c.pretokenizers ?? c.decoders ?? []) as Component[]).flatMap(parts) : [c];

/** One line saying what a tokenizer.json is made of, for the refusal. */
const describe = (t: TokenizerJson): string =>
  `model ${t.model.type ?? '?'}, normalizer ${parts(t.normalizer).map((c) => c.type).join('+') || 'none'}, ` +
  `pre-tokenizer ${parts(t.pre_tokenizer).map((c) => c.type).join('+') || 'none'}, decoder ${parts(t.decoder).map((c) => c.type).join('+') || 'none'}`;

/** tokenizer.ggml.* for an `hf` spec, whose token count must be the model's vocabSize. */
export function hfTokenizerMetadata(spec: HfSpec, vocabSize: number, source: string): Array<[string, KvValue]> {
  const t = JSON.parse(spec.json) as TokenizerJson;
  const m = t.model;
  const pre = parts(t.pre_tokenizer);
  const sentencePiece =
    m.type === 'BPE' && m.byte_fallback === true && !m.ignore_merges &&
    (parts(t.normalizer).some((c) => c.type === 'Prepend' && c.prepend === '\u2581') || (pre.length === 1 && pre[0].type === 'Metaspace'));
  // a byte-level pre-tokenizer llama.cpp knows by name (GPT-2's, Llama 3's, Qwen2's)
  const bytePre = m.type === 'BPE' && !m.byte_fallback ? bytePreOf(t.normalizer, t.pre_tokenizer, m.ignore_merges === true) : undefined;
  const gpt2 = bytePre !== undefined;
  if (!sentencePiece && !gpt2) {
    throw new UnsupportedError(
      `${source}: GGUF export takes a SentencePiece-style BPE with byte fallback or a byte-level BPE tokenizer.json with GPT-2's, Llama 3's or Qwen2's pre-tokenizer; this one has ${describe(t)}`,
    );
  }

  const tokens: string[] = [];
  for (const [text, id] of Object.entries(m.vocab)) tokens[id] = text;
  for (const a of t.added_tokens ?? []) tokens[a.id] = a.content;
  if (tokens.length !== vocabSize || tokens.includes(undefined as unknown as string)) {
    throw new UnsupportedError(`${source}: the tokenizer has ids 0..${tokens.length - 1} with gaps or a count other than the model's ${vocabSize} embedding rows; llama.cpp needs one token per row`);
  }
  const added = new Map((t.added_tokens ?? []).map((a) => [a.id, a]));
  const unk = m.unk_token != null ? m.vocab[m.unk_token] : undefined;
  const types = tokens.map((text, id) => {
    const a = added.get(id);
    if (id === unk) return TOKEN_TYPE.UNKNOWN;
    if (a) return a.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
    return sentencePiece && BYTE_PIECE.test(text) ? TOKEN_TYPE.BYTE : TOKEN_TYPE.NORMAL;
  });
  const merges = m.merges.map((x) => (typeof x === 'string' ? x.split(' ') : x));

  const out: Array<[string, KvValue]> = [['tokenizer.ggml.model', kv.str(sentencePiece ? 'llama' : 'gpt2')]];
  if (bytePre) out.push(['tokenizer.ggml.pre', kv.str(bytePre.name)]);
  out.push(['tokenizer.ggml.tokens', kv.strings(tokens)]);
  if (sentencePiece) {
    // llama.cpp merges the pair whose concatenation scores highest; `tokenizers` the pair of lowest
    // merge rank. So a merge's result scores minus its rank (a repeated pair keeps its last rank, as
    // in `tokenizers`: the later entry overwrites).
    const scores = new Array<number>(tokens.length).fill(NO_MERGE_SCORE);
    merges.forEach(([a, b], rank) => {
      const id = m.vocab[a + b];
      if (id !== undefined) scores[id] = -rank;
    });
    out.push(['tokenizer.ggml.scores', kv.f32s(scores)]);
  } else out.push(['tokenizer.ggml.merges', kv.strings(merges.map((p) => p.join(' ')))]);
  out.push(['tokenizer.ggml.token_type', kv.i32s(types)]);
  if (spec.bos !== null) out.push(['tokenizer.ggml.bos_token_id', kv.u32(spec.bos)]);
  if (spec.eos !== null) out.push(['tokenizer.ggml.eos_token_id', kv.u32(spec.eos)]);
  if (unk !== undefined) out.push(['tokenizer.ggml.unknown_token_id', kv.u32(unk)]);
  if (t.padding?.pad_id !== undefined) out.push(['tokenizer.ggml.padding_token_id', kv.u32(t.padding.pad_id)]);
  // our encode puts spec.bos first and never appends EOS; llama.cpp is told the same
  out.push(['tokenizer.ggml.add_bos_token', kv.bool(spec.bos !== null)], ['tokenizer.ggml.add_eos_token', kv.bool(false)]);
  if (sentencePiece) out.push(['tokenizer.ggml.add_space_prefix', kv.bool(true)]);
  return out;
}

/** What a `gpt2` GGUF tokenizer holds (read by llama.ts). */
export interface Gpt2Metadata {
  tokens: string[];
  merges: string[];
  types: number[] | undefined;
  pre: string | undefined;
  bos: number | null;
  eos: number | null;
}

/**
 * A `gpt2` GGUF tokenizer as an hf-kind spec: the byte-level BPE tokenizer.json with the
 * pre-tokenizer its tokenizer.ggml.pre names (bpe-pre.ts) and the ByteLevel decoder, control and
 * user-defined tokens as added tokens. Other pres are other regexes, so they are refused.
 */
export function gpt2TokenizerSpec(g: Gpt2Metadata, source: string): HfSpec {
  const bytePre = BYTE_PRES.find((p) => p.name === g.pre);
  if (!bytePre) {
    const known = BYTE_PRES.map((p) => `'${p.name}'`).join(', ');
    throw new UnsupportedError(`${source}: tokenizer.ggml.pre '${g.pre ?? '(none)'}' is not supported for tokenizer.ggml.model 'gpt2' (only ${known})`);
  }
  const added = g.tokens.flatMap((content, id) => {
    const type = g.types?.[id];
    if (type !== TOKEN_TYPE.CONTROL && type !== TOKEN_TYPE.USER_DEFINED) return [];
    return [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TOKEN_TYPE.CONTROL }];
  });
  const json = {
    version: '1.0',
    added_tokens: added,
    normalizer: bytePre.normalizer,
    pre_tokenizer: bytePre.preTokenizer,
    post_processor: null,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: bytePre.ignoreMerges,
      vocab: Object.fromEntries(g.tokens.map((t, i) => [t, i])),
      merges: g.merges,
    },
  };
  return hfTokenizerSpec(JSON.stringify(json), source, { bos: g.bos, eos: g.eos });
}
