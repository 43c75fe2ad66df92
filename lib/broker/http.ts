// HTTP edges of the local broker: headers as a plain record, and answering errors as small
// JSON bodies. Bodies are read by lib/runtime/body.ts, events parsed by lib/cloudevents/decode.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';

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
