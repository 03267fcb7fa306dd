// Times the backward pass on a seeded random model of given shape (no checkpoint needed):
//   node --import tsx tools/fisher/bench.ts [dim] [layers] [hidden] [vocab] [T] [heads] [kvHeads] [reps]
// Defaults: the stories15M shape (288, 6, 768, 32000, T 256, 6 heads).
import { type ModelConfig, tensorShapes } from '../../src/model/config.ts';
import { Rng } from '../../src/util/random.ts';
import { LlamaGrad, linearNames, type WeightMap } from './backward.ts';

const [dim = 288, nLayers = 6, hiddenDim = 768, vocabSize = 32000, T = 256, nHeads = 6, nKvHeads = nHeads, reps = 2] = process.argv.slice(2).map(Number);
const config: ModelConfig = {
  arch: 'llama',
  dim,
  hiddenDim,
  nLayers,
  nHeads,
  nKvHeads,
  vocabSize,
  maxSeqLen: T,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: true,
  rope: 'interleaved',
};
const rng = new Rng(1);
const weights: WeightMap = new Map();
let params = 0;
for (const [name, shape] of tensorShapes(config)) {
  const n = shape.reduce((a, b) => a * b, 1);
  params += n;
  weights.set(name, shape.length === 1 ? new Float32Array(n).fill(1) : rng.normals(n, 1 / Math.sqrt(shape[1])));
}
const ids = Array.from({ length: T }, () => rng.int(vocabSize));
const lg = new LlamaGrad(config, weights);
const grads = lg.newGrads();
console.log(`model: dim ${dim}, ${nLayers} layers, hidden ${hiddenDim}, vocab ${vocabSize}, heads ${nHeads}/${nKvHeads}: ${(params / 1e6).toFixed(2)}M parameters (${(linearNames(config).reduce((a, n) => a + weights.get(n)!.length, 0) / 1e6).toFixed(2)}M in linear layers); T ${T}`);
lg.lossAndGrad(ids, grads); // warm-up (JIT, buffers)
for (let r = 0; r < reps; r++) {
  let t0 = performance.now();
  const loss = lg.loss(ids);
  const fwd = performance.now() - t0;
  t0 = performance.now();
  lg.lossAndGrad(ids, grads);
  const both = performance.now() - t0;
  console.log(`run ${r + 1}: loss ${loss.toFixed(4)}; forward only ${fwd.toFixed(0)} ms; loss and gradient ${both.toFixed(0)} ms (${((T * 1000) / both).toFixed(0)} tokens/s)`);
}
