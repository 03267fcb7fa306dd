// Hugging Face tokenizer.json (BPE: SentencePiece style with byte fallback, or byte-level as in
// GPT-2 / Llama 3 / SmolLM). Normalizers, pre-tokenizers, the BPE model, added tokens and decoders
// come from @huggingface/tokenizers (Tokenizers.js, pure JS, no dependencies); this file checks
// the file, finds BOS/EOS, adds the BOS rule of our API and the streaming decoder.
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { FormatError, UnsupportedError } from '../util/errors.ts';
import { mergePairs } from './merge.ts';
import type { TokenizerSpec } from './spec.ts';
import { type ControlToken, controlTokens, type EncodeOptions, type StreamDecoder, type Tokenizer } from './types.ts';

export type HfSpec = Extract<TokenizerSpec, { kind: 'hf' }>;

/** A special token named by id, by content, or as tokenizer_config.json writes it ({content}); null: none. */
export type SpecialTokenRef = number | string | { content: string } | null;

/** BOS/EOS as the model's config files give them; undefined: found in tokenizer.json (see hfTokenizerSpec). */
export interface HfSpecialTokens {
  bos?: SpecialTokenRef;
  eos?: SpecialTokenRef;
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

interface TokenizerJson {
  model: {
    type?: string;
    vocab?: unknown;
    merges?: unknown;
    unk_token?: string | null;
    end_of_word_suffix?: string | null;
    continuing_subword_prefix?: string | null;
    continuing_subword_suffix?: string | null;
  };
  added_tokens?: AddedToken[];
  post_processor?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** EOS candidates by name, best first (then any special token whose name says end/eos/eot). */
const EOS_NAMES = ['</s>', '<|end_of_text|>', '<|endoftext|>', '<eos>', '<|eot_id|>', '<|im_end|>', '<|end|>'];

function parse(json: string, source: string): TokenizerJson {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (e) {
    throw new FormatError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new FormatError(`${source}: not a Hugging Face tokenizer.json (not a JSON object)`);
  const tok = obj as TokenizerJson;
  const model = tok.model;
  if (!model || typeof model !== 'object') throw new FormatError(`${source}: not a Hugging Face tokenizer.json (no "model")`);
  // tokenizer.json files before `tokenizers` 0.11 may leave out model.type; a BPE model has merges
  const type = model.type ?? (Array.isArray(model.merges) ? 'BPE' : Array.isArray(model.vocab) ? 'Unigram' : 'WordPiece');
  if (type !== 'BPE') {
    throw new UnsupportedError(`${source}: tokenizer model type "${type}" is not supported (only BPE: SentencePiece style or byte-level)`);
  }
  if (!model.vocab || typeof model.vocab !== 'object' || Array.isArray(model.vocab)) throw new FormatError(`${source}: BPE model has no "vocab" object`);
  if (!Array.isArray(model.merges)) throw new FormatError(`${source}: BPE model has no "merges" list`);
  for (const m of model.merges) {
    if (!(typeof m === 'string' && m.includes(' ')) && !(Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string')) {
      throw new FormatError(`${source}: merge ${JSON.stringify(m)} is neither "a b" nor ["a", "b"]`);
    }
  }
  for (const [piece, id] of Object.entries(model.vocab as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new FormatError(`${source}: vocab entry ${JSON.stringify(piece)} has id ${JSON.stringify(id)}`);
  }
  if (tok.added_tokens === undefined || tok.added_tokens === null) tok.added_tokens = [];
  if (!Array.isArray(tok.added_tokens)) throw new FormatError(`${source}: "added_tokens" is not a list`);
  for (const a of tok.added_tokens) {
    if (!a || !Number.isInteger(a.id) || a.id < 0 || typeof a.content !== 'string') throw new FormatError(`${source}: malformed added token ${JSON.stringify(a)}`);
  }
  // Tokenizers.js wants these keys present (null when unused), as `tokenizers` writes them
  for (const k of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) if (tok[k] === undefined) tok[k] = null;
  return tok;
}

/** Text every tokenizer must encode and decode at load: a malformed component fails on it here, not at the first prompt. */
const PROBE = 'Once upon a time, 12 cats said "hi!"\n\u00e9';

function load(tok: TokenizerJson, source: string): HfLibTokenizer {
  let lib: HfLibTokenizer;
  try {
    lib = new HfLibTokenizer(tok, { clean_up_tokenization_spaces: false });
  } catch (e) {
    throw new UnsupportedError(`${source}: cannot build the tokenizer: ${(e as Error).message}`);
  }
  // The library checks little when it builds (a post_processor template entry that is a number,
  // say, throws a TypeError at every encode), so a test text goes through both ways now.
  try {
    const ids = lib.encode(PROBE, { add_special_tokens: false }).ids.filter((id) => id !== undefined);
    lib.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  } catch (e) {
    throw new FormatError(`${source}: the tokenizer fails on a test text (${(e as Error).message}); a malformed tokenizer.json?`);
  }
  return lib;
}

/** One more than the largest id a tokenizer.json can produce (vocab and added tokens); parses and checks `json`. */
export function hfIdCount(json: string, source: string): number {
  return vocabSizeOf(parse(json, source));
}

function vocabSizeOf(tok: TokenizerJson): number {
  let max = -1;
  for (const id of Object.values(tok.model.vocab as Record<string, number>)) if (id > max) max = id;
  for (const a of tok.added_tokens!) if (a.id > max) max = a.id;
  return max + 1;
}

function idOfContent(tok: TokenizerJson, content: string): number | undefined {
  const added = tok.added_tokens!.find((a) => a.content === content);
  if (added) return added.id;
  const id = (tok.model.vocab as Record<string, number>)[content];
  return Object.hasOwn(tok.model.vocab as object, content) ? id : undefined;
}

function resolve(tok: TokenizerJson, ref: SpecialTokenRef, which: string, source: string, vocabSize: number): number | null {
  if (ref === null) return null;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0 || ref >= vocabSize) throw new FormatError(`${source}: ${which} id ${ref} is outside the vocabulary of ${vocabSize}`);
    return ref;
  }
  const content = typeof ref === 'string' ? ref : ref.content;
  const id = idOfContent(tok, content);
  if (id === undefined) throw new FormatError(`${source}: ${which} token ${JSON.stringify(content)} is not in the vocabulary`);
  return id;
}

/** The token the post-processor puts first (TemplateProcessing, Roberta/Bert cls), or null. */
function bosFromPostProcessor(tok: TokenizerJson, pp: Record<string, unknown> | null | undefined): number | null {
  if (!pp || typeof pp !== 'object') return null;
  if (pp.type === 'Sequence' && Array.isArray(pp.processors)) {
    for (const p of pp.processors) {
      const id = bosFromPostProcessor(tok, p);
      if (id !== null) return id;
    }
    return null;
  }
  if (pp.type === 'TemplateProcessing' && Array.isArray(pp.single)) {
    const first = pp.single[0] as { SpecialToken?: { id: string } } | undefined;
    const name = first?.SpecialToken?.id;
    if (name === undefined) return null;
    const entry = (pp.special_tokens as Record<string, { ids?: number[] }> | undefined)?.[name];
    return entry?.ids?.[0] ?? idOfContent(tok, name) ?? null;
  }
  if ((pp.type === 'RobertaProcessing' || pp.type === 'BertProcessing') && Array.isArray(pp.cls)) {
    return Number.isInteger(pp.cls[1]) ? (pp.cls[1] as number) : null;
  }
  return null;
}

function eosByName(tok: TokenizerJson, bos: number | null): number | null {
  const special = tok.added_tokens!.filter((a) => a.special && a.id !== bos && a.content !== tok.model.unk_token);
  for (const name of EOS_NAMES) {
    const id = idOfContent(tok, name);
    if (id !== undefined && id !== bos) return id;
  }
  return special.find((a) => /end|eos|eot/i.test(a.content))?.id ?? null;
}

/**
 * Checks a tokenizer.json and makes the spec the model header stores (the JSON is kept verbatim).
 * BOS is the token the post-processor prepends (TemplateProcessing, as Llama and TinyStories-656K
 * have it), else none. EOS is an added token with a known end name (`</s>`, `<|end_of_text|>`,
 * `<|endoftext|>`, `<eos>`, `<|eot_id|>`, `<|im_end|>`, `<|end|>`), else the first special token
 * whose name contains end/eos/eot, else none. `special` (from config.json, generation_config.json
 * or tokenizer_config.json) overrides either. Throws FormatError for a malformed file and
 * UnsupportedError for a model other than BPE or a component Tokenizers.js lacks.
 */
export function hfTokenizerSpec(json: string, source: string, special: HfSpecialTokens = {}): HfSpec {
  const tok = parse(json, source);
  load(tok, source);
  const size = vocabSizeOf(tok);
  const bos = special.bos !== undefined ? resolve(tok, special.bos, 'BOS', source, size) : bosFromPostProcessor(tok, tok.post_processor);
  const eos = special.eos !== undefined ? resolve(tok, special.eos, 'EOS', source, size) : eosByName(tok, bos);
  return { kind: 'hf', json, bos, eos };
}

/** Words at least this long (in UTF-16 units) go to longWordBpe; shorter ones stay on Tokenizers.js's cached path. */
const LONG_WORD = 256;

/**
 * BPE for one long word with the same result as Tokenizers.js's BPE.bpe (and `tokenizers`): the
 * pair of lowest merge rank first, the leftmost on ties. Without a pre-tokenizer (SentencePiece
 * style, as TinyStories-656K) the whole text is one word, and the library's string-keyed queue
 * takes about 9 s for a megabyte; this one works on ids (merge.ts). Null when the file has
 * suffixes/prefixes or merges whose parts are not in the vocabulary: then the library does it all.
 */
function longWordBpe(tok: TokenizerJson): ((word: string) => string[]) | null {
  const m = tok.model;
  if (m.end_of_word_suffix || m.continuing_subword_prefix || m.continuing_subword_suffix) return null;
  const ids = new Map<string, number>();
  const pieces: string[] = [];
  for (const [piece, id] of Object.entries(m.vocab as Record<string, number>)) {
    ids.set(piece, id);
    pieces[id] = piece;
  }
  const V = pieces.length;
  const rank = new Map<number, number>();
  const mergedOf: number[] = [];
  const merges = m.merges as Array<string | [string, string]>;
  for (let r = 0; r < merges.length; r++) {
    const x = merges[r];
    const [a, b] = typeof x === 'string' ? x.split(' ', 2) : x;
    const ia = ids.get(a), ib = ids.get(b), im = ids.get(a + b);
    if (ia === undefined || ib === undefined || im === undefined) return null;
    rank.set(ia * V + ib, r); // a repeated pair keeps its last rank, as the library's Map does
    mergedOf[r] = im;
  }
  const rules = {
    pair: (a: number, b: number) => (a < V && b < V ? (rank.get(a * V + b) ?? -1) : -1),
    merged: (r: number) => mergedOf[r],
    priority: (r: number) => -r,
  };
  return (word: string): string[] => {
    const unknown = new Map<string, number>();
    const unknownChars: string[] = [];
    const symbols: number[] = [];
    for (const ch of word) {
      let id = ids.get(ch);
      if (id === undefined) {
        id = unknown.get(ch);
        if (id === undefined) {
          id = V + unknownChars.length;
          unknown.set(ch, id);
          unknownChars.push(ch);
        }
      }
      symbols.push(id);
    }
    return mergePairs(symbols, rules).map((id) => (id < V ? pieces[id] : unknownChars[id - V]));
  };
}

export interface HfTokenizerOptions {
  /** Encode long words with longWordBpe (default true; false leaves all of BPE to Tokenizers.js, for tests). */
  fastLongWords?: boolean;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly controls: readonly ControlToken[];
  private readonly lib: HfLibTokenizer;

  constructor(spec: HfSpec, source = 'tokenizer.json in the model header', opts: HfTokenizerOptions = {}) {
    if (typeof spec.json !== 'string') throw new FormatError(`${source}: the hf tokenizer spec has no JSON text`);
    const tok = parse(spec.json, source);
    this.lib = load(tok, source);
    const model = this.lib.model as unknown as { bpe?: (word: string) => string[] };
    const fast = (opts.fastLongWords ?? true) && typeof model.bpe === 'function' ? longWordBpe(tok) : null;
    if (fast) {
      const slow = model.bpe!.bind(model);
      model.bpe = (word: string) => (word.length >= LONG_WORD ? fast(word) : slow(word));
    }
    this.vocabSize = vocabSizeOf(tok);
    for (const [name, id] of [['bos', spec.bos], ['eos', spec.eos]] as const) {
      if (id !== null && (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)) {
        throw new FormatError(`${source}: ${name} ${id} is outside the vocabulary of ${this.vocabSize}`);
      }
    }
    this.bos = spec.bos;
    this.eos = spec.eos;
    const special = tok.added_tokens!.filter((a) => a.special && a.content !== tok.model.unk_token);
    const pieceOf = (id: number | null) => (id === null ? undefined : this.lib.id_to_token(id));
    this.controls = controlTokens([[this.eos, pieceOf(this.eos)], [this.bos, pieceOf(this.bos)], ...special.map((a) => [a.id, a.content] as [number, string])]);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    let ids = text.length > 0 ? this.lib.encode(text, { add_special_tokens: false }).ids : [];
    // a piece with no id and no <unk> to stand for it comes back undefined; `tokenizers` drops it too
    if (ids.some((id) => id === undefined)) ids = ids.filter((id) => id !== undefined);
    if ((opts.bos ?? true) && this.bos !== null) ids.unshift(this.bos);
    return ids;
  }

  decode(ids: number[]): string {
    const keep = ids.filter(
      (id) => Number.isInteger(id) && id >= 0 && id < this.vocabSize && id !== this.bos && id !== this.eos && this.lib.id_to_token(id) !== undefined,
    );
    if (keep.length === 0) return '';
    return this.lib.decode(keep, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  /**
   * Decodes a sliding window: text = decode(ids[prefix:]) minus decode(ids[prefix:read]), given out
   * once it grows and does not end in U+FFFD (an incomplete byte sequence). The window starts one
   * token early so decoders that strip a leading space (SentencePiece style) treat the new token as
   * a continuation. Exact for the decoders of the supported kinds (Replace/ByteFallback/Fuse/Strip,
   * Metaspace, ByteLevel), whose output for a sequence extends their output for any prefix of it.
   */
  streamDecoder(): StreamDecoder {
    let ids: number[] = [];
    let prefix = 0;
    let read = 0;
    const step = (final: boolean): string => {
      const before = this.decode(ids.slice(prefix, read));
      const now = this.decode(ids.slice(prefix));
      if (now.length > before.length && (final || !now.endsWith('\uFFFD'))) {
        prefix = read;
        read = ids.length;
        if (prefix > 256) {
          ids = ids.slice(prefix);
          read -= prefix;
          prefix = 0;
        }
        return now.slice(before.length);
      }
      return '';
    };
    return {
      push: (id: number): string => {
        ids.push(id);
        return step(false);
      },
      flush: (): string => step(true),
    };
  }
}
