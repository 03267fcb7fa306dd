// The toolchain's own backward pass: the mean next-token cross-entropy of one token sequence and
// its gradient with respect to every weight of the seven linear layers of each block. The forward
// computes the same function as the runtime (src/model/forward.ts): RMSNorm, RoPE (both pairings),
// grouped-query causal attention, SwiGLU, residuals, final norm, head. The whole sequence goes
// through as [T, dim] matrices and every activation the backward needs is kept; storage is f32,
// every sum is f64. docs/FISHER.md writes out the equations.
import { type TensorRecord, dequantize } from '../../src/format/kinds.ts';
import { type ModelConfig, LINEAR_LAYERS, familyOpsBeyondLlama, headSize, kvDim, tensorShapes, validateConfig } from '../../src/model/config.ts';
import { FormatError, UnsupportedError, UsageError } from '../../src/util/errors.ts';
import { linearBackInput, linearBackWeight, linearForward, rmsnormBackAdd, rmsnormRows, transpose } from './kernels.ts';

export type WeightMap = Map<string, Float32Array>;

/** Dense f32 weights by canonical name from tensor records of any kind (quantized ones are expanded). */
/** Adds a bias to each of T rows of y [T, n]; none given, nothing. */
function addBiasRows(y: Float32Array, bias: Float32Array | undefined, T: number, n: number): void {
  if (!bias) return;
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) y[t * n + i] += bias[i];
}

export function weightsFromRecords(records: Iterable<TensorRecord>): WeightMap {
  const m: WeightMap = new Map();
  for (const r of records) m.set(r.name, r.kind === 'f32' ? r.data : dequantize(r));
  return m;
}

/** Canonical names of the tensors whose gradients are computed: layers.{i}.{attn.q, ..., mlp.down}, in forward order. */
export function linearNames(c: ModelConfig): string[] {
  const names: string[] = [];
  for (let l = 0; l < c.nLayers; l++) for (const k of LINEAR_LAYERS) names.push(`layers.${l}.${k}`);
  return names;
}

/** One block's float tensors, by their short names. */
export interface LayerParams {
  attnNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  mlpNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** Qwen2's q/k/v biases and an output bias: constants of the forward, so no backward of their own. */
interface LayerBiases {
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  oBias?: Float32Array;
}

/** What the forward keeps of one block, for the backward. Rows are positions; arrays hold up to `cap` positions. */
interface LayerActs {
  xIn: Float32Array; // [T, dim] residual stream entering the block
  inv1: Float64Array; // [T] 1/rms of xIn
  xn1: Float32Array; // [T, dim] attention-normed input (input of q, k, v)
  q: Float32Array; // [T, dim] queries after RoPE
  k: Float32Array; // [T, kvDim] keys after RoPE
  v: Float32Array; // [T, kvDim]
  p: Float32Array; // [nHeads, T, T] attention probabilities (row t holds columns 0..t)
  att: Float32Array; // [T, dim] attention output (input of o)
  xMid: Float32Array; // [T, dim] residual stream after attention
  inv2: Float64Array; // [T]
  xn2: Float32Array; // [T, dim] mlp-normed input (input of gate, up)
  g: Float32Array; // [T, hidden] gate pre-activation
  u: Float32Array; // [T, hidden] up
  h: Float32Array; // [T, hidden] silu(g) * u (input of down)
}

/** Rows of logits computed at once in the head (bounds the [rows, vocab] buffer). */
const HEAD_ROWS = 16;

/**
 * The inputs of one block's seven linear layers for one sequence, [T, width] row-major views of the
 * forward's buffers (valid until the next call on the same LlamaGrad).
 */
export interface LinearInputs {
  T: number;
  /** RMSNorm(x) * attn_norm: the input of q, k and v, [T, dim]. */
  attn: Float32Array;
  /** The attention output: the input of o, [T, dim]. */
  attnOut: Float32Array;
  /** RMSNorm(x) * mlp_norm: the input of gate and up, [T, dim]. */
  mlp: Float32Array;
  /** silu(gate) * up: the input of down, [T, hiddenDim]. */
  mlpHidden: Float32Array;
  /** The residual stream after the block (the next block's input), [T, dim]. */
  residualOut: Float32Array;
}

/**
 * A teacher's logits for the distillation loss (KL to a reference model): writes the logits of
 * positions t0 .. t0 + rows - 1 of the current sequence into out, [rows, vocab].
 */
export type TeacherLogits = (t0: number, rows: number, out: Float32Array) => void;

/**
 * What the loss compares the model's next-token distributions with, instead of the text's next
 * tokens: a teacher (the loss is KL(teacher || model)), or labels drawn from the model's own
 * distribution with `uniform` (a source of numbers in [0, 1)), whose squared gradients estimate
 * the model's true Fisher information, the Hessian of the KL to the model itself.
 */
export type LossTarget = { teacher: TeacherLogits } | { sampled: () => number };

export interface LossAndGrad {
  /** Mean over t in [0, T-1) of -log softmax(logits_t)[ids[t+1]]. */
  loss: number;
  /** dLoss/dW for each of the seven linear layers of every block, [out, in] like the weight. */
  grads: WeightMap;
}

export class LlamaGrad {
  readonly config: ModelConfig;
  private readonly embed: Float32Array;
  private readonly head: Float32Array;
  private readonly norm: Float32Array;
  private readonly layers: Array<LayerParams & LayerBiases>;

