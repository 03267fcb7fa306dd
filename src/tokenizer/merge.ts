// The BPE merge loop shared by both kinds: repeatedly merge the adjacent pair with the highest
// priority, the leftmost on ties, until no adjacent pair merges. A max-heap of candidate pairs (stale
// entries skipped when popped) makes it O(n log n); rescanning every pair after each merge, as
// llama2.c's run.c does, is O(n^2) and too slow for texts of a megabyte.

/**
 * What a pair of ids merges into: `pair(a, b)` gives a rule index k (or -1: the pair does not
 * merge); `merged(k)` is the id it makes and `priority(k)` its priority (higher merges first).
 */
export interface MergeRules {
  pair(a: number, b: number): number;
  merged(k: number): number;
  priority(k: number): number;
}

/** Merges `tokens` (ids) by `rules`; returns the new id list. */
export function mergePairs(tokens: ArrayLike<number>, rules: MergeRules): number[] {
  const n = tokens.length;
  if (n < 2) return Array.from(tokens);
  const tok = Int32Array.from(tokens);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // candidates: left node, right node, the two ids when pushed, merged id, priority; heap of indices
  const cL: number[] = [], cR: number[] = [], cA: number[] = [], cB: number[] = [], cM: number[] = [], cP: number[] = [];
  const heap: number[] = [];
  const before = (x: number, y: number) => cP[x] > cP[y] || (cP[x] === cP[y] && cL[x] < cL[y]);
  const push = (l: number, r: number) => {
    const k = rules.pair(tok[l], tok[r]);
    if (k < 0) return;
    const c = cL.length;
    cL.push(l); cR.push(r); cA.push(tok[l]); cB.push(tok[r]); cM.push(rules.merged(k)); cP.push(rules.priority(k));
    let i = heap.length;
    heap.push(c);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(c, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = c;
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    const len = heap.length;
    if (len > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= len) break;
        if (child + 1 < len && before(heap[child + 1], heap[child])) child++;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  };
  for (let i = 0; i + 1 < n; i++) push(i, i + 1);
  while (heap.length > 0) {
    const c = pop();
    const l = cL[c], r = cR[c];
    // stale: no longer adjacent, or either side changed since (a merged symbol is a longer string,
    // so an id seen again at a node means the node is unchanged)
    if (next[l] !== r || tok[l] !== cA[c] || tok[r] !== cB[c]) continue;
    tok[l] = cM[c];
    const rn = next[r];
    next[l] = rn;
    if (rn >= 0) prev[rn] = l;
    next[r] = -2; // dead
    if (prev[l] >= 0) push(prev[l], l);
    if (rn >= 0) push(l, rn);
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]); // node 0 is never merged away
  return out;
}
