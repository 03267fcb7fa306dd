// Options several commands share, parsed one way.
import type { BackendName } from '../../../src/index.ts';
import { UsageError } from '../../../src/util/errors.ts';
import { type Options, type Parsed, str } from '../command.ts';

export const modelOptions: Options = {
  ctx: { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
};

export function backendOption(p: Parsed): BackendName {
  const b = str(p, 'backend') ?? 'wasm';
  if (b !== 'wasm' && b !== 'js') throw new UsageError(`--backend must be wasm or js, got '${b}'`);
  return b;
}
