// Real checkpoints from ../shared: greedy text must reproduce, token for token, the references in
// ../shared/models/PROVENANCE.md (decoded there by independent C and numpy implementations).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, openModel, type OpenModelOptions } from '../../tools/convert.ts';
import { assertClose, sharedFiles } from '../helpers.ts';

const PROMPT = 'Once upon a time';
const cases = [
  {
    name: 'stories260K',
    model: 'models/stories260K.bin',
    tokenizer: 'models/tok512.bin',
    steps: 60, // the reference is 60 positions long and may end inside a token
    reference:
      'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high',
  },
  {
    name: 'stories3M',
    model: 'models/stories3M/stories3M-q80.bin',
    tokenizer: 'models/stories3M/tok4096.bin',
    steps: 60,
    reference:
      'Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One day, she went to the park with her mom. They saw a big tree with lots of leaves. Lily wanted to climb the tree, but her mom said it was too dangerous.',
  },
  {
    name: 'tinystories-656k',
    model: 'models/tinystories-656k',
    tokenizer: undefined,
    steps: 80,
    reference:
      'Once upon a time, a little girl named Lily lived in a small house with her mom, dad, and her dog, Spot, Spot, loved to play all day. One day, Lily saw a small bird on the ground. She picked it up and tried to reach the bird and see what it was.',
  },
];

async function greedy(source: string, opts: OpenModelOptions, steps: number): Promise<{ text: string; ids: number[] }> {
  const model = await openModel(source, opts);
  const ids: number[] = [];
  let text = PROMPT;
  for await (const piece of model.generate(PROMPT, { temperature: 0, maxTokens: steps, onToken: (id) => ids.push(id) })) text += piece;
  return { text, ids };
}

for (const c of cases) {
  test(`${c.name}: greedy text reproduces the reference, from the checkpoint and from f32/f16 .sqz`, async () => {
    const found = sharedFiles(c.model, ...(c.tokenizer ? [c.tokenizer] : []));
    if (!found) return;
    const [model, tok] = found;
    const dir = mkdtempSync(join(tmpdir(), 'sqz-real-'));
    try {
      const direct = await greedy(model, { tokenizer: tok }, c.steps);
      assert.ok(direct.text.startsWith(c.reference), `checkpoint text differs:\n${direct.text}\nwant\n${c.reference}`);

      const f32 = join(dir, 'f32.sqz');
      await convertCheckpoint(model, f32, { tokenizer: tok, dtype: 'f32' });
      const fromSqz = await greedy(f32, {}, c.steps);
      assert.equal(fromSqz.ids, direct.ids, 'f32 .sqz tokens differ from the checkpoint');

      const jsRef = await greedy(f32, { backend: 'js' }, c.steps);
      assert.equal(jsRef.ids, direct.ids, 'the js backend gives other tokens');

      // logits of every position of prompt + continuation: wasm against the TypeScript reference
      // (with f32 caches: in f16 the two backends' RoPE, whose sin and cos differ in the last bit, can round a half apart)
      const wasmModel = await openModel(f32, { kv: 'f32' });
      const jsModel = await openModel(f32, { backend: 'js', kv: 'f32' });
      const ids = [...wasmModel.tokenizer.encode(PROMPT), ...direct.ids.slice(0, 20)];
      assertClose(wasmModel.forward(ids, 0, 0), jsModel.forward(ids, 0, 0), 1e-4, 'wasm vs js logits');

      const f16 = join(dir, 'f16.sqz');
      await convertCheckpoint(model, f16, { tokenizer: tok, dtype: 'f16' });
      const half = await greedy(f16, {}, 30);
      assert.equal(half.ids, direct.ids.slice(0, 30), 'f16 .sqz: first 30 greedy tokens differ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
