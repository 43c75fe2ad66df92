// Incoming CloudEvents over HTTP (binary or structured mode) to a validated CloudEvent, or a
// BadRequestError saying why not. The one parser of the function runtime and the local broker
// (its ingress and subscriber replies): header values are percent-decoded as the HTTP binding
// (1.0.2, §3.1.3.2) requires, the pair of lib/platform/cloudevents/encode.ts, and what a real broker
// refuses is refused here too (no `id`, no `specversion`, an extension no header can carry).
import type { IncomingHttpHeaders } from 'node:http';
import { type CloudEvent, HTTP } from 'cloudevents';
import { BadRequestError } from '../errors.ts';

export const SUPPORTED_SPECVERSIONS: ReadonlySet<string> = new Set(['1.0', '0.3']);

const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;
// ignoreBOM: a U+FEFF in a value is content, not a byte-order mark to drop.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One header value back to the attribute value: a double-quoted string is unquoted first (older
 * senders quoted values), then one round of percent-decoding. Escapes that are not valid UTF-8
 * (`%C0%A0`, an overlong space) are refused, as the binding says. A `%` that starts no escape
 * is kept as written: producers before 1.0.2 sent values without encoding them.
 */
export function decodeHeaderValue(name: string, raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (!value.includes('%')) return value;
  try {
    return value.replace(ESCAPES, (run) => UTF8.decode(Buffer.from(run.replaceAll('%', ''), 'hex')));
  } catch (err) {
    throw new BadRequestError(`invalid CloudEvent: ${name} is not percent-encoded UTF-8`, { cause: err });
  }
}

type HeaderInput = IncomingHttpHeaders | Record<string, string | string[] | undefined>;

/**
 * Whether a request (or a subscriber's reply) carries a CloudEvent, and in which mode, from its
 * headers alone: `application/cloudevents-batch+json` is a batch, `application/cloudevents+json`
 * structured, a `ce-specversion` header binary. Undefined when it is plain HTTP.
 */
export function cloudEventMode(headers: HeaderInput): 'binary' | 'structured' | 'batch' | undefined {
  const ct = String(headers['content-type'] ?? '').toLowerCase();
  if (ct.startsWith('application/cloudevents-batch')) return 'batch';
  if (ct.startsWith('application/cloudevents')) return 'structured';
  if (headers['ce-specversion'] !== undefined) return 'binary';
  return undefined;
}

/** Lower-cased names, one string per header, `ce-*` values decoded. */
function decodedHeaders(input: HeaderInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, v] of Object.entries(input)) {
    if (v === undefined) continue;
    const name = rawName.toLowerCase();
    const value = Array.isArray(v) ? v.join(', ') : String(v);
    out[name] = name.startsWith('ce-') ? decodeHeaderValue(name, value) : value;
  }
  return out;
}

// Body types handed to the SDK as text: given a Buffer it would turn JSON data into data_base64.
const TEXTUAL = /json|text|xml|yaml|javascript|x-www-form-urlencoded/i;

// Context attributes of 1.0 and 0.3 that are not extensions (data is not an attribute at all).
const CONTEXT_ATTRIBUTES = new Set([
  'id',
  'source',
  'specversion',
  'type',
  'datacontenttype',
  'dataschema',
  'schemaurl',
  'datacontentencoding',
  'subject',
  'time',
  'data',
  'data_base64',
]);

function requireAttribute(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new BadRequestError(`invalid CloudEvent: ${name} is required`);
  }
  return value;
}

function requireSpecversion(value: unknown): void {
  const v = requireAttribute(value, 'specversion');
  if (!SUPPORTED_SPECVERSIONS.has(v)) {
    throw new BadRequestError(`unsupported CloudEvents specversion "${v.slice(0, 20)}"`);
  }
}

/** The structured event's JSON object, with the attributes the SDK would otherwise invent checked. */
function structuredBody(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('invalid CloudEvent: the body is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BadRequestError('invalid CloudEvent: the body is not a JSON object');
  }
  const obj = parsed as Record<string, unknown>;
  // The SDK makes up a UUID for a missing id and assumes 1.0 for a missing specversion;
  // Knative's broker refuses both, and a made-up id defeats deduplication on source + id.
  requireSpecversion(obj.specversion);
  requireAttribute(obj.id, 'id');
  for (const [name, value] of Object.entries(obj)) {
    if (CONTEXT_ATTRIBUTES.has(name)) continue;
    // CloudEvents' type system has no objects, arrays or null: such a value has no header form.
    const t = typeof value;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') {
      throw new BadRequestError(
        `invalid CloudEvent: extension ${name.slice(0, 40)} must be a string, number or boolean`,
      );
    }
  }
  return obj;
}

/**
 * A validated CloudEvent from an HTTP request or response. Structured mode when the content
 * type says `application/cloudevents+json`, binary mode otherwise; a batch is refused.
 */
export function decodeCloudEvent(rawHeaders: HeaderInput, body: Buffer): CloudEvent<unknown> {
  const headers = decodedHeaders(rawHeaders);
  const contentType = headers['content-type'] ?? '';
  const mode = cloudEventMode(headers);
  if (mode === 'batch') {
    throw new BadRequestError('batched CloudEvents are not supported: send one event per request');
  }
  let message: { headers: Record<string, string>; body: unknown };
  if (mode === 'structured') {
    message = { headers, body: structuredBody(body) };
  } else {
    if (headers['ce-specversion'] === undefined && headers['ce-id'] === undefined) {
      throw new BadRequestError('invalid CloudEvent: no ce-* headers and not application/cloudevents+json');
    }
    requireSpecversion(headers['ce-specversion']);
    requireAttribute(headers['ce-id'], 'id');
    const payload = body.length === 0 ? undefined : TEXTUAL.test(contentType) ? body.toString('utf8') : body;
    message = { headers, body: payload };
  }
  try {
    const event = HTTP.toEvent(message as never) as CloudEvent<unknown>;
    if (Array.isArray(event)) throw new BadRequestError('batched CloudEvents are not supported');
    event.validate();
    return event;
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    const detail = (err as { errors?: { message?: string }[] }).errors?.[0]?.message;
    const message = String((err as Error)?.message ?? err).split('\n')[0];
    throw new BadRequestError(`invalid CloudEvent: ${(detail ?? message).slice(0, 200)}`, { cause: err });
  }
}
