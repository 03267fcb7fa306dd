// Chat prompts: a Jinja chat template renders as transformers' apply_chat_template would (checked
// against strings written out by hand), the plain fallback, and sqz convert carrying
// tokenizer_config.json's chat_template into the .sqz header (old files load without one).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../../src/index.ts';
import { tensorShapes } from '../../src/model/config.ts';
import { Rng } from '../../src/util/random.ts';
import { UsageError } from '../../src/util/errors.ts';
import { convertCheckpoint } from '../../tools/convert.ts';
import { chatFormatOf, plainChat, templateChat } from '../../tools/serve/chat.ts';
import { chatJob } from '../../tools/serve/openai.ts';
import { writeSyntheticModel } from '../../tools/synthetic.ts';
import { f32Tensor, HF_LAYER_NAMES, hfConfigJson, type StTensor, TINY_TOKENIZER_JSON, tempDir, tinyConfig, writeSafetensors } from '../checkpoint/writers.ts';

// ChatML, as Qwen and SmolLM ship it
const CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
// Llama 2 style: BOS first, a system message folded into the first user turn, roles checked
const LLAMA2 =
  "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('only user and assistant roles') }}{% endif %}{% endfor %}";

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hi!' },
  { role: 'assistant' as const, content: 'Hello.' },
  { role: 'user' as const, content: 'Tell me a story.' },
];

test('a ChatML template renders the turns and opens the assistant turn', () => {
  const got = templateChat(CHATML, '<s>', '</s>').render(messages);
  const want = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n';
  assert.equal(got, { prompt: want, stop: [] });
});

test("a template's bos_token is left to the tokenizer (not doubled), eos_token is the model's, raise_exception is a usage error", () => {
  const chat = templateChat(LLAMA2, '<s>', '</s>');
  assert.is(chat.render(messages.slice(1)).prompt, '[INST] Hi! [/INST] Hello.</s>[INST] Tell me a story. [/INST]');
  assert.throws(() => chat.render(messages), (e: unknown) => e instanceof UsageError && /only user and assistant roles/.test((e as Error).message));
  assert.throws(() => templateChat('{% for %}', '', ''), (e: unknown) => e instanceof UsageError && /does not parse/.test((e as Error).message));
});

test('the plain transcript, with the next user turn as a stop', () => {
  assert.equal(plainChat.render(messages), { prompt: 'System: Be brief.\nUser: Hi!\nAssistant: Hello.\nUser: Tell me a story.\nAssistant:', stop: ['\nUser:'] });
});

test("sqz convert carries tokenizer_config.json's chat_template into the .sqz; the chat endpoint uses it; a file without one gets the plain transcript", async () => {
  const t = tempDir('chat');
  try {
    const c = tinyConfig();
    const rng = new Rng(4);
    const tensors: Record<string, StTensor> = {};
    for (const [name, shape] of tensorShapes(c)) {
      const hf = name === 'embed' ? 'model.embed_tokens.weight' : name === 'norm' ? 'model.norm.weight' : name.replace(/^layers\.(\d+)\.(.+)$/, (_, i, part) => `model.layers.${i}.${HF_LAYER_NAMES[part]}.weight`);
      tensors[hf] = f32Tensor(shape, rng.normals(shape.reduce((a, b) => a * b, 1), 0.1));
    }
    writeSafetensors(join(t.dir, 'model.safetensors'), tensors, { format: 'pt' });
    writeFileSync(join(t.dir, 'config.json'), JSON.stringify(hfConfigJson(c)));
    writeFileSync(join(t.dir, 'tokenizer.json'), TINY_TOKENIZER_JSON);
    // the newer list form: the entry named "default" is the chat template
    writeFileSync(join(t.dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template: CHATML }] }));
    const out = join(t.dir, 'm.sqz');
    await convertCheckpoint(t.dir, out);
    const model = await loadModel(out, { backend: 'js' });
    assert.is(model.chatTemplate, CHATML);
    const job = chatJob({ messages: [{ role: 'user', content: 'ab' }], max_tokens: 2 }, model.ctx, chatFormatOf(model));
    assert.is(job.prompt, '<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n');
    assert.equal(job.opts.stop, []);

    const old = join(t.dir, 'old.sqz');
    await writeSyntheticModel(old, { seed: 1 });
    const oldModel = await loadModel(old, { backend: 'js' });
    assert.is(oldModel.chatTemplate, undefined);
    assert.is(chatFormatOf(oldModel).kind, 'plain');
  } finally {
    t.done();
  }
});

test.run();
