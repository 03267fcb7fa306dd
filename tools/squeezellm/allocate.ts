// Sensitivity-driven bit allocation (`sqz quantize --target-bpw X`): each linear matrix gets 3 or 4
// bits so that the average over the quantized matrices is at most X bits per weight and the
// estimated loss is smallest. A matrix's sensitivity at b bits is its Fisher-weighted quantization
// error sum f (w - w_b)^2 (the second-order estimate of the loss it adds, with the Fisher diagonal
// for the Hessian); moving it from 3 to 4 bits gains err3 - err4 for bytes4 - bytes3 more bytes.
// Greedy by gain per byte, the matrices whose fourth bit buys the most go first, while the budget
// lasts. The result is a --layer-bits spec, so the rest of the pipeline is the mixed-precision one.

export interface BitCosts {
  name: string;
  /** Weights in the matrix. */
  weights: number;
  /** Payload bytes stored at 3 and 4 bits (indices, tables, scales, sparse part). */
  bytes3: number;
  bytes4: number;
  /** Estimated loss added at 3 and 4 bits: sum f (w - w_hat)^2. */
  err3: number;
  err4: number;
}

export interface Allocation {
  /** Matrices given 4 bits (the others get 3). */
  four: Set<string>;
  /** Average bits per weight of the allocation (from the trial bytes). */
  avgBits: number;
}

/** Which matrices get 4 bits for an average of at most `target` bits per weight (all 3-bit if even that is above). */
export function allocateBits(costs: BitCosts[], target: number): Allocation {
  if (!(target > 0)) throw new RangeError(`target bits per weight must be positive, got ${target}`);
  const weights = costs.reduce((s, c) => s + c.weights, 0);
  const budget = (target * weights) / 8;
  let bytes = costs.reduce((s, c) => s + c.bytes3, 0);
  const four = new Set<string>();
  // best gain per extra byte first; ties by order, so the result is deterministic
  const order = costs
    .map((c, i) => ({ c, i, rate: (c.err3 - c.err4) / Math.max(c.bytes4 - c.bytes3, 1) }))
    .sort((a, b) => b.rate - a.rate || a.i - b.i);
  for (const { c } of order) {
    const extra = c.bytes4 - c.bytes3;
    if (bytes + extra > budget) continue; // a cheaper one further down may still fit
    bytes += extra;
    four.add(c.name);
  }
  return { four, avgBits: weights ? (8 * bytes) / weights : 0 };
}

/** The --layer-bits spec of an allocation: every 4-bit matrix named (the default is 3). */
export function allocationSpec(a: Allocation): string {
  return [...a.four].map((n) => `${n}=4`).join(',');
}
