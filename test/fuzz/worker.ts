// A fuzz worker: a child process (forked by run.ts, reused from case to case) that opens each case
// as a user would — loadModel for a .sqz, openModel (the path of `sqz run <checkpoint>`) for the
// rest — tokenizes a prompt, runs a forward pass and a short greedy generation, and reports:
//   error     a SqzError (a typed, one-line error the CLI would print): the file was refused
//   accepted  it loaded, every id was in the vocabulary and every logit finite
//   exception any other throw (TypeError, RangeError, a WebAssembly trap): a bug
//   nan-logits / ids   it loaded but produced a non-finite logit / an id outside the vocabulary
// Crashes, hangs and memory are judged from outside by run.ts. Probe cases (`probe`) misbehave on
// purpose so the harness's own classification can be tested.
import { loadModel } from '../../src/index.ts';
import type { Model } from '../../src/model/model.ts';
import { SqzError } from '../../src/util/errors.ts';
import { firstNonFinite } from '../../tools/checkpoint/checks.ts';
import { openModel } from '../../tools/convert.ts';
import type { CaseSpec } from './seeds.ts';

export type WorkerClass = 'error' | 'accepted' | 'exception' | 'nan-logits' | 'ids';
export type Probe = 'hang' | 'crash' | 'throw' | 'nan' | 'memory';

export interface WorkerRequest {
  id: number;
  spec?: CaseSpec;
  probe?: Probe;
}

export interface WorkerReply {
  id: number;
  cls: WorkerClass;
  detail: string;
  /** Peak resident memory of this process so far, in bytes. */
  maxRss: number;
}

const PROMPT = 'Once upon a time, the cat';

/** The first id outside [0, vocab) in ids, or undefined. */
const outside = (ids: readonly number[], vocab: number) => ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));

async function exercise(model: Model): Promise<{ cls: WorkerClass; detail: string }> {
  const V = model.config.vocabSize;
  const ids = model.tokenizer.encode(PROMPT);
  const bad = outside(ids, V);
  if (bad !== undefined) return { cls: 'ids', detail: `encode gave id ${bad}; the vocabulary has ${V}` };
  model.tokenizer.decode(ids);
  const n = Math.min(ids.length, model.state.ctx);
  if (n > 0) {
    const logits = model.forward(ids.slice(0, n), 0);
    const i = firstNonFinite(logits);
    if (i >= 0) return { cls: 'nan-logits', detail: `logit ${i} is ${logits[i]}` };
  }
  const sampled: number[] = [];
  const it = model.generate(PROMPT, { maxTokens: 3, temperature: 0, onToken: (id) => sampled.push(id) });
  for await (const piece of it) void piece;
  const badSample = outside(sampled, V);
  if (badSample !== undefined) return { cls: 'ids', detail: `generation sampled id ${badSample}; the vocabulary has ${V}` };
  return { cls: 'accepted', detail: '' };
}

async function runCase(spec: CaseSpec): Promise<{ cls: WorkerClass; detail: string }> {
  try {
    const model = spec.kind === 'sqz' ? await loadModel(spec.model) : await openModel(spec.model, { tokenizer: spec.tokenizer });
    try {
      return await exercise(model);
    } finally {
      await model.close();
    }
  } catch (e) {
    const err = e as Error;
    const line = `${err?.name}: ${String(err?.message).split('\n')[0]}`;
    return e instanceof SqzError ? { cls: 'error', detail: line } : { cls: 'exception', detail: `${line} ${String(err?.stack).split('\n')[1]?.trim() ?? ''}` };
  }
}

async function runProbe(p: Probe): Promise<{ cls: WorkerClass; detail: string }> {
  switch (p) {
    case 'hang':
      for (;;);
    case 'crash':
      process.kill(process.pid, 'SIGSEGV');
      return { cls: 'accepted', detail: '' };
    case 'throw':
      return runCase({ kind: 'checkpoint', model: null as unknown as string });
    case 'nan':
      return { cls: 'nan-logits', detail: 'probe' };
    case 'memory': {
      // touched pages count as resident; held until the parent kills this process
      const hold: Buffer[] = [];
      for (;;) {
        hold.push(Buffer.alloc(64 << 20, 1));
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
}

process.send!({ ready: true });
process.on('message', async (msg: WorkerRequest) => {
  const r = msg.probe ? await runProbe(msg.probe) : await runCase(msg.spec!);
  const reply: WorkerReply = { id: msg.id, ...r, maxRss: process.resourceUsage().maxRSS * 1024 };
  process.send!(reply);
});
