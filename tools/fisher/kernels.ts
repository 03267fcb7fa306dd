// Dense loops for the toolchain's backward pass: the three products a linear layer needs
// (forward, gradient of the input, gradient of the weight), all over Float32Array storage with the
// sums kept in f64. All three are one kernel, a row-by-row dot product (sums in registers beat
// accumulating into a row in memory by about 1.5x on V8); the backward products run it over
// transposed operands. Weights are row-major [out, in], one row per output, as in the .sqz format.
// Nothing here allocates.

/**
 * y[t, o] (= or +=) sum_i x[t, i] * w[o, i] for t < n; x is [n, nin], w [nout, nin], y [n, nout].
 * Blocks of 4 rows x 4 outputs keep 16 sums in registers (about 1.6x the speed of one output at a
 * time on V8); the edges take the same sums one row or one output at a time.
 */
export function linearForward(y: Float32Array, x: Float32Array, w: Float32Array, n: number, nin: number, nout: number, add = false): void {
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const x0 = t * nin;
    const x1 = x0 + nin;
    const x2 = x1 + nin;
    const x3 = x2 + nin;
    let o = 0;
    for (; o + 4 <= nout; o += 4) {
      const w0 = o * nin;
      const w1 = w0 + nin;
      const w2 = w1 + nin;
      const w3 = w2 + nin;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let i = 0; i < nin; i++) {
        const a = w[w0 + i];
        const b = w[w1 + i];
        const c = w[w2 + i];
        const d = w[w3 + i];
        let v = x[x0 + i];
        s00 += a * v; s01 += b * v; s02 += c * v; s03 += d * v;
        v = x[x1 + i];
        s10 += a * v; s11 += b * v; s12 += c * v; s13 += d * v;
        v = x[x2 + i];
        s20 += a * v; s21 += b * v; s22 += c * v; s23 += d * v;
        v = x[x3 + i];
        s30 += a * v; s31 += b * v; s32 += c * v; s33 += d * v;
      }
      const r0 = t * nout + o;
      const r1 = r0 + nout;
      const r2 = r1 + nout;
      const r3 = r2 + nout;
      if (add) {
        y[r0] += s00; y[r0 + 1] += s01; y[r0 + 2] += s02; y[r0 + 3] += s03;
        y[r1] += s10; y[r1 + 1] += s11; y[r1 + 2] += s12; y[r1 + 3] += s13;
        y[r2] += s20; y[r2 + 1] += s21; y[r2 + 2] += s22; y[r2 + 3] += s23;
        y[r3] += s30; y[r3 + 1] += s31; y[r3 + 2] += s32; y[r3 + 3] += s33;
      } else {
        y[r0] = s00; y[r0 + 1] = s01; y[r0 + 2] = s02; y[r0 + 3] = s03;
        y[r1] = s10; y[r1 + 1] = s11; y[r1 + 2] = s12; y[r1 + 3] = s13;
        y[r2] = s20; y[r2 + 1] = s21; y[r2 + 2] = s22; y[r2 + 3] = s23;
        y[r3] = s30; y[r3 + 1] = s31; y[r3 + 2] = s32; y[r3 + 3] = s33;
      }
    }
    for (; o < nout; o++) {
      const w0 = o * nin;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < nin; i++) {
        const a = w[w0 + i];
        s0 += a * x[x0 + i];
        s1 += a * x[x1 + i];
        s2 += a * x[x2 + i];
        s3 += a * x[x3 + i];
      }
      const r = t * nout + o;
      if (add) {
        y[r] += s0; y[r + nout] += s1; y[r + 2 * nout] += s2; y[r + 3 * nout] += s3;
      } else {
        y[r] = s0; y[r + nout] = s1; y[r + 2 * nout] = s2; y[r + 3 * nout] = s3;
      }
    }
  }
  for (; t < n; t++) {
    const x0 = t * nin;
    for (let o = 0; o < nout; o++) {
      const w0 = o * nin;
      let s = 0;
      for (let i = 0; i < nin; i++) s += w[w0 + i] * x[x0 + i];
      if (add) y[t * nout + o] += s;
      else y[t * nout + o] = s;
    }
  }
}

/** dst[c, r] = src[r, c] for a row-major [rows, cols] src, in 32 x 32 tiles. */
export function transpose(dst: Float32Array, src: Float32Array, rows: number, cols: number): void {
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(c0 + B, cols);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

/**
 * dx[t, i] (= or +=) sum_o dy[t, o] * w[o, i] for t < n, the gradient of a linear layer's input,
 * given wT = w transposed ([nin, nout]) so the sums run along contiguous rows.
 */
export function linearBackInput(dx: Float32Array, dy: Float32Array, wT: Float32Array, n: number, nin: number, nout: number, add: boolean): void {
  linearForward(dx, dy, wT, n, nout, nin, add);
}

/**
 * dw[o, i] = sum_{t < n} dy[t, o] * x[t, i], the gradient of a linear layer's weight
 * (overwritten), given dyT [nout, n] and xT [nin, n], the transposes of dy and x.
 */
export function linearBackWeight(dw: Float32Array, dyT: Float32Array, xT: Float32Array, n: number, nin: number, nout: number): void {
  linearForward(dw, dyT, xT, nout, n, nin);
}

/** Row-wise RMSNorm of x[n, d] into y, keeping each row's 1/rms in inv: y = w * x * inv, inv = 1/sqrt(mean(x^2) + eps). */
export function rmsnormRows(y: Float32Array, inv: Float64Array, x: Float32Array, w: Float32Array, n: number, d: number, eps: number): void {
  for (let t = 0; t < n; t++) {
    const b = t * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[b + i] * x[b + i];
    const r = 1 / Math.sqrt(ss / d + eps);
    inv[t] = r;
    for (let i = 0; i < d; i++) y[b + i] = w[i] * (x[b + i] * r);
  }
}

/**
 * Adds the RMSNorm input gradient into dx: for y = w * x * r, r = (mean(x^2) + eps)^(-1/2),
 * dx = r * (w * dy) - (r^3 / d) * x * sum_j(x_j * w_j * dy_j).
 */
export function rmsnormBackAdd(dx: Float32Array, dy: Float32Array, x: Float32Array, inv: Float64Array, w: Float32Array, n: number, d: number): void {
  for (let t = 0; t < n; t++) {
    const b = t * d;
    const r = inv[t];
    let s = 0;
    for (let i = 0; i < d; i++) s += x[b + i] * w[i] * dy[b + i];
    const c = (r * r * r * s) / d;
    for (let i = 0; i < d; i++) dx[b + i] += r * w[i] * dy[b + i] - c * x[b + i];
  }
}
