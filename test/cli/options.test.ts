import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from '../../tools/cli/command.ts';
import { nuq } from '../../tools/cli/commands/nuq.ts';
import { pack } from '../../tools/cli/commands/pack.ts';
import { UsageError } from '../../src/util/errors.ts';

test("the SqueezeLLM reference's option spellings are aliases", () => {
  const p = parse(pack, ['m.bin', '--wbits', '4', '--include_sparse', '--balanced', '--folder', 'lut', '-o', 'x.sqz']);
  if (p === 'help') return assert.unreachable();
  assert.is(p.values.bits, '4');
  assert.is(p.values['include-sparse'], true);
  assert.is(p.values.balance, true);
  assert.is(p.values.wbits, undefined);
  const q = parse(nuq, ['w', '--bit', '3', '--outlier_config', 'o.json', '--range', '0,1', '-o', 'l']);
  if (q === 'help') return assert.unreachable();
  assert.equal([q.values.bits, q.values['outlier-config'], q.values.layers], ['3', 'o.json', '0,1']);
});

test('an alias and its option together, or an unknown option, are usage errors', () => {
  assert.throws(() => parse(pack, ['m', '--wbits', '4', '--bits', '4']), (e: unknown) => e instanceof UsageError && /mean the same/.test((e as Error).message));
  assert.throws(() => parse(pack, ['m', '--frobnicate']), (e: unknown) => e instanceof UsageError && /frobnicate/.test((e as Error).message));
});

test.run();
