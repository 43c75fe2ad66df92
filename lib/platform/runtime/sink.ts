// Sends CloudEvents to K_SINK (set by a SinkBinding or the local pipeline) in binary mode,
// stamping K_CE_OVERRIDES extensions, and fails unless the sink accepted every event.
// A 50-alert webhook is 50 requests to the broker, so the per-request cost is what bounds an
// ingest: plain http goes through the pooled keep-alive client of http1.ts (one write per
// event, ~25 µs of CPU against ~130 µs for node:http's client), https through node:https with
// a keep-alive Agent. Either way at most MAX_IN_FLIGHT requests are in flight; the rest queue.
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CloudEvent } from 'cloudevents';
import * as z from 'zod';
import { binaryMessage, encodeHeaderValue } from '../cloudevents/encode.ts';
import { BadRequestError, UnavailableError } from '../errors.ts';
import { createHttp1Client, type Http1Response } from './http1.ts';

const MAX_IN_FLIGHT = 64;

/**
 * An event already in binary mode: its ce-* and content-type headers (attribute values already
 * percent-encoded, lib/platform/cloudevents/encode.ts), and the data as the body (a string is sent as UTF-8).
 */
export interface BinaryEvent {
  headers: Record<string, string>;
  body: string | Buffer;
}

const Overrides = z.object({ extensions: z.record(z.string(), z.string()).optional() });

export interface Sink {
  readonly url: string;
  /** Resolves once the sink answered 2xx for every event; rejects with UnavailableError otherwise. */
  send(events: ReadonlyArray<CloudEvent<unknown> | BinaryEvent>): Promise<void>;
  /** Closes idle connections. */
  close(): void;
}

export function parseCeOverrides(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new BadRequestError('K_CE_OVERRIDES is not valid JSON', { cause: err });
  }
  const parsed = Overrides.safeParse(value);
  if (!parsed.success)
    throw new BadRequestError('K_CE_OVERRIDES must look like {"extensions": {"key": "value"}}');
  return parsed.data.extensions ?? {};
}

export function createSink(opts: {
  url: string;
  overrides?: Record<string, string>;
  timeoutMs?: number;
}): Sink {
  const extensions = opts.overrides ?? {};
  const extensionHeaders = Object.fromEntries(
    Object.entries(extensions).map(([k, v]) => [`ce-${k}`, encodeHeaderValue(v)]),
  );
  const stamp = Object.keys(extensions).length > 0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const url = new URL(opts.url);
  const transport =
    url.protocol === 'https:'
      ? httpsTransport(url, timeoutMs)
      : createHttp1Client(url, { maxSockets: MAX_IN_FLIGHT, timeoutMs });
  const post = async (event: CloudEvent<unknown> | BinaryEvent) => {
    let headers: Record<string, string>;
    let body: string | Buffer;
    if (event instanceof CloudEvent) {
      ({ headers, body } = binaryMessage(stamp ? event.cloneWith(extensions, false) : event));
    } else {
      headers = stamp ? { ...event.headers, ...extensionHeaders } : event.headers;
      body = event.body;
    }
    let res: Http1Response;
    try {
      res = await transport.post(headers, body);
    } catch (err) {
      throw new UnavailableError('event sink unreachable', { cause: err });
    }
    if (res.status < 200 || res.status > 299) {
      const retryAfter = Number(res.headers['retry-after']);
      throw new UnavailableError(
        `event sink answered ${res.status}`,
        Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {},
      );
    }
  };
  return {
    url: opts.url,
    async send(events) {
      // At most MAX_IN_FLIGHT at a time, each timed on its own (SINK_TIMEOUT_MS): a 10,000-alert
      // webhook is as fast as the sink, not cut off by one deadline for all. The first failure
      // stops the rest from going out: the webhook is answered 5xx and Alertmanager sends it
      // all again anyway (event ids are deterministic, so what already went out dedupes).
      let next = 0;
      let failure: { error: unknown } | undefined;
      const worker = async () => {
        while (failure === undefined && next < events.length) {
          const event = events[next++] as CloudEvent<unknown> | BinaryEvent;
          try {
            await post(event);
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, events.length) }, worker));
      if (failure) throw failure.error;
    },
    close() {
      transport.close();
    },
  };
}

/**
 * https sinks: node:https with a keep-alive Agent, behind the same post() as http1.ts. In the
 * bundles node:https (and with it node:tls and OpenSSL's set-up) loads at its first use
 * (scripts/build.ts), which an in-cluster http sink (the broker's ingress) never reaches.
 */
function httpsTransport(url: URL, timeoutMs: number) {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  return {
    post: (headers: Record<string, string>, body: string | Buffer) =>
      new Promise<Http1Response>((resolve, reject) => {
        const req = httpsRequest(
          url,
          { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
          (res: IncomingMessage) => {
            // Drained so the socket goes back to the pool; the body itself is not used.
            res.resume();
            res.on('error', reject);
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string> }),
            );
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
