// A local HTTP server for download tests (127.0.0.1, an ephemeral port): serves files by path,
// counts requests, and misbehaves on purpose on a few paths.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface TestServer {
  url: string;
  /** Requests per path. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

/**
 * files: path -> bytes, served whole with Content-Length. Other paths:
 *   /cut/NAME      Content-Length of the whole file, half the body, then the connection is destroyed
 *   /short/NAME    Content-Length of the whole file, half the body, then nothing (the connection stays open)
 *   /silent        accepts the request and never answers
 *   anything else  404
 */
export async function startServer(files: Record<string, Uint8Array>): Promise<TestServer> {
  const requests = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const [, kind, name] = /^\/(cut|short)(\/.*)$/.exec(path) ?? [];
    const body = files[name ?? path];
    if (path === '/silent') return;
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (!kind) {
      res.end(body);
      return;
    }
    res.write(body.subarray(0, body.length >> 1), () => {
      if (kind === 'cut') setTimeout(() => res.socket?.destroy(), 20);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
