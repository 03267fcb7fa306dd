// Chat messages to one prompt. A model whose tokenizer came with a chat template (Hugging Face
// tokenizer_config.json's `chat_template`, carried in the .sqz header) gets it, rendered by
// @huggingface/jinja, the implementation transformers.js uses, with the variables transformers'
// apply_chat_template passes. Any other model gets a plain transcript ("User: ... Assistant:"),
// with "\nUser:" as a stop so the model does not write the next turn itself.
import { Template } from '@huggingface/jinja';
import type { Model } from '../../src/index.ts';
import { UsageError } from '../../src/util/errors.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatPrompt {
  prompt: string;
  /** Stops the template implies (the plain transcript's next-turn marker). */
  stop: string[];
}

/** How a model turns messages into a prompt: its own template, or the plain one. */
export interface ChatFormat {
  readonly kind: 'template' | 'plain';
  render(messages: ChatMessage[]): ChatPrompt;
}

const PLAIN_ROLES: Record<ChatMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

/** The plain transcript: "System: ...\n\nUser: ...\nAssistant: ...\nUser: ...\nAssistant:". */
export const plainChat: ChatFormat = {
  kind: 'plain',
  render(messages) {
    const lines = messages.map((m) => `${PLAIN_ROLES[m.role]}: ${m.content}`);
    return { prompt: `${lines.join('\n')}\nAssistant:`, stop: ['\nUser:'] };
  },
};

/** A Jinja chat template; bosText/eosText are what it sees as bos_token / eos_token. */
export function templateChat(source: string, bosText: string, eosText: string): ChatFormat {
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new UsageError(`the model's chat template does not parse: ${(e as Error).message}`);
  }
  return {
    kind: 'template',
    render(messages) {
      let prompt: string;
      try {
        prompt = template.render({
          messages,
          add_generation_prompt: true,
          bos_token: bosText,
          eos_token: eosText,
        });
      } catch (e) {
        // the library's raise_exception() lands here too: the template refusing the messages
        throw new UsageError(`the chat template failed on these messages: ${(e as Error).message}`);
      }
      // the model's encode() puts BOS first itself; a template that writes it too would double it
      if (bosText !== '' && prompt.startsWith(bosText)) prompt = prompt.slice(bosText.length);
      return { prompt, stop: [] };
    },
  };
}

/** The chat format of a loaded model. */
export function chatFormatOf(model: Model): ChatFormat {
  if (model.chatTemplate === undefined) return plainChat;
  const textOf = (id: number | null) => model.tokenizer.controls.find((c) => c.id === id)?.text ?? '';
  return templateChat(model.chatTemplate, textOf(model.tokenizer.bos), textOf(model.tokenizer.eos));
}
