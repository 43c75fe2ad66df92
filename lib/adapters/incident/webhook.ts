// The generic webhook: each change of an incident is POSTed as a structured CloudEvent
// (application/cloudevents+json), signed as Standard Webhooks sign: `webhook-id`,
// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
// The webhook id is derived from the incident and the step, so a retry of the same change
// carries the same id and the receiver can drop it as a duplicate (the scheme's own advice).
import { createHmac } from 'node:crypto';
import type { RootView, StatusReplyKind } from '../../domain/destination.ts';
import { occurrenceId, TYPE_PREFIX } from '../../domain/events.ts';
import { call } from '../http/client.ts';
import type { IncidentService } from './destination.ts';

export const WEBHOOK_EVENT_TYPES = {
  firing: `${TYPE_PREFIX}.incident.firing.v1`,
  resolved: `${TYPE_PREFIX}.incident.resolved.v1`,
  refired: `${TYPE_PREFIX}.incident.refired.v1`,
} as const;

export interface WebhookOptions {
  /** The destination's name (state keys, the event's data). */
  name: string;
  url: string;
  /** The shared secret: `whsec_<base64>`, or any other string taken as its UTF-8 bytes. Unset: unsigned. */
  secret?: string | undefined;
  headers: Record<string, string>;
  /** The CloudEvent `source`. */
  source: string;
  timeoutMs: number;
  now?: () => Date;
}

/** The HMAC key a Standard Webhooks secret stands for. */
export function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

/** `v1,<signature>` for one message, as a receiver recomputes it. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export class WebhookService implements IncidentService {
  readonly id: string;
  readonly #o: WebhookOptions;

  constructor(o: WebhookOptions) {
    this.id = `webhook:${o.name}`;
    this.#o = o;
  }

  async open(view: RootView): Promise<string> {
    // Its retries share the id; an incident opened resolved (its state lost) gets its own.
    const id = occurrenceId(this.id, view.issue.fingerprint, view.firingSince, 'open', view.status);
    // A resolution that arrives before its firing opens the incident already resolved.
    await this.#post(id, view.status === 'resolved' ? 'resolved' : 'firing', view, id);
    return id;
  }

  async status(key: string, view: RootView, kind: StatusReplyKind, step: string): Promise<void> {
    await this.#post(occurrenceId(this.id, view.issue.fingerprint, step), kind, view, key);
  }

  async #post(
    id: string,
    kind: keyof typeof WEBHOOK_EVENT_TYPES,
    view: RootView,
    incident: string,
  ): Promise<void> {
    const now = (this.#o.now ?? (() => new Date()))();
    const { issue } = view;
    const event = {
      specversion: '1.0',
      id,
      source: this.#o.source,
      type: WEBHOOK_EVENT_TYPES[kind],
      subject: issue.fingerprint,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      partitionkey: issue.fingerprint,
      data: {
        destination: this.#o.name,
        incident,
        status: view.status,
        firingSince: view.firingSince,
        ...(view.resolvedAt ? { resolvedAt: view.resolvedAt } : {}),
        firingCount: view.firingCount,
        verdicts: view.verdicts,
        issue,
      },
    };
    const body = JSON.stringify(event);
    const timestamp = Math.floor(now.getTime() / 1000);
    const headers: Record<string, string> = {
      ...this.#o.headers,
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
    };
    if (this.#o.secret) headers['webhook-signature'] = sign(this.#o.secret, id, timestamp, body);
    await call(`webhook ${this.#o.name}`, {
      method: 'POST',
      url: this.#o.url,
      headers,
      body,
      timeoutMs: this.#o.timeoutMs,
    });
  }
}
