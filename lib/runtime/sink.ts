// Sends CloudEvents to K_SINK (set by a SinkBinding or the local pipeline) in binary mode,
// stamping K_CE_OVERRIDES extensions, and fails unless the sink accepted every event.
// node:http with a keep-alive Agent rather than fetch: a 50-alert webhook is 50 requests to the
// broker, and reusing sockets (no undici per-request overhead) roughly doubles what one core sends.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type CloudEvent, HTTP } from 'cloudevents';
import * as z from 'zod';
import { BadRequestError, UnavailableError } from '../errors.ts';

const Overrides = z.object({ extensions: z.record(z.string(), z.string()).optional() });

export interface Sink {
  readonly url: string;
  /** Resolves once the sink answered 2xx for every event; rejects with UnavailableError otherwise. */
  send(events: CloudEvent<unknown>[]): Promise<void>;
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
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const url = new URL(opts.url);
  const tls = url.protocol === 'https:';
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64 })
    : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const send = (headers: Record<string, string>, body: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        url,
        { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        resolve,
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  const post = async (event: CloudEvent<unknown>) => {
    const stamped = Object.keys(extensions).length ? event.cloneWith(extensions, false) : event;
    const msg = HTTP.binary(stamped);
    let res: IncomingMessage;
    try {
      res = await send(
        msg.headers as Record<string, string>,
        typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body),
      );
      // Drained so the socket goes back to the pool; the body itself is not used.
      for await (const _ of res);
    } catch (err) {
      throw new UnavailableError('event sink unreachable', { cause: err });
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const retryAfter = Number(res.headers['retry-after']);
      throw new UnavailableError(
        `event sink answered ${status}`,
        Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {},
      );
    }
  };
  return {
    url: opts.url,
    async send(events) {
      const results = await Promise.allSettled(events.map(post));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
