// The `sqz` command line: one small module per command, one option parser, one progress helper.
// Errors the user can act on (SqzError) become one line on stderr and exit code 1; anything else
// is a bug and keeps its stack.
import { enableRelaxedSimd } from '../../src/backend/wasm/instance.ts';
import { removeTrackedTemps } from '../../src/format/outpath.ts';
import { SqzError } from '../../src/util/errors.ts';
import { type Command, helpText, parse } from './command.ts';
import { baseline } from './commands/baseline.ts';
import { chunk } from './commands/chunk.ts';
import { convert } from './commands/convert.ts';
import { demo } from './commands/demo.ts';
import { evalCmd } from './commands/eval.ts';
import { exportCmd } from './commands/export.ts';
import { gradients } from './commands/gradients.ts';
import { info } from './commands/info.ts';
import { nuq } from './commands/nuq.ts';
import { outliers } from './commands/outliers.ts';
import { pack } from './commands/pack.ts';
import { quantize } from './commands/quantize.ts';
import { ppl } from './commands/ppl.ts';
import { run } from './commands/run.ts';
import { selfcheck } from './commands/selfcheck.ts';
import { serve } from './commands/serve.ts';
import { synth } from './commands/synth.ts';
import { tune } from './commands/tune.ts';
import { packageVersion } from './version.ts';

const commands: Command[] = [demo, run, serve, ppl, info, convert, exportCmd, quantize, baseline, evalCmd, gradients, chunk, outliers, nuq, tune, pack, synth, selfcheck];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return (
    'sqz — SqueezeLLM quantization and a WASM runtime for LLaMA-family models\n\n' +
    'usage: sqz <command> [options]   (sqz <command> --help for its options; sqz --version)\n\n' +
    commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n') +
    '\n'
  );
}

async function main(argv: string[]): Promise<number> {
  // before any kernel module is compiled: the relaxed-SIMD kernels on Node 20 (docs/KERNELS.md)
  await enableRelaxedSimd();
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stdout.write(usage() + '\n');
    return selfcheck.run({ values: {}, positionals: [] }).then(() => 0);
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`sqz: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const parsed = parse(cmd, rest);
  if (parsed === 'help') {
    process.stdout.write(helpText(cmd));
    return 0;
  }
  return (await cmd.run(parsed)) ?? 0;
}

// Ctrl-C (or a kill) removes this process's temporaries before it exits, as a failed write does.
// A command that handles the signal itself (run stops and reports, serve shuts down) has its own
// listener: then it decides when to end (and its exit code: 130 for a run stopped by Ctrl-C), and
// only the temporaries go here.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    removeTrackedTemps();
    if (process.listenerCount(signal) > 1) return;
    process.stderr.write(`\nsqz: interrupted (${signal}); temporary files removed\n`);
    process.exit(code);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof SqzError) {
      process.stderr.write(`sqz: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`sqz: internal error (please report): ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 70;
    }
  },
);
