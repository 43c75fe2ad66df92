// HTTP edges of the local broker: posting a delivery, headers as a plain record, and answering
// errors as small JSON bodies. Bodies are read by lib/platform/runtime/body.ts, events parsed by
// lib/platform/cloudevents/decode.ts.
import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

// Kept-alive sockets to the subscribers. node:http rather than fetch: at thousands of deliveries
// fetch's Request/Response/stream objects outlived the young generation, and one 10,000-alert
// webhook grew the broker's heap by ~250 MiB (this client: a fraction of that).
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** POSTs one delivery and reads the whole answer; rejects on a network error or `signal`. */
export function post(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  signal: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, signal, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: headersOf(res.headers),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function headersOf(h: Headers | IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (h instanceof Headers) {
    h.forEach((v, k) => {
      out[k] = v;
    });
  } else {
    for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

export function answer(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const body = message ? JSON.stringify({ error: message }) : '';
  res.writeHead(status, body ? { 'content-type': 'application/json', ...headers } : headers);
  res.end(body);
}
