// OpenAI-style request bodies (POST /v1/completions, /v1/chat/completions) checked and turned
// into a prompt and GenerateOptions, and the response objects built back. Fields OpenAI has and
// we cannot honour (n > 1, echo, logprobs, presence/frequency penalties) are refused with a 400
// naming them rather than ignored; fields we do not know (user, metadata, ...) are ignored, as
// OpenAI-compatible servers do. Extensions other servers share: top_k, min_p, repetition_penalty.
import type { GenerateOptions, GenerateResult } from '../../src/index.ts';
import { UsageError } from '../../src/util/errors.ts';
import type { ChatFormat, ChatMessage } from './chat.ts';

/** A bad request: the message, and the field it is about (OpenAI's error.param). */
export class RequestError extends UsageError {
  override name = 'RequestError';
  constructor(message: string, readonly param: string | null = null) {
    super(message);
  }
}

export interface Job {
  prompt: string;
  opts: GenerateOptions;
  stream: boolean;
  includeUsage: boolean;
}

type Body = Record<string, unknown>;

function asBody(body: unknown): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestError('the request body must be a JSON object');
  return body as Body;
}

function number(b: Body, name: string, check: (v: number) => boolean, what: string): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new RequestError(`${name} must be ${what}, got ${JSON.stringify(v)}`, name);
  return v;
}

function bool(b: Body, name: string): boolean {
  const v = b[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new RequestError(`${name} must be true or false, got ${JSON.stringify(v)}`, name);
  return v;
}

function stops(b: Body): string[] {
  const v = b.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '')) throw new RequestError('stop must be a non-empty string or a list of them', 'stop');
  return list as string[];
}

function refuse(b: Body, name: string, allowed: (v: unknown) => boolean, why: string): void {
  if (b[name] !== undefined && b[name] !== null && !allowed(b[name])) throw new RequestError(`${name} ${why}`, name);
}

/** The fields both endpoints share; maxTokens defaults to `defaultMax` and may not pass the context. */
function common(b: Body, ctx: number, defaultMax: number): Omit<Job, 'prompt'> {
  if (b.model !== undefined && typeof b.model !== 'string') throw new RequestError('model must be a string', 'model');
  refuse(b, 'n', (v) => v === 1, 'must be 1 (one choice per request)');
  refuse(b, 'echo', (v) => v === false, 'is not supported');
  refuse(b, 'logprobs', (v) => v === false, 'is not supported');
  refuse(b, 'presence_penalty', (v) => v === 0, 'is not supported (use repetition_penalty)');
  refuse(b, 'frequency_penalty', (v) => v === 0, 'is not supported (use repetition_penalty)');
  const maxName = b.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens = number(b, maxName, (v) => Number.isInteger(v) && v >= 0 && v <= ctx, `an integer from 0 to the context length ${ctx}`) ?? Math.min(defaultMax, ctx);
  const streamOptions = b.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) throw new RequestError('stream_options must be an object', 'stream_options');
  const seed = number(b, 'seed', Number.isSafeInteger, 'an integer');
  return {
    opts: {
      maxTokens,
      temperature: number(b, 'temperature', (v) => v >= 0, 'a number >= 0') ?? 1,
      topP: number(b, 'top_p', (v) => v > 0 && v <= 1, 'in (0, 1]') ?? 1,
      topK: number(b, 'top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0') ?? 0,
      minP: number(b, 'min_p', (v) => v >= 0 && v < 1, 'in [0, 1)') ?? 0,
      repetitionPenalty: number(b, 'repetition_penalty', (v) => v > 0, 'a number > 0') ?? 1,
      stop: stops(b),
      ...(seed !== undefined && { seed }),
    },
    stream: bool(b, 'stream'),
    includeUsage: bool((streamOptions as Body | undefined) ?? {}, 'include_usage'),
  };
}

/** POST /v1/completions: `prompt` is a string (or a list of one); max_tokens defaults to 16, as OpenAI's. */
export function completionJob(body: unknown, ctx: number): Job {
  const b = asBody(body);
  let prompt = b.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') throw new RequestError('prompt must be a string (one prompt per request)', 'prompt');
  return { prompt, ...common(b, ctx, 16) };
}

const ROLES = new Set(['system', 'user', 'assistant']);

/** A message's content: a string, or OpenAI's list of parts of which only text parts are supported. */
function contentOf(m: Body, i: number): string {
  const c = m.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c) && c.every((p) => p && typeof p === 'object' && (p as Body).type === 'text' && typeof (p as Body).text === 'string')) {
    return c.map((p) => (p as { text: string }).text).join('');
  }
  throw new RequestError(`messages[${i}].content must be a string (or a list of text parts)`, 'messages');
}

/** POST /v1/chat/completions: the messages through the model's chat format; max tokens default to the context. */
export function chatJob(body: unknown, ctx: number, chat: ChatFormat): Job {
  const b = asBody(body);
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw new RequestError('messages must be a non-empty list', 'messages');
  const messages: ChatMessage[] = b.messages.map((m: unknown, i: number) => {
    if (!m || typeof m !== 'object') throw new RequestError(`messages[${i}] must be an object`, 'messages');
    const role = (m as Body).role;
    if (typeof role !== 'string' || !ROLES.has(role)) throw new RequestError(`messages[${i}].role must be system, user or assistant`, 'messages');
    return { role: role as ChatMessage['role'], content: contentOf(m as Body, i) };
  });
  const job = common(b, ctx, ctx);
  const rendered = chat.render(messages);
  return { ...job, prompt: rendered.prompt, opts: { ...job.opts, stop: [...(job.opts.stop ?? []), ...rendered.stop] } };
}

export function usage(r: Pick<GenerateResult, 'promptTokens' | 'generatedTokens'>) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.generatedTokens, total_tokens: r.promptTokens + r.generatedTokens };
}

/** OpenAI's error body. */
export function errorBody(message: string, type: 'invalid_request_error' | 'not_found_error' | 'server_error', param: string | null = null) {
  return { error: { message, type, param, code: null } };
}
