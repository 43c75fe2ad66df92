// Outgoing CloudEvents in HTTP binary mode, with attribute values percent-encoded as the HTTP
// binding (1.0.2, §3.1.3.2) requires: a header carries printable ASCII only, so a label in
// another script, an emoji or a control character in `ce-subject` or `ce-partitionkey` goes out
// as `%E6%97%A5`-style escapes of its UTF-8 bytes. The cloudevents SDK (v10) writes values as
// they are, which node:http and fetch refuse past Latin-1: every event that needs encoding goes
// through this module (the sink, the runtime's replies, the local broker's deliveries), and
// lib/platform/cloudevents/decode.ts undoes it on the way in.
import { type CloudEvent, HTTP } from 'cloudevents';

// What may stay as is: printable ASCII (U+0021-U+007E) except `"` and `%`.
const UNSAFE = /[^\x21\x23\x24\x26-\x7e]/;
const UNSAFE_RUN = /[^\x21\x23\x24\x26-\x7e]+/g;

/**
 * One attribute value as a header value: space, `"`, `%` and everything outside printable
 * ASCII become %XX of their UTF-8 bytes (upper-case hex, as the binding's example). A lone
 * surrogate, which has no UTF-8 form, goes out as U+FFFD.
 */
export function encodeHeaderValue(value: string): string {
  if (!UNSAFE.test(value)) return value;
  // encodeURIComponent escapes every character of such a run (none is in its unreserved set).
  return value.toWellFormed().replace(UNSAFE_RUN, encodeURIComponent);
}

/** Encodes every `ce-*` header value of a binary-mode message in place; other headers are HTTP's own. */
export function encodeAttributeHeaders(headers: Record<string, string>): Record<string, string> {
  for (const name in headers) {
    if (name.startsWith('ce-')) headers[name] = encodeHeaderValue(headers[name] as string);
  }
  return headers;
}

export interface BinaryMessage {
  headers: Record<string, string>;
  /** JSON data as text, binary data as bytes, nothing as an empty string. */
  body: string | Buffer;
}

/** The binary-mode HTTP message of a CloudEvent: the SDK's, with its attribute values encoded. */
export function binaryMessage(event: CloudEvent<unknown>): BinaryMessage {
  const msg = HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(msg.headers)) {
    if (value !== undefined) headers[name] = String(value);
  }
  const body = msg.body;
  return {
    headers: encodeAttributeHeaders(headers),
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : '',
  };
}

/**
 * Bytes the `ce-*` headers of the event's binary-mode message take on the wire (`ce-name: value`
 * and CRLF each). A server refuses a request whose headers pass its limit (Node's default is
 * 16 KiB for all of them), so an event over MAX_ATTRIBUTE_HEADER_BYTES (lib/platform/limits.ts) could
 * never be delivered in binary mode.
 */
export function attributeHeaderBytes(event: CloudEvent<unknown>): number {
  let n = 0;
  for (const [name, value] of Object.entries(event)) {
    // datacontenttype travels as Content-Type, data as the body.
    if (value === undefined || name === 'data' || name === 'data_base64' || name === 'datacontenttype')
      continue;
    n += name.length + 7 + encodeHeaderValue(String(value)).length;
  }
  return n;
}
