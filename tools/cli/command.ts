// The shape of one CLI command and the option parser they share (node:util parseArgs: strict,
// so an unknown option is an error naming it). The library never prints; commands do.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../src/util/errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  /** Usage lines after "sqz <name>", and a description of each option. */
  usage: string;
  options: Options;
  /** Other spellings (e.g. the SqueezeLLM reference's `--wbits`) of options: alias -> option name. */
  aliases?: Record<string, string>;
  /** Resolves to the exit code when it is not 0 (e.g. 130: `sqz run` stopped by Ctrl-C). */
  run(args: Parsed): Promise<void | number>;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * parseArgs reads `-n -5` as an option missing its value ("argument is ambiguous"); a value that
 * reads as a negative number is plainly a value, so it is joined to its option (`--steps=-5`) and
 * the range check names the problem.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? Object.keys(options).find((k) => options[k].short === a[1]) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parse(cmd: Command, argv: string[]): Parsed | 'help' {
  const aliases = cmd.aliases ?? {};
  const options: Options = { ...cmd.options, help: { type: 'boolean', short: 'h' } };
  for (const [alias, name] of Object.entries(aliases)) options[alias] = { type: cmd.options[name].type };
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional.*$/, '')} (see sqz ${cmd.name} --help)`);
  }
  if (parsed.values.help) return 'help';
  const values = { ...parsed.values } as Parsed['values'];
  for (const [alias, name] of Object.entries(aliases)) {
    if (values[alias] === undefined) continue;
    if (values[name] !== undefined) throw new UsageError(`--${alias} and --${name} mean the same; give one`);
    values[name] = values[alias];
    delete values[alias];
  }
  return { values, positionals: parsed.positionals };
}

export function helpText(cmd: Command): string {
  return `sqz ${cmd.name} — ${cmd.summary}\n\nusage: ${cmd.usage.trim()}\n`;
}

/** A numeric option: undefined when absent, an error naming the option when not a number in range. */
export function num(p: Parsed, name: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = p.values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v))) {
    throw new UsageError(`--${name} expects ${opts.int ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`--${name} must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new UsageError(`--${name} must be at most ${opts.max}, got ${v}`);
  return v;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An option given any number of times (`multiple: true`): its values in order, [] when absent. */
export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A required string option, or a usage error naming it. */
export function required(p: Parsed, cmd: Command, name: string, what: string): string {
  const v = str(p, name);
  if (v === undefined) throw new UsageError(`sqz ${cmd.name} needs --${name} ${what} (see sqz ${cmd.name} --help)`);
  return v;
}

/** --bits: 3 or 4. */
export function bitsOption(p: Parsed): 3 | 4 {
  const b = num(p, 'bits', { int: true });
  if (b !== 3 && b !== 4) throw new UsageError(`--bits must be 3 or 4, got ${b ?? 'nothing'}`);
  return b;
}

/** The single positional argument a command takes (e.g. the model), or a usage error. */
export function onePositional(p: Parsed, cmd: Command, what: string): string {
  if (p.positionals.length !== 1) throw new UsageError(`sqz ${cmd.name} takes one ${what} (see sqz ${cmd.name} --help)`);
  return p.positionals[0];
}
