// HTTP edges of the local broker: reading a capped body, headers as a plain record, and
// answering errors as small JSON bodies. Events are parsed by lib/cloudevents/decode.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PayloadTooLargeError } from '../errors.ts';

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

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > max) throw new PayloadTooLargeError(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new PayloadTooLargeError(max);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
