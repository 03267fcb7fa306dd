// `sqz info --verify` reads and checks every record, exiting 1 with one line naming the first bad
// one (issue 11 pt 12); `sqz ppl` and `sqz run` exit 1 with one line when the model computes a NaN
// or an infinity (pt 7), and every run-time command refuses a load over --max-memory (pt 3).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqzReader } from '../../src/format/reader.ts';
import { writeSqz } from '../../src/format/writer.ts';
import { syntheticConfig, syntheticRecords, syntheticTokenizer, writeSyntheticModel } from '../../tools/synthetic.ts';
import { repoRoot } from '../helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-verify-'));
const file = join(tmp, 'm.sqz');
await writeSyntheticModel(file, { seed: 4 });
const r = await SqzReader.open(file);
const entries = r.entries;
await r.close();

function sqz(...args: string[]) {
  const p = spawnSync(process.execPath, [join(repoRoot, 'bin/sqz.mjs'), ...args], { encoding: 'utf8' });
  return { code: p.status, stderr: p.stderr, stdout: p.stdout };
}

function oneLineError(args: string[], pattern: RegExp): string {
  const p = sqz(...args);
  assert.is(p.code, 1, `exit code of sqz ${args.join(' ')}: ${p.stderr}`);
  const lines = p.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line expected, got:\n${p.stderr}`);
  assert.match(lines[0], pattern);
  return lines[0];
}

/** The file with one bit flipped inside each named tensor's record (near its end: the payload). */
function corrupted(...names: string[]): string {
  const b = new Uint8Array(readFileSync(file));
  for (const n of names) {
    const e = entries.find((x) => x.name === n)!;
    b[e.offset + e.bytes - 5] ^= 0x04;
  }
  const out = join(tmp, `bad-${names.join('-')}.sqz`);
  writeFileSync(out, b);
  return out;
}

test('sqz info --verify: a good file passes, a flipped bit in a record is named (exit 1); plain info still reads the header only', () => {
  const ok = sqz('info', file, '--verify');
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`verified: ${entries.length} tensors, every checksum matches`));
  const bad = corrupted('layers.1.mlp.up');
  assert.is(sqz('info', bad).code, 0);
  oneLineError(['info', bad, '--verify'], new RegExp(`^sqz: ${bad.replace(/[.\\/]/g, '\\$&')}: tensor 'layers\\.1\\.mlp\\.up' is corrupt \\(checksum 0x[0-9a-f]{8}, the index says 0x[0-9a-f]{8}\\)$`));
  oneLineError(['info', bad, '--verify', '--json'], /tensor 'layers\.1\.mlp\.up' is corrupt/);
  // the first bad record in file order is named, and the others counted
  const two = corrupted('norm', 'layers.0.attn.k', 'layers.1.mlp.up');
  oneLineError(['info', two, '--verify'], /tensor 'layers\.0\.attn\.k' is corrupt .*\(and 2 more bad records: 'layers\.1\.mlp\.up', 'norm'\)$/);
});

test('sqz info: the memory a load takes, at least the f32 weights plus the KV cache of the default context', () => {
  const out = sqz('info', file).stdout;
  const m = /^memory: a load on the wasm backend at context (\d+) takes (\d+\.\d\d) MiB \(weights (\d+\.\d\d) MiB, KV cache (\d+\.\d\d) MiB, activations \d+\.\d\d MiB\)$/m.exec(out);
  assert.ok(m, out);
  const c = syntheticConfig({ seed: 4 } as never);
  assert.is(Number(m[1]), Math.min(c.maxSeqLen, 4096));
  const f32 = entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const kv = 2 * c.nLayers * Number(m[1]) * (c.dim / c.nHeads) * c.nKvHeads * 4;
  const MiB = 2 ** 20;
  assert.ok(Math.abs(Number(m[3]) * MiB - f32) < 0.01 * f32 + 0.01 * MiB, `weights ${m[3]} MiB vs ${f32 / MiB}`);
  assert.ok(Math.abs(Number(m[4]) * MiB - kv) <= 0.005 * MiB, `KV ${m[4]} MiB vs ${kv / MiB}`);
  assert.ok(Number(m[2]) * MiB >= f32 + kv);
});

test('sqz ppl and sqz run: a model whose activations overflow exits 1 with one line, no perplexity printed', async () => {
  const config = syntheticConfig({ seed: 4 } as never);
  const records = [...syntheticRecords(config)].map((rec) => (rec.name === 'layers.1.mlp_norm' && rec.kind === 'f32' ? { ...rec, data: rec.data.map(() => 1e30) } : rec));
  const overflow = join(tmp, 'overflow.sqz');
  await writeSqz(overflow, { config, tokenizer: syntheticTokenizer(config.vocabSize), quant: { method: 'f32' } }, records);
  const text = join(tmp, 'text.txt');
  writeFileSync(text, 'the cat sat on the mat and the dog ran to see it. '.repeat(4));
  const msg = oneLineError(['ppl', overflow, '--text', text, '--ctx', '64'], /^sqz: the logits at position \d+ are not finite/);
  assert.not.match(msg, /perplexity NaN/);
  oneLineError(['run', overflow, '-n', '5', '-t', '0'], /^sqz: the logits at position \d+ are not finite/);
});

test('--max-memory: a load over it is refused naming the need and the limit; bad sizes are usage errors', () => {
  oneLineError(['run', file, '-n', '1', '--max-memory', '1M'], /^sqz: .*m\.sqz: loading needs \d+\.\d\d MiB .*more than the maxMemory limit of 1\.00 MiB/);
  const ok = sqz('run', file, '-n', '1', '-t', '0', '--max-memory', '64MiB');
  assert.is(ok.code, 0, ok.stderr);
  oneLineError(['run', file, '--max-memory', 'lots'], /--max-memory expects a size such as 2G/);
  oneLineError(['ppl', file, '--text', file, '--max-memory', '0'], /--max-memory expects a size/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
