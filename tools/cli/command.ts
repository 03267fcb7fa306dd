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
  run(args: Parsed): Promise<void>;
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(cmd: Command, argv: string[]): Parsed | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional.*$/, '')} (see sqz ${cmd.name} --help)`);
  }
  if (parsed.values.help) return 'help';
  return parsed as Parsed;
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

/** The single positional argument a command takes (e.g. the model), or a usage error. */
export function onePositional(p: Parsed, cmd: Command, what: string): string {
  if (p.positionals.length !== 1) throw new UsageError(`sqz ${cmd.name} takes one ${what} (see sqz ${cmd.name} --help)`);
  return p.positionals[0];
}
