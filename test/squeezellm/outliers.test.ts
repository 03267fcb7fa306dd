import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countOutliers, outlierConfigName, percentileSorted, percentThreshold, rangeThreshold } from '../../tools/squeezellm/outliers.ts';
import { Rng } from '../../src/util/random.ts';

test('percentiles interpolate linearly between order statistics (numpy default)', () => {
  const s = Float64Array.from([1, 2, 3, 4, 5]);
  assert.is(percentileSorted(s, 25), 2);
  assert.is(percentileSorted(s, 75), 4);
  assert.is(percentileSorted(s, 10), 1.4); // position 0.4 between 1 and 2
  assert.is(percentileSorted(Float64Array.from([7]), 50), 7);
});

test('range threshold: T = max(|q1 - r*iqr|, |q3 + r*iqr|) on a hand example', () => {
  // sorted: -4 -1 0 1 2 3 10 -> q1 at position 1.5 = -0.5, q3 at 4.5 = 2.5, iqr 3
  const w = Float32Array.from([10, 0, -1, 3, 1, -4, 2]);
  assert.is(rangeThreshold(w, 1), Math.max(Math.abs(-0.5 - 3), Math.abs(2.5 + 3))); // 5.5
  assert.is(countOutliers(w, rangeThreshold(w, 1)), 1); // only 10
  assert.is(rangeThreshold(w, 0), 2.5);
});

test('percent threshold hits the target share on random data', () => {
  const rng = new Rng(3);
  const w = rng.normals(20000);
  for (const p of [0.05, 0.45, 1, 10]) {
    const n = countOutliers(w, percentThreshold(w, p));
    assert.is(n, Math.round((p / 100) * w.length), `p=${p}`);
  }
  assert.is(countOutliers(w, percentThreshold(w, 0)), 0);
});

test('outlier config file names carry the realized percent', () => {
  assert.is(outlierConfigName(0.45), 'outlier_config_o0.45.json');
  assert.is(outlierConfigName(0.4512), 'outlier_config_o0.451.json');
  assert.is(outlierConfigName(1), 'outlier_config_o1.json');
});

test.run();
