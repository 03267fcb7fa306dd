// Tokenizer files next to a checkpoint, turned into the TokenizerSpec the .sqz header stores. The
// parsing is src/tokenizer's (llama2cTokenizerSpec, hfTokenizerSpec); this file reads the files,
// checks the tokenizer fits the model, and gathers BOS/EOS from the model's config files.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type HfSpecialTokens, type SpecialTokenRef, hfTokenizerSpec, llama2cTokenizerSpec } from '../../src/tokenizer/index.ts';
import type { TokenizerSpec } from '../../src/tokenizer/spec.ts';
import { FormatError, SqzError } from '../../src/util/errors.ts';
import { assertNoDuplicateKeys } from './json.ts';

async function readOrThrow(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SqzError(`no such file: ${path}`);
    throw e;
  }
}

/**
 * A llama2.c tokenizer.bin. Its entry count must equal the model's vocab_size: a tokenizer of
 * another model is the usual mistake, and it would otherwise load silently.
 */
export async function readLlama2cTokenizer(path: string, vocabSize: number): Promise<TokenizerSpec> {
  const spec = llama2cTokenizerSpec(await readOrThrow(path), basename(path));
  if (spec.pieces.length !== vocabSize) {
    throw new FormatError(
      `${basename(path)}: tokenizer has ${spec.pieces.length} tokens but the model's vocab_size is ${vocabSize} (tokenizer of another model?)`,
    );
  }
  return spec;
}

/** Where BOS/EOS may be found, best first: ids in config.json / generation_config.json, then names in tokenizer_config.json. */
export interface SpecialTokenHints {
  configs: Array<Record<string, unknown> | undefined>;
  tokenizerConfig?: Record<string, unknown>;
}

/** An id field: an integer, or a list whose first entry is used (Llama 3 lists several EOS ids). */
function idField(v: unknown): number | undefined {
  if (Number.isInteger(v)) return v as number;
  if (Array.isArray(v) && Number.isInteger(v[0])) return v[0] as number;
  return undefined;
}

/** A tokenizer_config.json special-token entry: a string or {content}. */
function tokenRef(v: unknown): SpecialTokenRef | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return { content: (v as { content: string }).content };
  return undefined;
}

function specialTokens(h: SpecialTokenHints): HfSpecialTokens {
  const out: HfSpecialTokens = {};
  for (const key of ['bos', 'eos'] as const) {
    let ref: SpecialTokenRef | undefined;
    for (const c of h.configs) if (ref === undefined) ref = idField(c?.[`${key}_token_id`]);
    if (ref === undefined) ref = tokenRef(h.tokenizerConfig?.[`${key}_token`]);
    // Left undefined, hfTokenizerSpec finds it in tokenizer.json itself.
    if (ref !== undefined) out[key] = ref;
  }
  return out;
}

/**
 * tokenizer_config.json's chat_template: a string, or (newer files) a list of {name, template}
 * where the one named "default" is the chat template; undefined when absent.
 */
export function chatTemplateOf(tokenizerConfig: Record<string, unknown> | undefined): string | undefined {
  const t = tokenizerConfig?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((e) => e && typeof e === 'object' && (e as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  return undefined;
}

/** A Hugging Face tokenizer.json, kept verbatim, with BOS/EOS from the hints and the chat template of tokenizer_config.json. */
export async function readHfTokenizer(path: string, hints: SpecialTokenHints): Promise<TokenizerSpec> {
  const json = (await readOrThrow(path)).toString('utf8');
  assertNoDuplicateKeys(json, basename(path));
  const spec = hfTokenizerSpec(json, basename(path), specialTokens(hints));
  const chatTemplate = chatTemplateOf(hints.tokenizerConfig);
  return chatTemplate === undefined ? spec : { ...spec, chatTemplate };
}

/** A tokenizer given explicitly (--tokenizer): a .json is a Hugging Face tokenizer.json, anything else a llama2.c tokenizer.bin. */
export async function readTokenizerFile(path: string, vocabSize: number, hints: SpecialTokenHints): Promise<TokenizerSpec> {
  if (path.toLowerCase().endsWith('.json')) return readHfTokenizer(path, hints);
  return readLlama2cTokenizer(path, vocabSize);
}
