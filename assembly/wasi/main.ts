// sqz-run.wasm: the WASI (preview 1) command. `sqz-run MODEL.sqz [-p PROMPT] [-n N] [-t T]
// [-k K] [--top-p P] [--min-p P] [-s SEED] [--ctx N]` reads the model through WASI, runs the
// forward pass of assembly/runtime/model.ts on the kernels, and streams the prompt and the text to
// stdout as `sqz run --exact` does. Errors: one line on stderr, exit 2 for usage, 1 for a bad file.
import { commandLine, exit, EXIT_INPUT, EXIT_USAGE, fail, nowMs, readWholeFile, writeOut, writeText } from './wasi';
import { openSqz, placeRunState, SqzFile } from './sqz';
import { Llama2c } from './tokenizer';
import { Sampler } from './sampler';
import { modelForward } from '../runtime/model';

const USAGE = `usage: sqz-run MODEL.sqz [options]
  -p, --prompt TEXT     prompt (default "Once upon a time")
  -n, --steps N         tokens to generate, >= 0 (default 256; ends earlier at EOS or the context end)
  -t, --temperature T   0 = greedy (default 1)
  -k, --top-k K         sample from the K most likely tokens (default 0 = all)
      --top-p P         nucleus sampling mass, in (0, 1] (default 0.9; 1 = off)
      --min-p P         drop tokens less than P times as likely as the most likely, in [0, 1) (default 0)
  -s, --seed S          random seed (default: the clock)
      --ctx N           context length (default: the model's, at most 4096)
Streams the prompt and the text to stdout; LUT products are exact (sqz run --exact's arithmetic).
Run it with the model's directory preopened, e.g. wasmtime --dir . sqz-run.wasm model.sqz\n`;

/** The prompt's tokens run in batches of this many, as the JS runtime's (src/model/model.ts). */
const BATCH = 64;

function number(flag: string, v: string, lo: f64, hi: f64, integer: bool): f64 {
  const x = parseFloat(v);
  if (isNaN(x) || x < lo || x > hi || (integer && x != Math.floor(x)) || v.length == 0) {
    fail(EXIT_USAGE, `${flag} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}], got '${v}'`);
  }
  return x;
}

export function _start(): void {
  const args = commandLine();
  let model = '', prompt = 'Once upon a time';
  let steps = 256, temperature: f64 = 1, topK = 0, topP: f64 = 0.9, minP: f64 = 0, ctx = 0;
  let seed = <u32>nowMs();
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a == '-h' || a == '--help') {
      writeText(1, USAGE);
      exit(0);
    }
    const isFlag = a.startsWith('-') && a.length > 1;
    if (!isFlag) {
      if (model.length > 0) fail(EXIT_USAGE, `one model file, got '${model}' and '${a}'`);
      model = a;
      continue;
    }
    if (i + 1 >= args.length) fail(EXIT_USAGE, `${a} needs a value`);
    const v = args[++i];
    if (a == '-p' || a == '--prompt') prompt = v;
    else if (a == '-n' || a == '--steps') steps = <i32>number(a, v, 0, 1e9, true);
    else if (a == '-t' || a == '--temperature') temperature = number(a, v, 0, 1e9, false);
    else if (a == '-k' || a == '--top-k') topK = <i32>number(a, v, 0, 1e9, true);
    else if (a == '--top-p') {
      topP = number(a, v, 0, 1, false);
      if (topP == 0) fail(EXIT_USAGE, 'top-p must be in (0, 1] (1 keeps every token), got 0');
    } else if (a == '--min-p') {
      minP = number(a, v, 0, 1, false);
      if (minP == 1) fail(EXIT_USAGE, 'min-p must be in [0, 1), got 1');
    } else if (a == '-s' || a == '--seed') seed = <u32><i64>number(a, v, -9007199254740991, 9007199254740991, true);
    else if (a == '--ctx') ctx = <i32>number(a, v, 1, 16777216, true);
    else fail(EXIT_USAGE, `unknown option ${a} (--help lists them)`);
  }
  if (model.length == 0) fail(EXIT_USAGE, 'a model file is needed (--help lists the options)');

  const size = heap.alloc(8);
  const bytes = readWholeFile(model, size);
  const f = new SqzFile();
  openSqz(model, bytes, load<usize>(size), ctx, f);
  const m = f.model;
  if (f.tokenizer.kind != 'llama2c') fail(EXIT_INPUT, `${model}: ${f.tokenizer.kind.length ? f.tokenizer.kind : 'no'} tokenizer; this runtime runs llama2.c tokenizers so far`);
  const tok = new Llama2c(f.tokenizer);
  const ids = tok.encode(prompt);
  if (ids.length >= m.ctx) fail(EXIT_USAGE, `the prompt is ${ids.length} tokens; the context holds ${m.ctx}`);
  placeRunState(m, min(BATCH, m.ctx));
  const sampler = new Sampler(temperature, topK, topP, minP, seed);

  const p = String.UTF8.encode(prompt);
  writeOut(changetype<usize>(p), p.byteLength);
  const tokens = heap.alloc(<usize>BATCH << 2);
  let logits: usize = 0;
  for (let i = 0; i < ids.length; i += BATCH) {
    const n = min(BATCH, ids.length - i);
    for (let j = 0; j < n; j++) store<i32>(tokens + (<usize>j << 2), ids[i + j]);
    logits = modelForward(m, tokens, n, i);
  }
  let pos = ids.length;
  let prev = ids[ids.length - 1];
  for (let generated = 0; generated < steps && pos < m.ctx; ) {
    const next = sampler.sample(logits, m.vocabSize);
    if (next == f.tokenizer.eos || next == f.tokenizer.bos) break;
    generated++;
    tok.bytesOf(next, prev, writeOut);
    prev = next;
    if (pos + 1 >= m.ctx || generated >= steps) break;
    store<i32>(tokens, next);
    logits = modelForward(m, tokens, 1, pos);
    pos++;
  }
  writeText(1, '\n');
  exit(0);
}
