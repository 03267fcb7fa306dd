import { type DemoResult, type DemoRow, DEFAULT_MODEL_URL, runDemo } from '../../demo.ts';
import { cacheDir } from '../../download.ts';
import { type Command, num, str } from '../command.ts';
import { type Progress, progressBar } from '../progress.ts';
import { seedOption, threadsOption } from './shared.ts';

export const demo: Command = {
  name: 'demo',
  summary: 'download a small model, quantize it at 4 and 3 bits, compare size, perplexity and speed',
  usage: `sqz demo [options]
With no options: downloads stories15M (Karpathy's tinyllamas, 60 MB) once into the cache, or
falls back to a seeded synthetic model when the download fails; samples calibration and
evaluation text from the f32 model; quantizes with SqueezeLLM at 4 and 3 bits; prints one table
(file size, bits per weight, perplexity on text sampled from the f32 model, tokens/s) and a
greedy sample from each model. docs/DEMO.md says more.
      --model DIR_OR_FILE   a local checkpoint instead of stories15M: a Hugging Face folder, a GGUF,
                            a .sqz, or a llama2.c .bin (with --tokenizer); or a URL of one file
                            (downloaded into the cache)
      --tokenizer PATH|URL  tokenizer.bin for a llama2.c --model
      --offline             download nothing: the synthetic model (unless --model is a file)
      --cache DIR           download cache (default $SQZ_CACHE, else $XDG_CACHE_HOME/squeeze-edge,
                            else ~/.cache/squeeze-edge)
      --calib FILE          calibration text instead of text sampled from the model
      --text FILE           evaluation text instead of text sampled from the model
      --calib-sequences N   sequences sampled for calibration (default 24)
      --eval-sequences N    other sequences sampled for perplexity (default 8)
      --seq-len L           tokens per sampled sequence and calibration window (default 128)
      --samples N           calibration windows for the Fisher information (default 16)
  -p, --prompt TEXT         prompt for the speed run and the samples (default "Once upon a time")
  -n, --steps N             greedy tokens generated to measure speed (default 64)
      --threads N           threads for the wasm backend (default 1)
      --seed S              seed for the model, the sampled text and the quantizer (default 0)
  -o, --out-dir DIR         keep the three .sqz files and the sampled text here`,
  options: {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    offline: { type: 'boolean' },
    cache: { type: 'string' },
    calib: { type: 'string' },
    text: { type: 'string' },
    'calib-sequences': { type: 'string' },
    'eval-sequences': { type: 'string' },
    'seq-len': { type: 'string' },
    samples: { type: 'string' },
    prompt: { type: 'string', short: 'p' },
    steps: { type: 'string', short: 'n' },
    threads: { type: 'string' },
    seed: { type: 'string' },
    'out-dir': { type: 'string', short: 'o' },
  },
  async run(p) {
    let bar: Progress | undefined;
    let unit = '';
    const endBar = () => {
      bar?.stop();
      bar = undefined;
    };
    const cache = str(p, 'cache') ?? cacheDir();
    if (!p.values.model && !p.values.offline && process.stderr.isTTY) process.stderr.write(`stories15M: ${DEFAULT_MODEL_URL}, kept in ${cache}\n`);
    try {
      const r = await runDemo(
        {
          model: str(p, 'model'),
          tokenizer: str(p, 'tokenizer'),
          offline: Boolean(p.values.offline),
          cacheDir: cache,
          calib: str(p, 'calib'),
          text: str(p, 'text'),
          calibSequences: num(p, 'calib-sequences', { int: true, min: 1 }),
          evalSequences: num(p, 'eval-sequences', { int: true, min: 1 }),
          seqLen: num(p, 'seq-len', { int: true, min: 2 }),
          samples: num(p, 'samples', { int: true, min: 1 }),
          prompt: str(p, 'prompt'),
          speedTokens: num(p, 'steps', { int: true, min: 1 }),
          threads: threadsOption(p),
          seed: seedOption(p),
          outDir: str(p, 'out-dir'),
        },
        {
          note(line) {
            endBar();
            console.log(line);
          },
          stage(label, u) {
            endBar();
            unit = u ?? '';
            bar = progressBar(label);
          },
          progress(done, total) {
            // bytes read better as MiB
            if (unit === 'bytes') bar?.update(Math.round(done / 104857.6) / 10, Math.round(total / 104857.6) / 10);
            else bar?.update(Math.round(done), Math.round(total));
          },
        },
      );
      endBar();
      process.stdout.write('\n' + formatTable(r) + '\n' + formatSamples(r));
      if (r.model.source === 'synthetic') process.stdout.write(`\n${LOCAL_MODEL_HINT}\n`);
    } finally {
      endBar();
    }
  },
};

/** The one line a synthetic run ends with: how to get a table for a real model. */
export const LOCAL_MODEL_HINT = 'to run the demo on a real model: sqz demo --model DIR_OR_FILE (a Hugging Face folder, a GGUF, a .sqz, or a llama2.c .bin with --tokenizer FILE)';

function size(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The comparison as a Markdown table, columns aligned. */
export function formatTable(r: DemoResult): string {
  const head = ['model', 'file size', 'bits/weight', 'perplexity', 'ppl / f32', 'tokens/s'];
  const cells = r.rows.map((row: DemoRow) => [
    row.name,
    size(row.fileBytes),
    row.avgBits.toFixed(2),
    row.perplexity.toFixed(3),
    row.pplRatio.toFixed(3),
    row.tokensPerSecond.toFixed(1),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => '| ' + c.map((x, i) => (i === 0 ? x.padEnd(width[i]) : x.padStart(width[i]))).join(' | ') + ' |';
  const rule = '| ' + width.map((w, i) => (i === 0 ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ') + ' |';
  const notes =
    `bits/weight: of the quantized layers (attention and MLP matrices: indices, lookup tables and the sparse part);\n` +
    `  embeddings and norms stay f32 in every file. perplexity: on text sampled from the f32 model (lower is better;\n` +
    `  the f32 model scores best on its own samples). tokens/s: ${r.rows[0]?.speedTokens ?? 0} greedy tokens after "${r.prompt}", ` +
    `${r.threads} thread${r.threads === 1 ? '' : 's'}, wasm backend.\n` +
    `quantization: ${r.fisherSeconds.toFixed(1)} s shared by both widths (Fisher information over ${r.calibration.windows ?? '?'} windows, outlier thresholds), ` +
    r.rows
      .filter((x) => x.bits !== 32)
      .map((x) => `${x.bits}-bit ${x.quantizeSeconds.toFixed(1)} s`)
      .join(', ') +
    ' (k-means, packing).' +
    (r.outDir ? `\nfiles kept in ${r.outDir}` : '');
  return [line(head), rule, ...cells.map(line)].join('\n') + '\n' + notes + '\n';
}

export function formatSamples(r: DemoResult): string {
  const noise = r.model.source === 'synthetic' ? '(the synthetic model is untrained: its samples are repetitive noise, not stories)\n' : '';
  // whitespace folded to one line; a run of undecodable bytes (U+FFFD) shown once with its count
  const show = (t: string) => t.replace(/\s+/g, ' ').replace(/\uFFFD{4,}/g, (m) => `\uFFFD×${m.length}`).trimEnd();
  return noise + r.rows.map((row) => `${row.name} (greedy):\n  ${r.prompt}${show(row.sample)}\n`).join('\n');
}