  // buffers, (re)allocated for the longest sequence seen so far
  private cap = 0;
  private acts: LayerActs[] = [];
  private xF = new Float32Array(0); // final residual stream [T, dim]
  private invF = new Float64Array(0);
  private xnF = new Float32Array(0); // final-normed [T, dim]
  private logits = new Float32Array(0); // [HEAD_ROWS, vocab]
  private teacherLogits = new Float32Array(0); // [HEAD_ROWS, vocab], the distillation target
  private dRes = new Float32Array(0); // gradient of the residual stream [T, dim]
  private dXn = new Float32Array(0); // gradient of a normed input [T, dim]
  private dAtt = new Float32Array(0); // [T, dim]
  private dQ = new Float32Array(0); // [T, dim]
  private dK = new Float32Array(0); // [T, kvDim]
  private dV = new Float32Array(0);
  private dK64 = new Float64Array(0);
  private dV64 = new Float64Array(0);
  private dH = new Float32Array(0); // [T, hidden]
  private dG = new Float32Array(0);
  private dU = new Float32Array(0);
  private dP = new Float64Array(0); // [T] one row of attention-probability gradients
  private acc = new Float64Array(0); // [headSize] row sums of the attention
  private wT = new Float32Array(0); // a weight transposed, [in, out] (the largest: the head)
  private dyT = new Float32Array(0); // an output gradient transposed, [out, T]
  private xT = new Float32Array(0); // a layer input transposed, [in, T]
  private ropeCos = new Float64Array(0); // [T, headSize/2]
  private ropeSin = new Float64Array(0);

