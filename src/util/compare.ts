/**
 * Norm-wise relative error max_i |a_i - b_i| / max_i |b_i|: the measure kernels are held to
 * against their f64 references (an elementwise ratio blows up on outputs that cancel to near
 * zero). Different lengths or NaN anywhere count as infinite error.
 */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
