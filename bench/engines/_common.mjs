// What the engines share, in Node and in the browser page alike (bench/browser.ts serves this file):
// the prompt's token ids, the same for every engine in a round, and our runtime's timed run.

/** `n` token ids in [3, vocab) from a seeded generator (ids 0-2 are the specials of a Llama 2 vocabulary). */
export function promptTokens(n, vocab, seed) {
  let s = (seed * 2654435761 + 12345) >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % (vocab - 3));
  });
}

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/**
 * A loaded squeeze-edge model timed as a user runs it: the prompt in one forward call (batches of
 * 64 inside), then `gen` greedy tokens, one forward call each, the argmax over the logits in JS
 * (the sampling) included.
 */
export function timeSqzModel(model, promptLength, gen, round) {
  const prompt = promptTokens(promptLength, model.config.vocabSize, round);
  let t0 = performance.now();
  let logits = model.forward(prompt, 0);
  const promptMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < gen; i++) logits = model.forward([argmax(logits)], promptLength + i);
  return { promptMs, genMs: performance.now() - t0 };
}
