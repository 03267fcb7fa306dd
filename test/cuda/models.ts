// Whole models on the GPU against the WASM backend: stories3M (llama2.c, interleaved RoPE) and
// tinystories-656k (Hugging Face, rotate_half RoPE), each quantized here to 4 bits (f16 tables) and
// 3 bits (f32 tables), both with a sparse part (0.45% outliers) and a recorded row split. Checked:
// the logits of a whole prompt run as one batch (the batched kernels), the logits of 24 decode steps
// fed the same tokens (the matvec kernels, the KV cache), greedy agreement at every step, and the
// greedy text. Not a test file: test/cuda/run.ts runs it on a GPU.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../src/backend/types.ts';
import { fileSource } from '../../src/format/source.ts';
import { SqzReader } from '../../src/format/reader.ts';
import { loadModel } from '../../src/index.ts';
import { Model } from '../../src/model/model.ts';
import { maxRelErr } from '../../src/util/compare.ts';
import { quantize } from '../../tools/squeezellm/steps.ts';

/** Logits are held to the bound for f16 paths (the two backends sum in other orders over many layers). */
export const MODEL_TOL = 1e-3;
const PROMPT = 'Once upon a time';
const DECODE_STEPS = 24;
const TEXT_TOKENS = 40;

export interface ModelReport {
  /** A check: passes when ok, with a line of figures. */
  check(name: string, ok: boolean, detail: string): void;
  skip(name: string, why: string): void;
  /** A line of context (what the next checks run on). */
  note(text: string): void;
}

interface Checkpoint {
  name: string;
  source: string;
  tokenizer?: string;
}

/** The checkpoints under a folder holding models/ (../shared's layout). */
function checkpoints(shared: string): Checkpoint[] {
  const m = join(shared, 'models');
  return [
    { name: 'stories3M', source: join(m, 'stories3M', 'stories3M-q80.bin'), tokenizer: join(m, 'stories3M', 'tok4096.bin') },
    { name: 'tinystories-656k', source: join(m, 'tinystories-656k') },
  ];
}

const argmax = (v: Float32Array, from = 0, n = v.length - from): number => {
  let best = from;
  for (let i = from; i < from + n; i++) if (v[i] > v[best]) best = i;
  return best - from;
};

/** Whether token `got` is the greedy choice of `logits` or within a tie of it (tol relative to max |logit|). */
function greedyAgrees(logits: Float32Array, got: number): boolean {
  const want = argmax(logits);
  if (got === want) return true;
  const scale = logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return logits[want] - logits[got] <= MODEL_TOL * scale;
}

async function greedyText(model: Model): Promise<string> {
  const r = await model.complete(PROMPT, { temperature: 0, maxTokens: TEXT_TOKENS });
  return r.text;
}

const CTX = 128;

/** A .sqz on a given backend (test/cuda/run.ts --emulate: the CUDA backend over the host stand-in). */
export async function loadOn(file: string, backend: Backend): Promise<Model> {
  const reader = await SqzReader.fromSource(await fileSource(file));
  try {
    return await Model.fromRecords(reader.header.config, reader.header.tokenizer, reader.records(), backend, { ctx: CTX });
  } finally {
    await reader.close();
  }
}

/** Compares one .sqz on cuda and on wasm. */
async function compare(file: string, label: string, cudaBackend: (() => Backend) | undefined, report: ModelReport): Promise<void> {
  const cuda = cudaBackend ? await loadOn(file, cudaBackend()) : await loadModel(file, { backend: 'cuda', ctx: CTX });
  const wasm = await loadModel(file, { backend: 'wasm', ctx: CTX });
  try {
    const vocab = wasm.config.vocabSize;
    // the prompt plus a continuation, all as one batch: every position's logits
    const ids = wasm.tokenizer.encode(PROMPT);
    const cont = [...ids];
    let logits = wasm.forward(cont, 0);
    for (let i = 0; i < 20; i++) {
      cont.push(argmax(logits));
      logits = wasm.forward([cont[cont.length - 1]], cont.length - 1);
    }
    const errBatch = maxRelErr(cuda.forward(cont, 0, 0), wasm.forward(cont, 0, 0));
    report.check(`${label}: prompt of ${cont.length} tokens in one batch, logits`, errBatch <= MODEL_TOL, `err ${errBatch.toExponential(1)} (<= ${MODEL_TOL})`);

    // decode steps, both fed wasm's greedy tokens
    let worst = 0;
    let disagree = -1;
    let cl = cuda.forward(ids, 0);
    let wl = wasm.forward(ids, 0);
    for (let step = 0; step < DECODE_STEPS; step++) {
      worst = Math.max(worst, maxRelErr(cl, wl));
      const t = argmax(wl);
      if (disagree < 0 && !greedyAgrees(wl, argmax(cl))) disagree = step;
      const pos = ids.length + step;
      cl = cuda.forward([t], pos);
      wl = wasm.forward([t], pos);
    }
    report.check(`${label}: ${DECODE_STEPS} decode steps, logits`, worst <= MODEL_TOL, `err ${worst.toExponential(1)} (<= ${MODEL_TOL}), vocab ${vocab}`);
    report.check(`${label}: greedy token at every step`, disagree < 0, disagree < 0 ? 'same (or a tie within the bound)' : `differs at step ${disagree}`);

    const [ct, wt] = [await greedyText(cuda), await greedyText(wasm)];
    report.check(`${label}: greedy text of ${TEXT_TOKENS} tokens`, ct === wt, ct === wt ? JSON.stringify(ct.slice(0, 70) + '…') : `cuda ${JSON.stringify(ct)}\n      wasm ${JSON.stringify(wt)}`);
  } finally {
    await cuda.close();
    await wasm.close();
  }
}

/** cudaBackend: how to make the CUDA backend (default: loadModel's, on the real binding). */
export async function runModelChecks(shared: string, report: ModelReport, cudaBackend?: () => Backend): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sqz-test-cuda-'));
  try {
    for (const c of checkpoints(shared)) {
      if (!existsSync(c.source) || (c.tokenizer && !existsSync(c.tokenizer))) {
        report.skip(c.name, `${c.source} is absent (put ../shared's models/ there, or set SQZ_SHARED)`);
        continue;
      }
      for (const [bits, lutType] of [[4, 'f16'], [3, 'f32']] as const) {
        const file = join(dir, `${c.name}-${bits}.sqz`);
        const t0 = performance.now();
        const q = await quantize(c.source, file, { bits, lutType, outlierPercent: 0.45, balance: 4, tokenizer: c.tokenizer });
        const label = `${c.name} ${bits}-bit`;
        report.note(`${label}: ${lutType} tables, sparse part, ${q.avgBits.toFixed(2)} bits per quantized weight, quantized here in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        await compare(file, label, cudaBackend, report);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
