// Our GGUF export checked against llama.cpp itself, through node-llama-cpp installed as a peer in
// bench/peers/ (`npm run peers:install`; never a dependency). Skipped, saying why, when the peer or
// ../shared/models/stories260K.bin is absent.
//   - llama.cpp's own GGUF parser reads our f32 export: version, architecture, every tensor's type and dims;
//   - llama.cpp's tokenizer gives our ids for the same texts (the SentencePiece metadata is right);
//   - llama.cpp's greedy continuation of "Once upon a time" (prompt = our ids, BOS first) equals our
//     runtime's, token for token, over 60 tokens;
//   - the f16, q8_0, q4_0 and iq4_nl exports load and generate text without error, and llama.cpp's
//     greedy tokens on each agree with our runtime's on our import of the same file (>= 20 of 40).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openCheckpoint } from '../../tools/checkpoint/index.ts';
import { openModel } from '../../tools/convert.ts';
import { exportGguf, type GgufExportType } from '../../tools/gguf/export.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { repoRoot, sharedFile } from '../helpers.ts';

const PEER = join(repoRoot, 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
const PROMPT = 'Once upon a time';
const STEPS = 60;
const MIN_MATCH = 40;

// The slice of node-llama-cpp's API used here.
interface LlamaSequence {
  evaluate(tokens: number[], opts: { temperature: number }): AsyncGenerator<number>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: number[]): string;
  createContext(opts: { contextSize: number; threads: number; batchSize: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(opts: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
interface GgufInfo {
  version: number;
  metadata: { general: { architecture: string; name?: string }; tokenizer: { ggml: { model: string; tokens: string[] } } };
  tensorInfo?: Array<{ name: string; dimensions: Array<number | bigint>; ggmlType: number }>;
}
interface NodeLlamaCpp {
  getLlama(opts: Record<string, unknown>): Promise<Llama>;
  readGgufFileInfo(path: string, opts?: Record<string, unknown>): Promise<GgufInfo>;
  LlamaLogLevel: Record<string, string>;
}

const dir = mkdtempSync(join(tmpdir(), 'sqz-llamacpp-'));
let peer: { nlc: NodeLlamaCpp; llama: Llama } | null | undefined;
let skipReason = '';

/** node-llama-cpp and a llama.cpp binding that loads without building or downloading anything, or null (reason in skipReason). */
async function loadPeer(): Promise<{ nlc: NodeLlamaCpp; llama: Llama } | null> {
  if (peer !== undefined) return peer;
  peer = null;
  if (!existsSync(PEER)) {
    skipReason = `${PEER} is absent (run npm run peers:install)`;
    return null;
  }
  try {
    process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true';
    const nlc = (await import(pathToFileURL(PEER).href)) as NodeLlamaCpp;
    const llama = await nlc.getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: nlc.LlamaLogLevel.error });
    peer = { nlc, llama };
  } catch (e) {
    skipReason = `node-llama-cpp does not load its prebuilt llama.cpp binary: ${(e as Error).message}`;
  }
  return peer;
}

test.after(async () => {
  if (peer) await peer.llama.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let skipPrinted = false;
function skip(why: string): void {
  if (!skipPrinted) console.log(`  (skipped: ${why}; the llama.cpp comparison tests skip)`);
  skipPrinted = true;
}

/** llama.cpp's greedy continuation of `prompt` ids (one thread, so it is quick and steady on 2 cores). */
async function llamaGreedy(llama: Llama, path: string, prompt: number[], steps: number): Promise<{ ids: number[]; text: string }> {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 512, threads: 1, batchSize: 64 });
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

async function ourGreedy(source: string, opts: { tokenizer?: string }, steps: number): Promise<number[]> {
  const m = await openModel(source, opts);
  const ids: number[] = [];
  for await (const _ of m.generate(PROMPT, { temperature: 0, maxTokens: steps, onToken: (id) => ids.push(id) }));
  await m.close();
  return ids;
}

const exported = new Map<GgufExportType, string>();
async function stories(type: GgufExportType): Promise<string | null> {
  const model = sharedFile('models/stories260K.bin');
  const tok = sharedFile('models/tok512.bin');
  if (!model || !tok) return null;
  if (!exported.has(type)) {
    const out = join(dir, `stories260K-${type}.gguf`);
    await exportGguf(model, out, { type, tokenizer: tok });
    exported.set(type, out);
  }
  return exported.get(type)!;
}

test('llama.cpp parses our f32 GGUF of stories260K and tokenizes as we do', async () => {
  const p = await loadPeer();
  if (!p) return skip(skipReason);
  const path = await stories('f32');
  if (!path) return;
  const info = await p.nlc.readGgufFileInfo(path, { logWarnings: false });
  assert.is(info.version, 3);
  assert.is(info.metadata.general.architecture, 'llama');
  assert.is(info.metadata.tokenizer.ggml.model, 'llama');
  assert.is(info.metadata.tokenizer.ggml.tokens.length, 512);
  const ck = await openCheckpoint(path);
  const tensors = info.tensorInfo ?? [];
  assert.is(tensors.length, ck.names().length);
  for (const t of tensors) assert.is(t.ggmlType, 0, `${t.name} is F32`);
  assert.equal(tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.dimensions.map(Number), [172, 64]);
  await ck.close();

  const src = await openCheckpoint(sharedFile('models/stories260K.bin')!, { tokenizer: sharedFile('models/tok512.bin')! });
  const ours = createTokenizer(src.tokenizer!);
  await src.close();
  const model = await p.llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    for (const text of [PROMPT, 'Lily and Ben went to the park. They played with a big red ball!', 'Tom said, "I am sad."', 'caf\u00e9 and na\u00efve']) {
      assert.equal(model.tokenize(text).map(Number), ours.encode(text, { bos: false }), `tokens of ${JSON.stringify(text)}`);
    }
  } finally {
    await model.dispose();
  }
});

test(`llama.cpp's greedy continuation of our f32 export equals our runtime's, token for token (${STEPS} tokens)`, async () => {
  const p = await loadPeer();
  if (!p) return skip(skipReason);
  const path = await stories('f32');
  if (!path) return;
  const bin = sharedFile('models/stories260K.bin')!;
  const tok = sharedFile('models/tok512.bin')!;
  const ck = await openCheckpoint(path);
  const prompt = createTokenizer(ck.tokenizer!).encode(PROMPT);
  await ck.close();
  assert.equal(prompt, [1, 403, 407, 261, 378]);
  const ref = await llamaGreedy(p.llama, path, prompt, STEPS);
  const fromBin = await ourGreedy(bin, { tokenizer: tok }, STEPS);
  const fromGguf = await ourGreedy(path, {}, STEPS);
  let same = 0;
  while (same < STEPS && ref.ids[same] === fromBin[same]) same++;
  console.log(`  llama.cpp and squeeze-edge agree on ${same} of ${STEPS} greedy tokens: ${JSON.stringify(PROMPT + ref.text)}`);
  assert.ok(same >= MIN_MATCH, `only ${same} tokens agree`);
  assert.equal(ref.ids, fromBin, 'llama.cpp (our f32 GGUF) vs squeeze-edge (stories260K.bin)');
  assert.equal(fromGguf, fromBin, 'squeeze-edge on our GGUF import vs on the .bin');
});

for (const type of ['f16', 'q8_0', 'q4_0', 'iq4_nl'] as const) {
  test(`llama.cpp loads our ${type} export and generates text`, async () => {
    const p = await loadPeer();
    if (!p) return skip(skipReason);
    const path = await stories(type);
    if (!path) return;
    const ref = await llamaGreedy(p.llama, (await stories('f32'))!, [1, 403, 407, 261, 378], MIN_MATCH);
    const got = await llamaGreedy(p.llama, path, [1, 403, 407, 261, 378], MIN_MATCH);
    assert.is(got.ids.length, MIN_MATCH);
    assert.ok(got.ids.every((id) => id >= 0 && id < 512));
    assert.ok(/[a-z]{3,}/.test(got.text), `no words in ${JSON.stringify(got.text)}`);
    let asF32 = 0;
    while (asF32 < MIN_MATCH && got.ids[asF32] === ref.ids[asF32]) asF32++;
    // our runtime on our import of the same file (dequantized): llama.cpp also rounds activations
    // to 8 bits for its quantized dot products, so the two may part after a while
    const ours = await ourGreedy(path, {}, MIN_MATCH);
    let asOurs = 0;
    while (asOurs < MIN_MATCH && got.ids[asOurs] === ours[asOurs]) asOurs++;
    // a misread block (scale, nibble order, table) would part them within a few tokens
    assert.ok(asOurs >= 20, `llama.cpp and squeeze-edge agree on only ${asOurs} tokens of the ${type} file`);
    console.log(`  ${type}: llama.cpp's first ${asF32} of ${MIN_MATCH} tokens as from f32, ${asOurs} as squeeze-edge's on the same file: ${JSON.stringify(PROMPT + got.text)}`);
  });
}

test.run();
