// A recording HTTP endpoint standing in for a broker ingress: answers 202 (or what a test
// sets) and keeps every request it got.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function startRecordingSink(status = 202, opts: { delayMs?: number } = {}) {
  const requests: RecordedRequest[] = [];
  const state = { status };
  // A broker that takes a while to answer each event (its own queue, a slow disk).
  const answer = (res: import('node:http').ServerResponse) =>
    opts.delayMs
      ? setTimeout(() => res.writeHead(state.status).end(), opts.delayMs)
      : res.writeHead(state.status).end();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    setStatus(s: number) {
      state.status = s;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
