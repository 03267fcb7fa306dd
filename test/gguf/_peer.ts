// llama.cpp as the yardstick for our GGUF files: node-llama-cpp installed as a peer in bench/peers/
// (`npm run peers:install`; never a dependency), loaded once per test file without building or
// downloading anything, and the two runs every check compares: greedy continuations and logits fed
// the same tokens, from llama.cpp and from our runtime on the same file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { argmax } from '../../src/generate/sampler.ts';
import { openModel } from '../../tools/convert.ts';
import { repoRoot } from '../helpers.ts';

const PEER = join(repoRoot, 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

// The slice of node-llama-cpp's API used here.
interface LlamaSequence {
  evaluate(tokens: number[], opts: { temperature: number }): AsyncGenerator<number>;
  controlledEvaluate(input: Array<number | [number, { generateNext: { logits: true } }]>): Promise<Array<{ next: { logits?: Map<number, number> } } | undefined>>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
/** What a context is made with besides its size: the KV cache's ggml types ('F32' to keep llama.cpp's f16 cache from rounding). */
export interface ContextOptions {
  experimentalKvCacheKeyType?: string;
  experimentalKvCacheValueType?: string;
  flashAttention?: boolean;
}
interface LlamaModel {
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: number[]): string;
  createContext(opts: { contextSize: number; threads: number; batchSize: number } & ContextOptions): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
export interface Llama {
  loadModel(opts: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
interface GgufInfo {
  version: number;
  metadata: { general: { architecture: string; name?: string }; tokenizer: { ggml: { model: string; tokens: string[] } } };
  tensorInfo?: Array<{ name: string; dimensions: Array<number | bigint>; ggmlType: number }>;
}
export interface NodeLlamaCpp {
  getLlama(opts: Record<string, unknown>): Promise<Llama>;
  readGgufFileInfo(path: string, opts?: Record<string, unknown>): Promise<GgufInfo>;
  LlamaLogLevel: Record<string, string>;
}
export interface Peer {
  nlc: NodeLlamaCpp;
  llama: Llama;
}

let peer: Peer | null | undefined;
let reason = '';

/** node-llama-cpp and a llama.cpp binding that loads without building or downloading anything, or null (why: skipReason()). */
export async function loadPeer(): Promise<Peer | null> {
  if (peer !== undefined) return peer;
  peer = null;
  if (!existsSync(PEER)) {
    reason = `${PEER} is absent (run npm run peers:install)`;
    return null;
  }
  try {
    process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true';
    const nlc = (await import(pathToFileURL(PEER).href)) as NodeLlamaCpp;
    const llama = await nlc.getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: nlc.LlamaLogLevel.error });
    peer = { nlc, llama };
  } catch (e) {
    reason = `node-llama-cpp does not load its prebuilt llama.cpp binary: ${(e as Error).message}`;
  }
  return peer;
}

/** Why loadPeer() gave null. */
export const skipReason = (): string => reason;

/** Releases llama.cpp, if it was loaded (each test file's test.after). */
export async function disposePeer(): Promise<void> {
  // the test files share one process under npm test: the next file's loadPeer() loads it afresh
  if (peer) await peer.llama.dispose();
  peer = undefined;
}

/** llama.cpp's greedy continuation of `prompt` ids (one thread, so it is quick and steady on 2 cores). */
export async function llamaGreedy(llama: Llama, path: string, prompt: number[], steps: number, opts: ContextOptions = {}): Promise<{ ids: number[]; text: string }> {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 512, threads: 1, batchSize: 64, ...opts });
    try {
      const ids: number[] = [];
      for await (const t of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
        ids.push(Number(t));
        if (ids.length >= steps) break;
      }
      return { ids, text: model.detokenize(ids) };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's logits after each token of `seq` from index `from` on, the tokens given (teacher forcing). */
export async function llamaLogits(llama: Llama, path: string, seq: number[], from: number, vocab: number, opts: ContextOptions = {}): Promise<Float32Array[]> {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 128, threads: 1, batchSize: 64, ...opts });
    try {
      const res = await ctx.getSequence().controlledEvaluate(seq.map((t, i) => (i >= from ? [t, { generateNext: { logits: true } }] : t)));
      return res.slice(from).map((r) => Float32Array.from({ length: vocab }, (_, v) => r!.next.logits!.get(v)!));
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Our runtime's greedy continuation of `prompt` ids (through EOS too, as llama.cpp's evaluate goes on). */
export async function ourGreedy(source: string, opts: { tokenizer?: string }, prompt: number[], steps: number): Promise<number[]> {
  const m = await openModel(source, opts);
  const ids: number[] = [];
  let logits = m.forward(prompt, 0);
  while (ids.length < steps) {
    ids.push(argmax(logits));
    logits = m.forward([ids[ids.length - 1]], prompt.length + ids.length - 1);
  }
  await m.close();
  return ids;
}

/** Our logits after each token of `seq` from index `from` on, one row per position. */
export async function ourLogits(path: string, opts: { tokenizer?: string }, seq: number[], from: number): Promise<Float32Array[]> {
  const m = await openModel(path, opts);
  const V = m.config.vocabSize;
  const l = m.forward(seq, 0, from);
  await m.close();
  return Array.from({ length: seq.length - from }, (_, i) => l.subarray(i * V, (i + 1) * V));
}
