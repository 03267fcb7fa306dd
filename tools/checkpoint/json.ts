// JSON the checkpoint readers parse (safetensors headers, config.json and friends, tokenizer.json).
// JSON.parse keeps the last of two equal keys without a word, so a header naming one tensor twice,
// or a config.json with two num_hidden_layers, would be read as whichever came last; the readers
// refuse such files instead (the safetensors spec and Python's json agree on nothing here).
import { FormatError } from '../../src/util/errors.ts';

interface Open {
  /** Keys seen so far; null for an array. */
  keys: Set<string> | null;
  /** An object's next string is a key (after '{' or ','). */
  keyNext: boolean;
  /** The key this container sits under, for the message. */
  under: string;
}

/** The first key that appears twice in one object of `text`, with its enclosing key, or undefined (also for text that is not JSON: JSON.parse reports that). */
export function duplicateKey(text: string): string | undefined {
  const stack: Open[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (ch === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c /* \ */) {
          escaped = true;
          i++;
        }
      }
      if (i >= text.length) return undefined; // an unterminated string: not JSON, JSON.parse says why
      if (top?.keys && top.keyNext) {
        const raw = text.slice(start, i + 1);
        let key = raw.slice(1, -1);
        if (escaped) {
          try {
            key = JSON.parse(raw) as string;
          } catch {
            return undefined; // a bad escape: not JSON
          }
        }
        if (top.keys.has(key)) return top.under ? `${JSON.stringify(key)} (in ${JSON.stringify(top.under)})` : JSON.stringify(key);
        top.keys.add(key);
        top.keyNext = false;
        lastKey = key;
      }
    } else if (ch === 0x7b /* { */) {
      stack.push({ keys: new Set(), keyNext: true, under: top?.keys ? lastKey : (top?.under ?? '') });
    } else if (ch === 0x5b /* [ */) {
      stack.push({ keys: null, keyNext: false, under: top?.keys ? lastKey : (top?.under ?? '') });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
    } else if (ch === 0x2c /* , */ && top?.keys) {
      top.keyNext = true;
    }
  }
  return undefined;
}

/** Refuses JSON text with a key repeated inside one object; `what` names the file. */
export function assertNoDuplicateKeys(text: string, what: string): void {
  const dup = duplicateKey(text);
  if (dup !== undefined) throw new FormatError(`${what}: key ${dup} appears twice; refusing to guess which one is meant`);
}

/** Parses `text` as a JSON object with no repeated keys; anything else is a FormatError naming `what`. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${what}: not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError(`${what}: not a JSON object`);
  assertNoDuplicateKeys(text, what);
  return v as Record<string, unknown>;
}
