// A small local stand-in for a Knative Broker: the same ingress, Trigger filters, delivery
// retries, reply routing and dead letters, on one machine, for `npm start` and end-to-end tests.
// Events live in memory only (like the in-memory channel broker): the real engine is Knative.
import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudEvent } from 'cloudevents';
import { cloudEventMode, decodeCloudEvent } from '../../lib/platform/cloudevents/decode.ts';
import { attributeHeaderBytes } from '../../lib/platform/cloudevents/encode.ts';
import { type AppError, BadRequestError, PayloadTooLargeError } from '../../lib/platform/errors.ts';
import { MAX_ATTRIBUTE_HEADER_BYTES, MAX_BODY_BYTES } from '../../lib/platform/limits.ts';
import type { Logger } from '../../lib/platform/logger.ts';
import { readBody } from '../../lib/platform/runtime/body.ts';
import { createIdleRelease, gcRelease } from '../../lib/platform/runtime/idle-release.ts';
import { parseRequestTarget } from '../../lib/platform/runtime/target.ts';
import { deliveryHeaders, type Envelope, envelopeJson, envelopeOf, withAttributes } from './envelope.ts';
import { triggerFilterAccepts } from './filter.ts';
import { type Answer, answer, post } from './http.ts';
import { type Limiter, limiter } from './limiter.ts';
import type { Trigger } from './triggers.ts';

/** Knative's loop guard: decremented on every reply, the event is dropped when it reaches 0. */
export const TTL_EXTENSION = 'knativebrokerttl';
export const DEFAULT_TTL = 255;

export interface LocalBrokerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  triggers: readonly Trigger[];
  /** Where a Trigger's subscriber listens locally (a Knative Service name is not a URL here). */
  resolveSubscriber: (trigger: Trigger) => string | URL;
  /** JSON Lines file of dead letters; its directory is created on demand. */
  deadLetterFile: string;
  log: Logger;
  /** Cap on ingress and reply bodies. */
  maxBodyBytes?: number;
  /** Idle time after which memory is given back; 0 turns it off. 250 ms by default. */
  idleReleaseMs?: number;
}

export interface BrokerStats {
  /** Events taken in: at the ingress and as subscriber replies. */
  accepted: number;
  /** Successful deliveries (one per event and matching Trigger). */
  delivered: number;
  /** Extra attempts made after a failed one. */
  retried: number;
  deadLettered: number;
  /** Events dropped by the TTL loop guard. */
  dropped: number;
}

export interface LocalBroker {
  /** Ingress URL; `<url>/<namespace>/<broker>` is accepted too, like Knative's. */
  url: string;
  /** Resolves once nothing is in flight or waiting for a retry. */
  idle(): Promise<void>;
  readonly stats: Readonly<BrokerStats>;
  close(): Promise<void>;
}

/**
 * Delivery attempts in flight per Trigger; the others wait their turn (a backoff waits without
 * a slot). Without a bound, a 10,000-alert webhook opened 10,000 requests to one subscriber at
 * once: thousands of sockets and buffers, and the broker's memory went from ~110 to ~480 MiB.
 */
export const MAX_ATTEMPTS_IN_FLIGHT = 64;

/** Statuses Knative retries; every other 4xx is final. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

/** Knative's backoff before retry number `n` (1-based): linear delay*n, exponential delay*2^n. */
export function backoffMs(policy: 'linear' | 'exponential', delayMs: number, n: number): number {
  return policy === 'linear' ? delayMs * n : delayMs * 2 ** n;
}

/** Retry-After as milliseconds (delta-seconds or an HTTP date), undefined when absent or bad. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface AttemptResult {
  ok: boolean;
  /** HTTP status, or 0 for a network error or timeout. */
  status: number;
  retryable: boolean;
  reason: string;
  retryAfterMs?: number;
  reply?: Envelope;
}

/**
 * An event the broker can deliver, or a BadRequestError: deliveries are binary mode, and
 * attributes too large for a subscriber's header limit would fail every attempt and end as a
 * dead letter after the sender was told 202. Refused at the door instead.
 */
