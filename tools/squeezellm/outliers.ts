// Outliers, SqueezeLLM's way: per weight matrix, q1 and q3 are the 25th and 75th percentiles;
// with range r, lo = q1 - r(q3 - q1), hi = q3 + r(q3 - q1), T = max(|lo|, |hi|); |w| >= T is an
// outlier. Or, to hit a target share p% directly, T is the magnitude of the round(p% * n)-th
// largest |w|.

/** The q-th percentile (0..100) of sorted values, linearly interpolated (numpy's default). */
export function percentileSorted(sorted: Float32Array | Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentile of an empty array');
  const pos = ((n - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The threshold T for outlier range r. */
export function rangeThreshold(w: Float32Array, r: number): number {
  const s = Float32Array.from(w).sort();
  const q1 = percentileSorted(s, 25);
  const q3 = percentileSorted(s, 75);
  const iqr = q3 - q1;
  return Math.max(Math.abs(q1 - r * iqr), Math.abs(q3 + r * iqr));
}

/** The threshold that makes about p% of the values outliers (p = 0: none). */
export function percentThreshold(w: Float32Array, p: number): number {
  const k = Math.round((p / 100) * w.length);
  if (k <= 0) return Infinity;
  const mags = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) mags[i] = Math.abs(w[i]);
  mags.sort();
  return mags[w.length - Math.min(k, w.length)];
}

/** How many values are outliers under threshold T. */
export function countOutliers(w: Float32Array, T: number): number {
  let n = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) >= T) n++;
  return n;
}

/** The outlier configuration file `outlier_config_o{percent}.json`: thresholds per matrix. */
export interface OutlierConfig {
  /** How thresholds were set. */
  rule: { range: number } | { percent: number };
  /** Realized share of outliers over all quantized matrices, in percent. */
  percent: number;
  tensors: Record<string, { threshold: number; count: number; numel: number }>;
}

export function outlierConfigName(percent: number): string {
  return `outlier_config_o${percent.toFixed(3).replace(/\.?0+$/, '')}.json`;
}
