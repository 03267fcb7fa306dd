import { UsageError } from '../../../src/util/errors.ts';
import { outliersStep } from '../../squeezellm/steps.ts';
import { type Command, num, onePositional, required } from '../command.ts';
import { runStep, stepOptions, stepOptionsHelp } from './shared.ts';

export const outliers: Command = {
  name: 'outliers',
  summary: 'outlier thresholds per weight matrix (interquartile range rule, or a target percent)',
  usage: `sqz outliers <weights DIR> (--range R | --percent P) -o DIR2 [options]
      --range R          |w| >= max(|q1 - R(q3-q1)|, |q3 + R(q3-q1)|) is an outlier
      --percent P        instead: about P% of each matrix are outliers
  -o, --output DIR2      where outlier_config_o{realized percent}.json is written
${stepOptionsHelp}`,
  options: { range: { type: 'string' }, percent: { type: 'string' }, output: { type: 'string', short: 'o' }, ...stepOptions },
  async run(p) {
    const dir = onePositional(p, this, 'weights folder');
    const out = required(p, this, 'output', 'DIR2');
    const range = num(p, 'range', { min: 0 });
    const percent = num(p, 'percent', { min: 0, max: 100 });
    if ((range === undefined) === (percent === undefined)) throw new UsageError('sqz outliers needs one of --range R or --percent P');
    const path = await runStep(p, 'outliers', (onProgress) => outliersStep(dir, out, range !== undefined ? { range } : { percent: percent! }, onProgress));
    console.log(`wrote ${path}`);
  },
};
