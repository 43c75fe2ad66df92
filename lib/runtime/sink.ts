// Sends CloudEvents to K_SINK (set by a SinkBinding or the local pipeline) in binary mode,
// stamping K_CE_OVERRIDES extensions, and fails unless the sink accepted every event.
import { type CloudEvent, HTTP } from 'cloudevents';
import { z } from 'zod';
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
  const post = async (event: CloudEvent<unknown>) => {
    const stamped = Object.keys(extensions).length ? event.cloneWith(extensions, false) : event;
    const msg = HTTP.binary(stamped);
    let res: Response;
    try {
      res = await fetch(opts.url, {
        method: 'POST',
        headers: msg.headers as Record<string, string>,
        body: typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new UnavailableError('event sink unreachable', { cause: err });
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new UnavailableError(
        `event sink answered ${res.status}`,
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
