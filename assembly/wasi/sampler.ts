// The next token from logits, as src/generate/sampler.ts picks it without a repetition penalty:
// temperature 0 is the argmax (first on ties); else softmax(logits / T), top-k, top-p (the
// smallest most-likely-first set reaching p), min-p, and a draw from the seeded generator of
// src/util/random.ts (mulberry32), so one seed gives one text on either host.

export class Rng {
  constructor(public state: u32) {}
  next(): f64 {
    let t = (this.state = this.state + 0x6d2b79f5);
    t = (t ^ (t >>> 15)) * (t | 1);
    t ^= t + (t ^ (t >>> 7)) * (t | 61);
    return <f64>(t ^ (t >>> 14)) / 4294967296.0;
  }
}

export function argmax(x: usize, n: i32): i32 {
  let best = 0;
  let v = load<f32>(x);
  for (let i = 1; i < n; i++) {
    const u = load<f32>(x + (<usize>i << 2));
    if (u > v) {
      v = u;
      best = i;
    }
  }
  return best;
}

// The probabilities the comparator reads (AssemblyScript closures capture no locals).
let sortProbs = new Float64Array(0);
function mostLikelyFirst(a: i32, b: i32): i32 {
  const d = sortProbs[b] - sortProbs[a];
  return d > 0 ? 1 : d < 0 ? -1 : a - b;
}

export class Sampler {
  rng: Rng;
  constructor(public temperature: f64, public topK: i32, public topP: f64, public minP: f64, seed: u32) {
    this.rng = new Rng(seed);
  }

  sample(logits: usize, V: i32): i32 {
    const best = argmax(logits, V);
    if (this.temperature == 0) return best;
    const max = <f64>load<f32>(logits + (<usize>best << 2));
    const probs = new Float64Array(V);
    let total: f64 = 0;
    for (let i = 0; i < V; i++) total += probs[i] = Math.exp((<f64>load<f32>(logits + (<usize>i << 2)) - max) / this.temperature);
    let cand = new Array<i32>();
    if ((this.topK == 0 || this.topK >= V) && this.topP == 1 && this.minP == 0) {
      for (let i = 0; i < V; i++) cand.push(i);
    } else {
      const nucleusBar = this.topP < 1 && V > 1 ? ((1 - this.topP) / <f64>(V - 1)) * total : 0;
      const bar = this.topK == 0 ? Math.max(nucleusBar, this.minP) : 0;
      for (let i = 0; i < V; i++) if (probs[i] >= bar) cand.push(i);
      sortProbs = probs;
      cand.sort(mostLikelyFirst);
      if (this.topK > 0 && cand.length > this.topK) {
        cand = cand.slice(0, this.topK);
        total = 0;
        for (let j = 0; j < cand.length; j++) total += probs[cand[j]];
      }
      if (this.topP < 1) {
        let kept: f64 = 0;
        for (let j = 0; j < cand.length; j++) {
          kept += probs[cand[j]];
          if (kept >= this.topP * total) {
            cand = cand.slice(0, j + 1);
            break;
          }
        }
      }
      if (this.minP > 0) {
        const kept = new Array<i32>();
        for (let j = 0; j < cand.length; j++) if (probs[cand[j]] >= this.minP) kept.push(cand[j]);
        cand = kept;
      }
    }
    let kept: f64 = 0;
    for (let j = 0; j < cand.length; j++) kept += probs[cand[j]];
    let u = this.rng.next();
    for (let j = 0; j < cand.length; j++) {
      u -= probs[cand[j]] / kept;
      if (u < 0) return cand[j];
    }
    return cand[cand.length - 1];
  }
}
