import { kernelSelfCheck } from '../../../src/backend/wasm/selfcheck.ts';
import { SqzError } from '../../../src/util/errors.ts';
import type { Command } from '../command.ts';

export const selfcheck: Command = {
  name: 'selfcheck',
  summary: 'run every WASM kernel once against its TypeScript reference',
  usage: `sqz selfcheck`,
  options: {},
  async run() {
    const results = await kernelSelfCheck();
    console.log('kernel self-check (WASM vs TypeScript reference, relative error):');
    for (const r of results) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(18)} ${r.maxRelErr.toExponential(2)}`);
    const bad = results.filter((r) => !r.ok);
    if (bad.length) throw new SqzError(`kernel self-check failed: ${bad.map((r) => r.name).join(', ')}`);
  },
};
