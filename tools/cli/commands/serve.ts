import { basename, extname } from 'node:path';
import { UsageError } from '../../../src/util/errors.ts';
import { chatFormatOf } from '../../serve/chat.ts';
import { createModelServer } from '../../serve/server.ts';
import { type Command, num, onePositional, str } from '../command.ts';
import { fastOptions, modelOptions, openModelOption } from './shared.ts';

export const serve: Command = {
  name: 'serve',
  summary: 'an OpenAI-compatible HTTP server for one model (docs/SERVE.md)',
  usage: `sqz serve <model.sqz | checkpoint> [options]
      --host HOST       address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface)
      --port N          port (default 8080; 0 picks a free one)
      --ctx N           context length (default: the model's, at most 4096)
      --max-memory SIZE refuse a model whose load needs more (2G, 512M, bytes; wasm: 4 GiB at most)
      --tokenizer FILE  tokenizer for a llama2.c checkpoint (tokenizer.bin)
      --backend NAME    wasm (default) or js
      --threads N       threads for the wasm backend's matrix products (default 1)
      --fast, --exact   LUT products on the int8 fast path (default on the wasm backend, 3 and 4 bits:
                        perplexity within 0.36% (4-bit) / 0.86% (3-bit) of exact on stories3M and tinystories-656k) or exact
      --kv KIND         KV cache: f16 (default), f32, or KIVI-quantized q8, q4, q2 (docs/KVCACHE.md)
      --kv-window N     f16 window of recent positions of q8/q4/q2, a multiple of 32 (default 64)
Routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (stream: true for
server-sent events). Requests take turns on the model; each answer equals the request run alone.
Chat uses the model's chat template when its tokenizer came with one, else a plain
"User: ... Assistant:" transcript. Prints the address, then one line per request, to stderr;
Ctrl-C stops the server.`,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    ...modelOptions,
    ...fastOptions,
  },
  async run(p) {
    const source = onePositional(p, this, 'model');
    const host = str(p, 'host') ?? '127.0.0.1';
    if (host === '') throw new UsageError('--host needs an address');
    const port = num(p, 'port', { int: true, min: 0, max: 65535 }) ?? 8080;
    const model = await openModelOption(p, source);
    const modelId = basename(source, extname(source)) || basename(source);
    const chat = chatFormatOf(model); // a template that does not parse is an error now, not at the first request
    const server = createModelServer(model, { modelId, chat, onLog: (line) => process.stderr.write(`${line}\n`) });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'EADDRINUSE' ? new UsageError(`port ${port} on ${host} is in use (--port)`) : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? new UsageError(`cannot listen on ${host} (--host)`) : e),
      );
      server.listen(port, host, resolve);
    });
    const addr = server.address();
    const where = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
    process.stderr.write(`sqz serve: ${modelId} (${model.backend.name}, context ${model.ctx}, chat: ${chat.kind === 'template' ? "the model's template" : 'plain'}) on ${where}/v1\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await model.close();
  },
};
