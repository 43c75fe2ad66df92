// HTTP edges of the local broker: reading a capped body, turning a request or a reply into a
// validated CloudEvent, and answering errors as small JSON bodies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CloudEvent, HTTP } from 'cloudevents';
import { BadRequestError, PayloadTooLargeError } from '../errors.ts';

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

const TEXTUAL = /json|text|xml|yaml|javascript|x-www-form-urlencoded/i;

/**
 * A validated CloudEvent from an HTTP message, or a BadRequestError saying why not. Bodies are
 * handed to the SDK as text for structured mode and textual binary data: given a Buffer it
 * would misread structured events and turn JSON data into data_base64.
 */
export function parseCloudEvent(headers: Record<string, string>, body: Buffer): CloudEvent<unknown> {
  const contentType = headers['content-type'] ?? '';
  const structured = /^application\/cloudevents/i.test(contentType);
  if (/^application\/cloudevents-batch/i.test(contentType)) {
    throw new BadRequestError('batched CloudEvents are not supported: send one event per request');
  }
  const payload =
    body.length === 0 ? undefined : structured || TEXTUAL.test(contentType) ? body.toString('utf8') : body;
  let parsed: CloudEvent<unknown>;
  try {
    const result = HTTP.toEvent({ headers, body: payload });
    if (Array.isArray(result)) throw new BadRequestError('batched CloudEvents are not supported');
    parsed = result as CloudEvent<unknown>;
    parsed.validate();
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    const detail = (err as { errors?: { message?: string }[] }).errors?.[0]?.message;
    const message = (err as Error).message.split('\n')[0];
    throw new BadRequestError(`not a valid CloudEvent: ${detail ?? message}`, { cause: err });
  }
  if (parsed.specversion !== '1.0' && parsed.specversion !== '0.3') {
    throw new BadRequestError(`not a valid CloudEvent: unsupported specversion ${parsed.specversion}`);
  }
  return parsed;
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