  constructor(config: ModelConfig, weights: WeightMap) {
    validateConfig(config, 'model');
    // this pass (and its backward) is the Llama 2 block: a family op it lacks would be silently wrong
    // what it has: the biases, Gemma's norm offset and embedding scale
    const beyond = familyOpsBeyondLlama({ ...config, qkvBias: false, oBias: false, normOffset: 0, embedScale: 1 });
    if (beyond.length) {
      throw new UnsupportedError(`model: Fisher information and GPTQ/AWQ calibration run the Llama 2 block with q/k/v/o biases, a norm offset and an embedding scale only, and this model has ${beyond.join(', ')} (RTN and GGUF export need neither)`);
    }
    this.config = config;
    const shapes = tensorShapes(config);
    const get = (name: string): Float32Array => {
      const w = weights.get(name);
      const shape = shapes.get(name)!;
      if (!w) throw new FormatError(`tensor ${name} is missing`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (w.length !== n) throw new FormatError(`tensor ${name} has ${w.length} values but the config implies [${shape}] = ${n}`);
      return w;
    };
    this.embed = get('embed');
    // a norm weight as it scales: w + offset (a copy, the caller's weights stay as stored)
    const offset = config.normOffset ?? 0;
    const norm = (name: string): Float32Array => (offset === 0 ? get(name) : get(name).map((w) => w + offset));
    this.norm = norm('norm');
    this.head = config.tiedEmbeddings ? this.embed : get('head');
    this.layers = Array.from({ length: config.nLayers }, (_, l) => {
      const p = `layers.${l}.`;
      return {
        attnNorm: norm(p + 'attn_norm'),
        q: get(p + 'attn.q'),
        k: get(p + 'attn.k'),
        v: get(p + 'attn.v'),
        o: get(p + 'attn.o'),
        qBias: config.qkvBias ? get(p + 'attn.q_bias') : undefined,
        kBias: config.qkvBias ? get(p + 'attn.k_bias') : undefined,
        vBias: config.qkvBias ? get(p + 'attn.v_bias') : undefined,
        oBias: config.oBias ? get(p + 'attn.o_bias') : undefined,
        mlpNorm: norm(p + 'mlp_norm'),
        gate: get(p + 'mlp.gate'),
        up: get(p + 'mlp.up'),
        down: get(p + 'mlp.down'),
      };
    });
  }

  /** Fresh zeroed gradient arrays for the seven linear layers of every block. */
  newGrads(): WeightMap {
    const shapes = tensorShapes(this.config);
    const m: WeightMap = new Map();
    for (const name of linearNames(this.config)) {
      const [r, c] = shapes.get(name)!;
      m.set(name, new Float32Array(r * c));
    }
    return m;
  }

  /** The mean next-token cross-entropy of ids (forward only), or the loss against `target`. */
  loss(ids: number[], target?: LossTarget): number {
    const T = this.prepare(ids);
    this.forwardBlocks(ids, T);
    return this.headPass(ids, T, false, target);
  }

  /**
   * The final normed rows [T, dim] of ids (forward only): what the head reads. A view of a buffer
   * that the next call on this LlamaGrad overwrites.
   */
  finalNormed(ids: number[]): Float32Array {
    const T = this.prepare(ids);
    this.forwardBlocks(ids, T);
    return this.xnF.subarray(0, T * this.config.dim);
  }

  /**
   * Loss and gradient of the seven linear layers of every block. With `into`, the gradients are
   * written into its arrays (which must have the right lengths) instead of fresh ones. With a
   * `target`, the loss is the mean over positions of KL(teacher || model) of the next-token
   * distributions, or the cross-entropy against sampled labels, instead of against ids[t+1].
   */
  lossAndGrad(ids: number[], into?: WeightMap, target?: LossTarget): LossAndGrad {
    const T = this.prepare(ids);
    const grads = into ?? this.newGrads();
    const gradOf = (name: string): Float32Array => {
      const g = grads.get(name);
      const want = this.weightLength(name);
      if (!g || g.length !== want) throw new UsageError(`gradient buffer ${name} is missing or not ${want} long`);
      return g;
    };
    const c = this.config;
    const { dim: D, hiddenDim: H } = c;
    const KV = kvDim(c);

    this.forwardBlocks(ids, T);
    this.dXn.fill(0, 0, T * D); // the last position predicts nothing: its rows stay zero
    const loss = this.headPass(ids, T, true, target); // dXn = dL/d(final normed)
    this.dRes.fill(0, 0, T * D);
    rmsnormBackAdd(this.dRes, this.dXn, this.xF, this.invF, this.norm, T, D);

    // y = x W^T, W [out, in]: dW = dy^T x and dx = dy W, each as row-by-row dot products over
    // transposed operands (xT [in, T] shared by the layers that read the same x)
    const { wT, dyT, xT } = this;
    const back = (name: string, w: Float32Array, dy: Float32Array, nin: number, nout: number, dx: Float32Array, add: boolean) => {
      transpose(dyT, dy, T, nout);
      linearBackWeight(gradOf(name), dyT, xT, T, nin, nout);
      transpose(wT, w, nout, nin);
      linearBackInput(dx, dy, wT, T, nin, nout, add);
    };

    for (let l = c.nLayers - 1; l >= 0; l--) {
      const W = this.layers[l];
      const A = this.acts[l];
      const p = `layers.${l}.`;

      // MLP: y = down(silu(g) * u), g = gate(xn2), u = up(xn2), xn2 = rmsnorm(xMid)
      transpose(xT, A.h, T, H);
      back(p + 'mlp.down', W.down, this.dRes, H, D, this.dH, false);
      for (let i = 0; i < T * H; i++) {
        const g = A.g[i];
        const sig = 1 / (1 + Math.exp(-g));
        const dh = this.dH[i];
        this.dU[i] = dh * g * sig;
        this.dG[i] = dh * A.u[i] * sig * (1 + g * (1 - sig));
      }
      transpose(xT, A.xn2, T, D);
      back(p + 'mlp.gate', W.gate, this.dG, D, H, this.dXn, false);
      back(p + 'mlp.up', W.up, this.dU, D, H, this.dXn, true);
      rmsnormBackAdd(this.dRes, this.dXn, A.xMid, A.inv2, W.mlpNorm, T, D);

      // attention: y = o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1))), xn1 = rmsnorm(xIn)
      transpose(xT, A.att, T, D);
      back(p + 'attn.o', W.o, this.dRes, D, D, this.dAtt, false);
      this.attentionBack(A, T);
      this.ropeRows(this.dQ, T, D, -1);
      this.ropeRows(this.dK, T, KV, -1);
      transpose(xT, A.xn1, T, D);
      back(p + 'attn.q', W.q, this.dQ, D, D, this.dXn, false);
      back(p + 'attn.k', W.k, this.dK, D, KV, this.dXn, true);
      back(p + 'attn.v', W.v, this.dV, D, KV, this.dXn, true);
      rmsnormBackAdd(this.dRes, this.dXn, A.xIn, A.inv1, W.attnNorm, T, D);
    }
    return { loss, grads };
  }

  /**
   * The inputs of block `layer`'s linear layers for one sequence (GPTQ / AWQ calibration): a forward
   * pass with the current weights that stops after that block. With `residualIn` ([T, dim], the
   * block's input, e.g. an earlier call's residualOut) only that block runs. The weight arrays
   * given to the constructor are read on every call, so a caller may overwrite them (e.g. with
   * quantized values) between calls.
   */
  linearInputs(ids: number[], layer: number, residualIn?: Float32Array): LinearInputs {
    const c = this.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= c.nLayers) throw new UsageError(`layer ${layer} is outside 0..${c.nLayers - 1}`);
    const T = this.prepare(ids);
    const D = c.dim;
    const A = this.acts[layer];
    if (residualIn) {
      if (residualIn.length !== T * D) throw new UsageError(`residualIn has ${residualIn.length} values, not ${T} x ${D}`);
      A.xIn.set(residualIn);
      this.forwardBlocks(ids, T, layer, layer);
    } else this.forwardBlocks(ids, T, layer);
    const next = layer + 1 < c.nLayers ? this.acts[layer + 1].xIn : this.xF;
    return {
      T,
      attn: A.xn1.subarray(0, T * D),
      attnOut: A.att.subarray(0, T * D),
      mlp: A.xn2.subarray(0, T * D),
      mlpHidden: A.h.subarray(0, T * c.hiddenDim),
      residualOut: next.subarray(0, T * D),
    };
  }

