// The `js` backend: the forward pass on the plain TypeScript reference kernels. Slow and simple on
// purpose; tests hold the WASM backend to it.
import * as ref from '../../kernels/reference.ts';
import * as fam from '../../kernels/family.ts';
import { dequantize, nuqOfShared, nuqRowInto, type TensorRecord } from '../../format/kinds.ts';
import { KV_KINDS, type KvShape, RefKvCache } from '../../kernels/attention.ts';
import type { AttentionShape, Backend, KvCache, Vec, Weight } from '../types.ts';

interface JsWeight extends Weight {
  /** Dense f32 values (f32 and f16; nuq and uniform keep their packed form for their references). */
  readonly dense?: Float32Array;
  readonly nuq?: Extract<TensorRecord, { kind: 'nuq' }>;
  readonly uniform?: Extract<TensorRecord, { kind: 'uniform' }>;
}

export class JsBackend implements Backend {
  readonly name = 'js';
  readonly kvKinds = KV_KINDS;
  readonly attendExtras = true;
  private mem = new Float32Array(1 << 16);
  private top = 0;

  alloc(n: number): Vec {
    if (this.top + n > this.mem.length) {
      const grown = new Float32Array(Math.max(this.mem.length * 2, this.top + n));
      grown.set(this.mem);
      this.mem = grown;
    }
    const v = { off: this.top, len: n };
    this.top += n;
    return v;
  }

  private f(v: Vec): Float32Array {
    return this.mem.subarray(v.off, v.off + v.len);
  }

  write(v: Vec, data: Float32Array): void {
    this.f(v).set(data.subarray(0, v.len));
  }

  read(v: Vec): Float32Array {
    return this.f(v).slice();
  }

  upload(rec: TensorRecord): Weight {
    // a table-sharing LUT matrix is the nuq matrix with its tables expanded per row
    if (rec.kind === 'nuq-shared') return this.upload(nuqOfShared(rec));
    const base = { name: rec.name, kind: rec.kind, shape: rec.shape };
    if (rec.kind === 'nuq') return { ...base, nuq: rec } as JsWeight;
    if (rec.kind === 'uniform') return { ...base, uniform: rec } as JsWeight;
    return { ...base, dense: rec.kind === 'f32' ? rec.data : dequantize(rec) } as JsWeight;
  }

  embed(out: Vec, w: Weight, row: number): void {
    const jw = w as JsWeight;
    const cols = w.shape[1];
    const o = this.f(out);
    if (jw.dense) return o.set(jw.dense.subarray(row * cols, (row + 1) * cols));
    const u = jw.uniform;
    if (u) return ref.dequantUniformRow(o, u.scales, u.zeros, u.values, row, cols, u.groupSize, u.bits);
    nuqRowInto(jw.nuq!, row, o);
  }

  matvec(out: Vec, w: Weight, x: Vec): void {
    const jw = w as JsWeight;
    const [rows, cols] = w.shape;
    if (jw.dense) return ref.matvecF32(this.f(out), jw.dense, this.f(x), rows, cols);
    const u = jw.uniform;
    if (u) return ref.matvecUniform(this.f(out), u.scales, u.zeros, u.values, this.f(x), rows, cols, u.groupSize, u.bits);
    const q = jw.nuq!;
    ref.matvecLut(this.f(out), q.lut, q.indices, this.f(x), rows, cols, q.bits);
    if (q.sparse) ref.spmvCsrAdd(this.f(out), q.sparse.rowPtr, q.sparse.colIdx, q.sparse.values, this.f(x));
  }

  matmul(out: Vec, w: Weight, x: Vec, n: number): void {
    const [rows, cols] = w.shape;
    for (let i = 0; i < n; i++) this.matvec({ off: out.off + i * rows, len: rows }, w, { off: x.off + i * cols, len: cols });
  }

  rmsnorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    ref.rmsnorm(this.f(out), this.f(x), (w as JsWeight).dense!, x.len, eps);
  }

  kvCache(shape: KvShape): KvCache {
    const cache = new RefKvCache(shape);
    return { shape: { ...shape, residual: cache.residual }, bytes: cache.bytes, cache } as KvCache;
  }

  attend(out: Vec, q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, n: number, a: AttentionShape): void {
    const c = (cache as KvCache & { cache: RefKvCache }).cache;
    const qDim = a.nHeads * a.headSize;
    const kvDim = a.nKvHeads * a.headSize;
    for (let i = 0; i < n; i++) {
      const qi = this.f(q).subarray(i * qDim, (i + 1) * qDim);
      const ki = this.f(k).subarray(i * kvDim, (i + 1) * kvDim);
      ref.rope(qi, qDim, a.headSize, pos + i, a.ropeTheta, a.rope, a.ropeFreqs);
      ref.rope(ki, kvDim, a.headSize, pos + i, a.ropeTheta, a.rope, a.ropeFreqs);
      c.store(layer, pos + i, ki, this.f(v).subarray(i * kvDim, (i + 1) * kvDim));
      c.attend(this.f(out).subarray(i * qDim, (i + 1) * qDim), qi, layer, pos + i + 1, a.nHeads, a.window, a.scoreSoftcap);
    }
  }

  swiglu(out: Vec, gate: Vec, up: Vec): void {
    ref.swiglu(this.f(out), this.f(gate), this.f(up), out.len);
  }

  add(out: Vec, a: Vec, b: Vec): void {
    ref.add(this.f(out), this.f(a), this.f(b), out.len);
  }

  addBias(v: Vec, bias: Weight): void {
    fam.addBias(this.f(v), (bias as JsWeight).dense!);
  }

  scale(v: Vec, s: number): void {
    fam.scale(this.f(v), s);
  }

  softcap(v: Vec, cap: number): void {
    fam.softcap(this.f(v), cap);
  }

  gatedActivation(out: Vec, gate: Vec, up: Vec, act: 'gelu-tanh' | 'relu'): void {
    fam.gatedActivation(this.f(out), this.f(gate), this.f(up), act);
  }

  activation(v: Vec, act: 'silu' | 'gelu-tanh' | 'relu'): void {
    fam.activation(this.f(v), act);
  }

  layernorm(out: Vec, x: Vec, w: Weight, eps: number): void {
    fam.layernorm(this.f(out), this.f(x), (w as JsWeight).dense!, eps);
  }

}
