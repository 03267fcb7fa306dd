// An OpenAI-compatible HTTP server around one loaded model, on node:http (the three routes need
// no framework, and the runtime's queue already orders the work):
//   GET  /v1/models             the one model
//   POST /v1/completions        { prompt, max_tokens, temperature, top_p, stop, stream, seed, ... }
//   POST /v1/chat/completions   { messages, ... } through the model's chat template (chat.ts)
// Requests take turns on the model (its queue: each answer equals the request run alone); a
// client that disconnects aborts its generation, which frees the model for the next. Bad
// requests get a 400 with OpenAI's error body, before anything runs.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { GenerateResult, Model } from '../../src/index.ts';
import { SqzError } from '../../src/util/errors.ts';
import { type ChatFormat, chatFormatOf } from './chat.ts';
import { chatJob, completionJob, errorBody, type Job, RequestError, usage } from './openai.ts';

export interface ServeOptions {
  /** The id /v1/models lists and responses carry (e.g. the file's name). */
  modelId: string;
  /** How chat messages become a prompt (default: chatFormatOf(model)). */
  chat?: ChatFormat;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** One line per request (method, path, status, tokens, seconds) and per internal error. */
  onLog?: (line: string) => void;
}

type Kind = 'completion' | 'chat';

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly type: 'invalid_request_error' | 'not_found_error' = 'invalid_request_error') {
    super(message);
  }
}

export function createModelServer(model: Model, opts: ServeOptions): Server {
  const chat = opts.chat ?? chatFormatOf(model);
  const log = opts.onLog ?? (() => {});
  const server = createServer((req, res) => {
    const t0 = performance.now();
    handle(model, chat, opts, req, res).then(
      (tokens) => log(`${req.method} ${req.url} ${res.statusCode}${tokens === undefined ? '' : `, ${tokens} tokens`}, ${((performance.now() - t0) / 1000).toFixed(2)} s`),
      (e: unknown) => {
        log(`${req.method} ${req.url}: internal error: ${(e as Error)?.stack ?? e}`);
        if (!res.headersSent) sendJson(res, 500, errorBody('internal server error', 'server_error'));
        else res.end();
      },
    );
  });
  return server;
}

/** Serves one request; resolves with the tokens generated, if it generated. */
async function handle(model: Model, chat: ChatFormat, opts: ServeOptions, req: IncomingMessage, res: ServerResponse): Promise<number | undefined> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  try {
    if (path === '/v1/models') {
      allow(req, 'GET');
      sendJson(res, 200, { object: 'list', data: [{ id: opts.modelId, object: 'model', created: 0, owned_by: 'squeeze-edge' }] });
      return undefined;
    }
    const kind: Kind | undefined = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : undefined;
    if (!kind) throw new HttpError(404, `no route ${path} (GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`, 'not_found_error');
    allow(req, 'POST');
    const body = await readJson(req, opts.maxBodyBytes ?? 2 ** 20);
    const job = kind === 'chat' ? chatJob(body, model.ctx, chat) : completionJob(body, model.ctx);
    return await respond(model, kind, opts.modelId, job, res);
  } catch (e) {
    if (e instanceof HttpError) sendJson(res, e.status, errorBody(e.message, e.type));
    else if (e instanceof SqzError && !res.headersSent) sendJson(res, 400, errorBody(e.message, 'invalid_request_error', e instanceof RequestError ? e.param : null));
    else throw e;
    return undefined;
  }
}

function allow(req: IncomingMessage, method: string): void {
  if (req.method !== method) throw new HttpError(405, `${req.url} takes ${method}, not ${req.method}`);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `the request body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `the request body is not JSON: ${(e as Error).message}`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Runs the job in its turn and answers, as one JSON object or as server-sent events. */
async function respond(model: Model, kind: Kind, modelId: string, job: Job, res: ServerResponse): Promise<number | undefined> {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort(); // the client went away: free the model
  });
  const it = model.generate(job.prompt, { ...job.opts, signal: ac.signal }); // throws UsageError (a 400) before anything runs
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: modelId };
  let result: GenerateResult;
  try {
    if (!job.stream) {
      result = await drain(it, () => {});
      const choice =
        kind === 'chat'
          ? { index: 0, message: { role: 'assistant', content: result.text }, logprobs: null, finish_reason: result.finishReason }
          : { index: 0, text: result.text, logprobs: null, finish_reason: result.finishReason };
      sendJson(res, 200, { ...head, choices: [choice], usage: usage(result) });
      return result.generatedTokens;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = { ...head, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion' };
    const send = (choice: object) => res.write(`data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, logprobs: null, ...choice }] })}\n\n`);
    const text = (t: string) => send(kind === 'chat' ? { delta: { content: t }, finish_reason: null } : { text: t, finish_reason: null });
    if (kind === 'chat') send({ delta: { role: 'assistant', content: '' }, finish_reason: null }); // the role first, as OpenAI sends it
    result = await drain(it, text);
    send(kind === 'chat' ? { delta: {}, finish_reason: result.finishReason } : { text: '', finish_reason: result.finishReason });
    if (job.includeUsage) res.write(`data: ${JSON.stringify({ ...chunk, choices: [], usage: usage(result) })}\n\n`);
    res.end('data: [DONE]\n\n');
    return result.generatedTokens;
  } catch (e) {
    if (ac.signal.aborted) return undefined; // the client left; nobody to answer
    if (res.headersSent && e instanceof SqzError) {
      res.end(`data: ${JSON.stringify(errorBody(e.message, 'invalid_request_error'))}\n\n`);
      return undefined;
    }
    throw e;
  }
}

async function drain(it: AsyncGenerator<string, GenerateResult>, onPiece: (text: string) => void): Promise<GenerateResult> {
  for (;;) {
    const step = await it.next();
    if (step.done) return step.value;
    if (step.value !== '') onPiece(step.value);
  }
}