  private weightLength(name: string): number {
    const s = tensorShapes(this.config).get(name);
    return s ? s.reduce((a, b) => a * b, 1) : -1;
  }

  /** Checks ids, sizes the buffers for T = ids.length and fills the RoPE tables; returns T. */
  private prepare(ids: number[]): number {
    const c = this.config;
    const T = ids.length;
    if (T < 2) throw new UsageError(`a sequence needs at least 2 tokens for a next-token loss, got ${T}`);
    if (T > c.maxSeqLen) throw new UsageError(`a sequence of ${T} tokens is longer than the model's context of ${c.maxSeqLen}`);
    for (let t = 0; t < T; t++) {
      const id = ids[t];
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new UsageError(`token ${id} at position ${t} is outside the vocabulary of ${c.vocabSize}`);
    }
    if (T > this.cap) this.allocate(T);
    return T;
  }

  private allocate(T: number): void {
    const c = this.config;
    const { dim: D, hiddenDim: H, nHeads } = c;
    const KV = kvDim(c);
    const hs = headSize(c);
    const f32 = (n: number) => new Float32Array(n);
    const f64 = (n: number) => new Float64Array(n);
    this.acts = Array.from({ length: c.nLayers }, () => ({
      xIn: f32(T * D),
      inv1: f64(T),
      xn1: f32(T * D),
      q: f32(T * D),
      k: f32(T * KV),
      v: f32(T * KV),
      p: f32(nHeads * T * T),
      att: f32(T * D),
      xMid: f32(T * D),
      inv2: f64(T),
      xn2: f32(T * D),
      g: f32(T * H),
      u: f32(T * H),
      h: f32(T * H),
    }));
    this.xF = f32(T * D);
    this.invF = f64(T);
    this.xnF = f32(T * D);
    this.logits = f32(Math.min(HEAD_ROWS, T) * c.vocabSize);
    this.dRes = f32(T * D);
    this.dXn = f32(T * D);
    this.dAtt = f32(T * D);
    this.dQ = f32(T * D);
    this.dK = f32(T * KV);
    this.dV = f32(T * KV);
    this.dK64 = f64(T * KV);
    this.dV64 = f64(T * KV);
    this.dH = f32(T * H);
    this.dG = f32(T * H);
    this.dU = f32(T * H);
    this.dP = f64(T);
    this.acc = f64(hs);
    this.wT = f32(Math.max(c.vocabSize, H, D) * D);
    this.dyT = f32(Math.max(D, H) * T);
    this.xT = f32(Math.max(D, H) * T);
    // RoPE angles exactly as the runtime computes them: pos * theta^(-2i / headSize)
    const half = hs / 2;
    this.ropeCos = f64(T * half);
    this.ropeSin = f64(T * half);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * Math.pow(c.ropeTheta, (-2 * i) / hs);
        this.ropeCos[t * half + i] = Math.cos(angle);
        this.ropeSin[t * half + i] = Math.sin(angle);
      }
    }
    this.cap = T;
  }

  /** Rotates every head of rows x[t, 0..width) by sign * angle(t) (sign -1 is the transpose). */
  private ropeRows(x: Float32Array, T: number, width: number, sign: 1 | -1): void {
    const hs = headSize(this.config);
    const half = hs / 2;
    const interleaved = this.config.rope === 'interleaved';
    for (let t = 0; t < T; t++) {
      const row = t * width;
      const tb = t * half;
      for (let h = 0; h < width; h += hs) {
        for (let i = 0; i < half; i++) {
          const cos = this.ropeCos[tb + i];
          const sin = sign * this.ropeSin[tb + i];
          const a = interleaved ? row + h + 2 * i : row + h + i;
          const b = interleaved ? a + 1 : a + half;
          const x0 = x[a];
          const x1 = x[b];
          x[a] = x0 * cos - x1 * sin;
          x[b] = x0 * sin + x1 * cos;
        }
      }
    }
  }

  /**
   * Embedding and every block, keeping activations; leaves the final normed rows in xnF. With
   * `last` < nLayers - 1 it stops after block `last` (xnF is then not computed); with `first` > 0
   * it starts at that block, whose input acts[first].xIn the caller has filled.
   */
  private forwardBlocks(ids: number[], T: number, last = this.config.nLayers - 1, first = 0): void {
    const c = this.config;
    const { dim: D, hiddenDim: H } = c;
    const KV = kvDim(c);
    const x0 = this.acts[0].xIn; // nLayers >= 1 (validateConfig)
    if (first === 0) {
      for (let t = 0; t < T; t++) x0.set(this.embed.subarray(ids[t] * D, (ids[t] + 1) * D), t * D);
      const scale = c.embedScale ?? 1; // Gemma's sqrt(dim); a tied head uses the table unscaled
      if (scale !== 1) for (let i = 0; i < T * D; i++) x0[i] *= scale;
    }
    for (let l = first; l <= last; l++) {
      const W = this.layers[l];
      const A = this.acts[l]; // A.xIn was written by the embedding or the previous block
      rmsnormRows(A.xn1, A.inv1, A.xIn, W.attnNorm, T, D, c.normEps);
      linearForward(A.q, A.xn1, W.q, T, D, D);
      linearForward(A.k, A.xn1, W.k, T, D, KV);
      linearForward(A.v, A.xn1, W.v, T, D, KV);
      addBiasRows(A.q, W.qBias, T, D);
      addBiasRows(A.k, W.kBias, T, KV);
      addBiasRows(A.v, W.vBias, T, KV);
      this.ropeRows(A.q, T, D, 1);
      this.ropeRows(A.k, T, KV, 1);
      this.attentionForward(A, T);
      linearForward(A.xMid, A.att, W.o, T, D, D);
      addBiasRows(A.xMid, W.oBias, T, D);
      for (let i = 0; i < T * D; i++) A.xMid[i] += A.xIn[i];
      rmsnormRows(A.xn2, A.inv2, A.xMid, W.mlpNorm, T, D, c.normEps);
      linearForward(A.g, A.xn2, W.gate, T, D, H);
      linearForward(A.u, A.xn2, W.up, T, D, H);
      for (let i = 0; i < T * H; i++) {
        const g = A.g[i];
        A.h[i] = (g / (1 + Math.exp(-g))) * A.u[i];
      }
      const next = l + 1 < c.nLayers ? this.acts[l + 1].xIn : this.xF;
      linearForward(next, A.h, W.down, T, H, D);
      for (let i = 0; i < T * D; i++) next[i] += A.xMid[i];
    }
    if (last === c.nLayers - 1) rmsnormRows(this.xnF, this.invF, this.xF, this.norm, T, D, c.normEps);
  }

  /**
   * Logits of positions 0..T-2, the mean cross-entropy against ids[1..T), and with `backward`
   * the gradient of the final normed rows into dXn: dL/dlogits = (softmax - onehot) / (T-1).
   * With a teacher, the loss is KL(p || q) of the teacher's softmax p and the model's q, and
   * dL/dlogits = (q - p) / (T-1); with sampled labels, each row's target is drawn from q.
   */
  private headPass(ids: number[], T: number, backward: boolean, target?: LossTarget): number {
    const teacher = target && 'teacher' in target ? target.teacher : undefined;
    const uniform = target && 'sampled' in target ? target.sampled : undefined;
    const { dim: D, vocabSize: V } = this.config;
    const n = T - 1;
    if (backward) transpose(this.wT, this.head, V, D);
    if (teacher && this.teacherLogits.length < this.logits.length) this.teacherLogits = new Float32Array(this.logits.length);
    let total = 0;
    for (let t0 = 0; t0 < n; t0 += HEAD_ROWS) {
      const rows = Math.min(HEAD_ROWS, n - t0);
      const lg = this.logits;
      linearForward(lg, this.xnF.subarray(t0 * D, (t0 + rows) * D), this.head, rows, D, V);
      if (teacher) teacher(t0, rows, this.teacherLogits);
      for (let r = 0; r < rows; r++) {
        const b = r * V;
        let max = -Infinity;
        for (let v = 0; v < V; v++) if (lg[b + v] > max) max = lg[b + v];
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(lg[b + v] - max);
        if (teacher) {
          total += this.klRow(lg, this.teacherLogits, b, V, max, sum, backward ? n : 0);
          continue;
        }
        const label = uniform ? this.drawLabel(lg, b, V, max, sum, uniform()) : ids[t0 + r + 1];
        total += Math.log(sum) + max - lg[b + label];
        if (backward) {
          const scale = 1 / (sum * n);
          for (let v = 0; v < V; v++) lg[b + v] = Math.exp(lg[b + v] - max) * scale;
          lg[b + label] -= 1 / n;
        }
      }
      if (backward) linearBackInput(this.dXn.subarray(t0 * D, (t0 + rows) * D), lg, this.wT, rows, D, V, false);
    }
    return total / n;
  }

  /** The token at which the cumulative softmax of lg[b..b+V) (max and sum of exponentials given) passes u. */
  private drawLabel(lg: Float32Array, b: number, V: number, max: number, sum: number, u: number): number {
    let acc = 0;
    const goal = u * sum;
    for (let v = 0; v < V; v++) {
      acc += Math.exp(lg[b + v] - max);
      if (acc > goal) return v;
    }
    return V - 1;
  }

  /**
   * KL(p || q) of one row, p = softmax of the teacher's logits tl[b..b+V), q = softmax of lg (its
   * max and sum of exponentials given); with n > 0 lg's row becomes dKL/dlogits / n = (q - p) / n.
   */
  private klRow(lg: Float32Array, tl: Float32Array, b: number, V: number, max: number, sum: number, n: number): number {
    let tmax = -Infinity;
    for (let v = 0; v < V; v++) if (tl[b + v] > tmax) tmax = tl[b + v];
    let tsum = 0;
    for (let v = 0; v < V; v++) tsum += Math.exp(tl[b + v] - tmax);
    const logZq = Math.log(sum) + max;
    const logZp = Math.log(tsum) + tmax;
    let kl = 0;
    for (let v = 0; v < V; v++) {
      const logP = tl[b + v] - logZp;
      const p = Math.exp(logP);
      const logQ = lg[b + v] - logZq;
      kl += p * (logP - logQ);
      if (n > 0) lg[b + v] = (Math.exp(logQ) - p) / n;
    }
    return kl;
  }

  /** Causal grouped-query attention of A.q over A.k, A.v into A.att, keeping the probabilities in A.p. */
  private attentionForward(A: LayerActs, T: number): void {
    const c = this.config;
    const D = c.dim;
    const KV = kvDim(c);
    const hs = headSize(c);
    const group = c.nHeads / c.nKvHeads;
    const scale = 1 / Math.sqrt(hs);
    const acc = this.acc;
    for (let h = 0; h < c.nHeads; h++) {
      const qo = h * hs;
      const ko = Math.floor(h / group) * hs;
      for (let t = 0; t < T; t++) {
        const pr = (h * T + t) * T;
        const qb = t * D + qo;
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const kb = u * KV + ko;
          let s = 0;
          for (let i = 0; i < hs; i++) s += A.q[qb + i] * A.k[kb + i];
          const sc = s * scale;
          A.p[pr + u] = sc;
          if (A.p[pr + u] > max) max = A.p[pr + u];
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) {
          const e = Math.exp(A.p[pr + u] - max);
          A.p[pr + u] = e;
          sum += A.p[pr + u];
        }
        acc.fill(0, 0, hs);
        for (let u = 0; u <= t; u++) {
          const pu = (A.p[pr + u] /= sum);
          const vb = u * KV + ko;
          for (let i = 0; i < hs; i++) acc[i] += pu * A.v[vb + i];
        }
        for (let i = 0; i < hs; i++) A.att[qb + i] = acc[i];
      }
    }
  }

  /**
   * From dAtt: dP = dO . v, dS = P * (dP - sum_u P dP) / sqrt(hs), dq = dS . k, dk += dS^T q,
   * dv += P^T dO; K/V heads shared by a group of query heads sum that group's contributions.
   */
  private attentionBack(A: LayerActs, T: number): void {
    const c = this.config;
    const D = c.dim;
    const KV = kvDim(c);
    const hs = headSize(c);
    const group = c.nHeads / c.nKvHeads;
    const scale = 1 / Math.sqrt(hs);
    const { dAtt, dQ, dK64, dV64, dP, acc } = this;
    dK64.fill(0, 0, T * KV);
    dV64.fill(0, 0, T * KV);
    for (let h = 0; h < c.nHeads; h++) {
      const qo = h * hs;
      const ko = Math.floor(h / group) * hs;
      for (let t = 0; t < T; t++) {
        const pr = (h * T + t) * T;
        const ob = t * D + qo;
        let dot = 0;
        for (let u = 0; u <= t; u++) {
          const vb = u * KV + ko;
          const pu = A.p[pr + u];
          let s = 0;
          for (let i = 0; i < hs; i++) {
            const g = dAtt[ob + i];
            s += g * A.v[vb + i];
            dV64[vb + i] += pu * g;
          }
          dP[u] = s;
          dot += pu * s;
        }
        acc.fill(0, 0, hs);
        for (let u = 0; u <= t; u++) {
          const ds = A.p[pr + u] * (dP[u] - dot) * scale;
          const kb = u * KV + ko;
          for (let i = 0; i < hs; i++) {
            acc[i] += ds * A.k[kb + i];
            dK64[kb + i] += ds * A.q[ob + i];
          }
        }
        for (let i = 0; i < hs; i++) dQ[ob + i] = acc[i];
      }
    }
    for (let i = 0; i < T * KV; i++) {
      this.dK[i] = dK64[i];
      this.dV[i] = dV64[i];
    }
  }
}