function admit(event: CloudEvent<unknown>): CloudEvent<unknown> {
  const bytes = attributeHeaderBytes(event);
  if (bytes > MAX_ATTRIBUTE_HEADER_BYTES) {
    throw new BadRequestError(
      `attributes and extensions take ${bytes} bytes as ce-* headers, more than ${MAX_ATTRIBUTE_HEADER_BYTES}: the event could not be delivered`,
    );
  }
  return event;
}

function ttlOf(event: Envelope): number | undefined {
  const raw = event.attributes[TTL_EXTENSION];
  if (raw === undefined) return undefined;
  const n = Number.parseInt(raw, 10);
  return Number.isNaN(n) ? undefined : n;
}

/** One delivery attempt: the subscriber's answer, or why there was none. */
async function attemptDelivery(
  trigger: Trigger,
  url: string,
  event: Envelope,
  maxBody: number,
  stop: AbortSignal,
): Promise<AttemptResult> {
  const signal = AbortSignal.any([AbortSignal.timeout(trigger.delivery.timeoutMs), stop]);
  try {
    return answerResult(await post(url, deliveryHeaders(event), event.body, signal), maxBody);
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    const reason =
      (signal.reason as Error | undefined)?.name === 'TimeoutError'
        ? `no answer within ${trigger.delivery.timeoutMs} ms`
        : `network error: ${e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
    return { ok: false, status: 0, retryable: true, reason };
  }
}

/** What a subscriber's answer means: delivered (with a reply to route, or none), or a failure. */
function answerResult(res: Answer, maxBody: number): AttemptResult {
  const { body } = res;
  if (res.status < 200 || res.status > 299) {
    const result: AttemptResult = {
      ok: false,
      status: res.status,
      retryable: isRetryableStatus(res.status),
      reason: `subscriber answered ${res.status}${body.length ? `: ${body.toString('utf8').slice(0, 200)}` : ''}`,
    };
    const retryAfter = parseRetryAfter(res.headers['retry-after'] ?? null);
    if ((res.status === 429 || res.status === 503) && retryAfter !== undefined)
      result.retryAfterMs = retryAfter;
    return result;
  }
  if (cloudEventMode(res.headers) === undefined) {
    if (body.length === 0) return { ok: true, status: res.status, retryable: false, reason: 'delivered' };
    // Knative's broker answers 502 for this: the subscriber "succeeded" with something it cannot route.
    return {
      ok: false,
      status: 502,
      retryable: true,
      reason: `subscriber answered ${res.status} with a body that is not a CloudEvent`,
    };
  }
  try {
    if (body.length > maxBody) throw new PayloadTooLargeError(maxBody);
    const reply = envelopeOf(admit(decodeCloudEvent(res.headers, body)));
    return { ok: true, status: res.status, retryable: false, reason: 'delivered', reply };
  } catch (err) {
    return { ok: false, status: 502, retryable: true, reason: `invalid reply: ${(err as AppError).message}` };
  }
}

/** The JSON line a dead letter is kept as, with the extensions Knative stamps on it. */
function deadLetterLine(trigger: Trigger, url: string, event: Envelope, last: AttemptResult | undefined) {
  const lastStatus = last?.status ?? 0;
  const reason = last?.reason ?? 'not delivered';
  // The extensions Knative stamps on dead-lettered events, so a replay can tell where it failed.
  const stamped = withAttributes(
    event,
    lastStatus > 0
      ? { knativeerrordest: url, knativeerrorcode: String(lastStatus) }
      : { knativeerrordest: url },
  );
  const line = `${JSON.stringify({ time: new Date().toISOString(), trigger: trigger.name, subscriber: url, lastStatus, reason, event: envelopeJson(stamped) })}\n`;
  return { line, lastStatus, reason };
}

/** The broker's state and its paths: ingress, routing, delivery with retries, replies, dead letters. */
class Broker {
  readonly stats: BrokerStats = { accepted: 0, delivered: 0, retried: 0, deadLettered: 0, dropped: 0 };
  readonly shutdown = new AbortController();
  readonly #opts: LocalBrokerOptions;
  readonly #maxBody: number;
  readonly #slots = new Map<string, Limiter>();
  // Memory given back once nothing is in flight, as the functions do (lib/platform/runtime/idle-release.ts):
  // V8 kept the heap one 10,000-alert webhook grew to for as long as the pipeline ran.
  readonly #release: ReturnType<typeof createIdleRelease> | undefined;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #deadLetterWrites: Promise<void> = Promise.resolve();

  constructor(opts: LocalBrokerOptions) {
    this.#opts = opts;
    this.#maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.#release =
      opts.idleReleaseMs === 0
        ? undefined
        : createIdleRelease({ idleMs: opts.idleReleaseMs ?? 250, minGapMs: 5000, release: gcRelease() });
  }

  /** Counts a piece of work in flight until `work` settles. */
  track(work: Promise<void>, onError: (err: unknown) => void): void {
    this.#inFlight++;
    this.#release?.busy();
    work.catch(onError).finally(() => {
      this.#inFlight--;
      if (this.#inFlight > 0) return;
      this.#release?.idle();
      const ready = this.#waiters;
      this.#waiters = [];
      for (const w of ready) w();
    });
  }

  idle(): Promise<void> {
    return this.#inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#release?.stop();
    this.shutdown.abort();
    await this.#deadLetterWrites;
  }

  #slotFor(trigger: Trigger): Limiter {
    let slot = this.#slots.get(trigger.name);
    if (!slot) {
      slot = limiter(MAX_ATTEMPTS_IN_FLIGHT);
      this.#slots.set(trigger.name, slot);
    }
    return slot;
  }

  /** Takes an event in and fans it out; the event's TTL has already been checked. */
  route(event: Envelope): void {
    this.stats.accepted++;
    const { log, triggers } = this.#opts;
    const { id, type } = event.attributes;
    const matched = triggers.filter((t) => triggerFilterAccepts(t, event.attributes));
    log.debug({ id, type, triggers: matched.map((t) => t.name) }, 'event routed');
    // Independent per trigger: one slow or failing subscriber never holds up another.
    for (const trigger of matched) {
      this.track(this.#deliver(trigger, event), (err) =>
        log.error({ err, trigger: trigger.name, id }, 'delivery crashed'),
      );
    }
  }

  async #deliver(trigger: Trigger, event: Envelope): Promise<void> {
    const { log } = this.#opts;
    const { id, type } = event.attributes;
    let url = String(this.#opts.resolveSubscriber(trigger));
    let last: AttemptResult | undefined;
    for (let n = 0; n <= trigger.delivery.retry; n++) {
      if (n > 0 && !(await this.#waitToRetry(trigger, id, n, last))) break;
      if (this.shutdown.signal.aborted) break;
      // Resolved per attempt: a subscriber that restarted on another port is found on retry.
      url = String(this.#opts.resolveSubscriber(trigger));
      const target = url;
      last = await this.#slotFor(trigger)(() =>
        attemptDelivery(trigger, target, event, this.#maxBody, this.shutdown.signal),
      );
      if (last.ok) {
        this.stats.delivered++;
        log.debug({ trigger: trigger.name, id, status: last.status }, 'delivered');
        if (last.reply) this.#reingest(last.reply, event, trigger);
        return;
      }
      if (!last.retryable) break;
    }
    if (this.shutdown.signal.aborted) {
      log.warn({ trigger: trigger.name, id, type }, 'broker closed: delivery abandoned');
      return;
    }
    await this.#deadLetter(trigger, url, event, last);
  }

  /** Waits out the backoff before retry `n`; false when the broker closed meanwhile. */
  async #waitToRetry(trigger: Trigger, id: string | undefined, n: number, last?: AttemptResult) {
    const { delivery } = trigger;
    let wait = backoffMs(delivery.backoffPolicy, delivery.backoffDelayMs, n);
    // Retry-After only counts when the Trigger opts in with retryAfterMax, and never beyond it.
    if (delivery.retryAfterMaxMs !== undefined && last?.retryAfterMs !== undefined) {
      wait = Math.max(wait, Math.min(last.retryAfterMs, delivery.retryAfterMaxMs));
    }
    this.stats.retried++;
    this.#opts.log.warn(
      { trigger: trigger.name, id, attempt: n + 1, waitMs: wait, reason: last?.reason },
      'retrying delivery',
    );
    try {
      await sleep(wait, undefined, { signal: this.shutdown.signal });
      return true;
    } catch {
      return false;
    }
  }

  /** A reply goes back through the broker with the original's TTL minus one (Knative's loop guard). */
  #reingest(reply: Envelope, original: Envelope, trigger: Trigger): void {
    const ttl = (ttlOf(original) ?? DEFAULT_TTL) - 1;
    if (ttl <= 0) {
      this.stats.dropped++;
      const { id, type, source } = reply.attributes;
      this.#opts.log.warn(
        { trigger: trigger.name, id, type, source },
        `reply dropped: ${TTL_EXTENSION} reached 0 (a Trigger loop?)`,
      );
      return;
    }
    this.route(withAttributes(reply, { [TTL_EXTENSION]: String(ttl) }));
  }

  async #deadLetter(trigger: Trigger, url: string, event: Envelope, last: AttemptResult | undefined) {
    const { log, deadLetterFile } = this.#opts;
    this.stats.deadLettered++;
    const { line, lastStatus, reason } = deadLetterLine(trigger, url, event, last);
    const { id, type } = event.attributes;
    log.error(
      { trigger: trigger.name, id, type, lastStatus, reason, file: deadLetterFile },
      'event dead-lettered',
    );
    const write = this.#deadLetterWrites.then(async () => {
      await mkdir(path.dirname(deadLetterFile), { recursive: true });
      await appendFile(deadLetterFile, line);
    });
    this.#deadLetterWrites = write.catch((err: unknown) =>
      log.error(
        { err, line: line.slice(0, 2000) },
        'could not write dead letter; the event is in this log line',
      ),
    );
    await this.#deadLetterWrites;
  }

  async ingress(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { log } = this.#opts;
    const target = parseRequestTarget(req.url);
    if (!target) {
      log.info({ status: 400, target: String(req.url).slice(0, 200) }, 'ingress rejected a request');
      return answer(res, 400, 'invalid request target', { connection: 'close' });
    }
    const { pathname } = target;
    if (pathname !== '/' && !/^\/[^/]+\/[^/]+\/?$/.test(pathname)) return answer(res, 404, 'not found');
    if (req.method !== 'POST')
      return answer(res, 405, 'method not allowed: POST a CloudEvent', { allow: 'POST' });
    let event: Envelope;
    try {
      event = envelopeOf(admit(decodeCloudEvent(req.headers, await readBody(req, this.#maxBody))));
    } catch (err) {
      const e = err as AppError;
      const status = typeof e.status === 'number' ? e.status : 400;
      log.info({ status, reason: e.message }, 'ingress rejected a request');
      // A body refused before its end is dropped, not read on: the connection ends with the answer.
      return answer(
        res,
        status,
        e.publicMessage ?? 'bad request',
        status === 413 ? { connection: 'close' } : {},
      );
    }
    const ttl = ttlOf(event);
    if (ttl !== undefined && ttl <= 0) {
      this.stats.dropped++;
      const { id, type } = event.attributes;
      log.warn({ id, type }, `event dropped at ingress: ${TTL_EXTENSION} is 0`);
      return answer(res, 202, '');
    }
    this.route(ttl === undefined ? withAttributes(event, { [TTL_EXTENSION]: String(DEFAULT_TTL) }) : event);
    answer(res, 202, '');
  }
}

export async function startLocalBroker(opts: LocalBrokerOptions): Promise<LocalBroker> {
  const { log, triggers } = opts;
  const broker = new Broker(opts);
  const server = createServer((req, res) => {
    broker.track(broker.ingress(req, res), (err) => {
      log.error({ err }, 'ingress failed');
      answer(res, 500, 'internal error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  log.info({ url, triggers: triggers.map((t) => t.name) }, 'local broker listening');
  return {
    url,
    stats: broker.stats,
    idle: () => broker.idle(),
    async close() {
      broker.shutdown.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await broker.close();
    },
  };
}
