// End-to-end runs in Node: each run is a fresh process (bench/engines/sqz.mjs for our bundle,
// bench/engines/llamacpp.mjs for native llama.cpp), so its peak RSS is its own and no run inherits
// another's caches or heap. The products of a group are interleaved (round r runs them all, in an
// order rotated by r: A B C, B C A, …) so a noisy neighbour slows them alike; figures are medians
// over rounds, with the load average before and after the group.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type FileKind, PRODUCTS, type Shape, fileBytes, repoRoot } from './_models.ts';
import { median } from './_timing.ts';

export const LLAMA_CPP_PEER = join(repoRoot, 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
const BUNDLE = join(repoRoot, 'build', 'squeeze-edge.mjs');

/** One engine run's figures, as the engine script prints them. */
export interface RunFigures {
  loadMs: number;
  promptMs: number;
  genMs: number;
  peakRss: number;
}

/** A product's figures over the rounds of its group. */
export interface ProductResult {
  product: string;
  label: string;
  engine: string;
  fileBytes: number;
  /** Medians over rounds. */
  promptTokPerS: number;
  genTokPerS: number;
  loadMs: number;
  /** Largest peak RSS over rounds, bytes. */
  peakRss: number;
  /** Every round's raw figures. */
  runs: RunFigures[];
  /** The rounds that failed, and why (their figures are not in the medians). */
  failures: string[];
}

export interface GroupResult {
  /** e.g. 'm134, 1 thread, position 64'. */
  name: string;
  shape: string;
  threads: number;
  /** Prompt tokens: generation runs at positions prompt .. prompt + gen - 1. */
  prompt: number;
  gen: number;
  rounds: number;
  loadBefore: number[];
  loadAfter: number[];
  results: ProductResult[];
  /** Products left out, and why (a peer that is not installed). */
  skipped: { product: string; why: string }[];
}

export interface GroupSpec {
  /** e.g. 'm134, 1 thread, position 64'. */
  name: string;
  shape: Shape;
  files: Map<FileKind, string>;
  products: string[];
  threads: number;
  prompt: number;
  gen: number;
  rounds: number;
}

function runEngine(product: string, file: string, g: GroupSpec, round: number): RunFigures {
  const p = PRODUCTS[product];
  const job = {
    file,
    threads: g.threads,
    fast: p.fast ?? false,
    prompt: g.prompt,
    gen: g.gen,
    ctx: g.prompt + g.gen + 8,
    round,
    vocab: g.shape.vocab,
    bundle: BUNDLE,
    peer: LLAMA_CPP_PEER,
  };
  const script = join(repoRoot, 'bench', 'engines', p.engine === 'sqz' ? 'sqz.mjs' : 'llamacpp.mjs');
  const r = spawnSync(process.execPath, [script, JSON.stringify(job)], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' }, timeout: 600_000 });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`${p.label} on ${file} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' / ')}`);
  return JSON.parse(last) as RunFigures;
}

/** Runs a group's products interleaved over its rounds; `log` gets one line per run. */
export function runGroup(g: GroupSpec, log: (s: string) => void = console.error): GroupResult {
  const { name } = g;
  const skipped: GroupResult['skipped'] = [];
  const products = g.products.filter((k) => {
    if (PRODUCTS[k].engine !== 'llama.cpp' || existsSync(LLAMA_CPP_PEER)) return true;
    skipped.push({ product: k, why: 'node-llama-cpp is not installed in bench/peers (npm run peers:install)' });
    return false;
  });
  const runs = new Map<string, RunFigures[]>(products.map((k) => [k, []]));
  const failures = new Map<string, string[]>(products.map((k) => [k, []]));
  const loadBefore = loadavg();
  for (let round = 0; round < g.rounds; round++) {
    for (let j = 0; j < products.length; j++) {
      const k = products[(j + round) % products.length];
      let f: RunFigures;
      try {
        f = runEngine(k, g.files.get(PRODUCTS[k].file)!, g, round);
      } catch (e) {
        // one failed run (a crash, a timeout) is reported and the group goes on
        log(`  ${name}, round ${round + 1}/${g.rounds}: ${(e as Error).message}`);
        failures.get(k)!.push((e as Error).message);
        continue;
      }
      runs.get(k)!.push(f);
      log(`  ${name}, round ${round + 1}/${g.rounds}: ${PRODUCTS[k].label}: prompt ${tokPerS(g.prompt, f.promptMs).toFixed(1)} tok/s, generation ${tokPerS(g.gen, f.genMs).toFixed(1)} tok/s, peak RSS ${(f.peakRss / 2 ** 20).toFixed(0)} MiB`);
    }
  }
  for (const k of products) if (runs.get(k)!.length === 0) skipped.push({ product: k, why: `every run failed: ${failures.get(k)![0]}` });
  const results = products.filter((k) => runs.get(k)!.length > 0).map((k): ProductResult => {
    const rs = runs.get(k)!;
    return {
      product: k,
      label: PRODUCTS[k].label,
      engine: PRODUCTS[k].engine,
      fileBytes: fileBytes(g.files.get(PRODUCTS[k].file)!),
      promptTokPerS: median(rs.map((f) => tokPerS(g.prompt, f.promptMs))),
      genTokPerS: median(rs.map((f) => tokPerS(g.gen, f.genMs))),
      loadMs: median(rs.map((f) => f.loadMs)),
      peakRss: Math.max(...rs.map((f) => f.peakRss)),
      runs: rs,
      failures: failures.get(k)!,
    };
  });
  return { name, shape: g.shape.id, threads: g.threads, prompt: g.prompt, gen: g.gen, rounds: g.rounds, loadBefore, loadAfter: loadavg(), results, skipped };
}

export function tokPerS(tokens: number, ms: number): number {
  return (tokens * 1000) / ms;
}
