// Stand-ins for the incident services at their HTTP boundary, answering like the real APIs:
// a webhook receiver that checks Standard Webhooks signatures, PagerDuty's Events API v2
// (/v2/enqueue, 202 / 400 "invalid event" / 429) and a Teams Workflows webhook (202, 413 past
// its payload limit, its `sig` query); Jira Cloud's REST v3 is in jira-standin.ts. Each records
// every call and takes injected faults (http-standin.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Answer, json, type Standin, serve, type Tls } from './http-standin.ts';

export type { Call, Fault, Standin, Tls } from './http-standin.ts';
export { adfProblem, type JiraIssue, type JiraStandin, startJiraStandin } from './jira-standin.ts';

// ---- Generic webhook receiver -----------------------------------------------------------------

export interface WebhookEvent {
  id: string;
  type: string;
  subject: string;
  data: { incident: string; status: string; issue: { fingerprint: string; title: string } } & Record<
    string,
    unknown
  >;
}

export interface WebhookStandin extends Standin {
  /** Events accepted, one per webhook-id (a receiver drops a repeated id, as the scheme advises). */
  events: WebhookEvent[];
  /** Deliveries accepted, repeats included. */
  deliveries: number;
}

export async function startWebhookStandin(secret?: string, tls?: Tls): Promise<WebhookStandin> {
  const toleranceSeconds = 300;
  const events: WebhookEvent[] = [];
  const seen = new Set<string>();
  const s = await serve((c) => {
    if (c.method !== 'POST') return { status: 405 };
    const id = String(c.headers['webhook-id'] ?? '');
    const ts = Number(c.headers['webhook-timestamp']);
    if (secret) {
      const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
      const want = createHmac('sha256', key).update(`${id}.${ts}.${c.body}`).digest();
      const given = String(c.headers['webhook-signature'] ?? '')
        .split(' ')
        .filter((p) => p.startsWith('v1,'))
        .map((p) => Buffer.from(p.slice(3), 'base64'));
      const ok = given.some((g) => g.length === want.length && timingSafeEqual(g, want));
      if (!ok || !id || Math.abs(Date.now() / 1000 - ts) > toleranceSeconds)
        return { status: 401, body: { error: 'invalid signature' } };
    }
    const ct = String(c.headers['content-type'] ?? '');
    const e = json(c) as WebhookEvent | undefined;
    if (!ct.startsWith('application/cloudevents+json') || !e || e.id !== id)
      return { status: 400, body: { error: 'not a structured CloudEvent' } };
    ws.deliveries += 1;
    if (!seen.has(id)) {
      seen.add(id);
      events.push(e);
    }
    return { status: 204 };
  }, tls);
  const ws: WebhookStandin = Object.assign(s, { events, deliveries: 0 });
  return ws;
}

// ---- PagerDuty Events API v2 ------------------------------------------------------------------

export interface PdAlert {
  dedupKey: string;
  status: 'triggered' | 'resolved';
  /** Incidents opened under this key: a trigger after a resolve opens a new one. */
  incidents: number;
  /** Trigger events PagerDuty deduplicated into the open alert. */
  deduplicated: number;
  summary: string;
  severity: string;
  customDetails: Record<string, unknown>;
  links: Array<{ href: string; text?: string }>;
}

export interface PagerDutyStandin extends Standin {
  alerts: Map<string, PdAlert>;
  /** Resolves for keys with no alert (a resolution that arrived before its firing). */
  orphanResolves: Set<string>;
}

const invalid = (errors: string[]): Answer => ({
  status: 400,
  body: { status: 'invalid event', message: 'Event object is invalid', errors },
});

export async function startPagerDutyStandin(routingKey: string, tls?: Tls): Promise<PagerDutyStandin> {
  const alerts = new Map<string, PdAlert>();
  const orphanResolves = new Set<string>();
  const s = await serve((c) => {
    if (c.path !== '/v2/enqueue' || c.method !== 'POST') return { status: 404 };
    const e = json(c);
    if (!e)
      return {
        status: 400,
        body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid JSON'] },
      };
    if (e.routing_key !== routingKey) return invalid(["'routing_key' is invalid"]);
    const key = e.dedup_key;
    if (typeof key !== 'string' || key.length === 0 || key.length > 255)
      return invalid(["'dedup_key' is invalid"]);
    const action = e.event_action;
    if (action === 'trigger') {
      const p = e.payload as Record<string, unknown> | undefined;
      const errors: string[] = [];
      if (typeof p?.summary !== 'string' || !p.summary || p.summary.length > 1024)
        errors.push("'payload.summary' is missing or blank");
      if (typeof p?.source !== 'string' || !p.source) errors.push("'payload.source' is missing or blank");
      if (!['critical', 'error', 'warning', 'info'].includes(p?.severity as string))
        errors.push("'payload.severity' is invalid");
      if (errors.length) return invalid(errors);
      const old = alerts.get(key);
      if (old?.status === 'triggered') old.deduplicated += 1;
      alerts.set(key, {
        dedupKey: key,
        status: 'triggered',
        incidents: (old?.incidents ?? 0) + (old?.status === 'triggered' ? 0 : 1),
        deduplicated: old?.deduplicated ?? 0,
        summary: p?.summary as string,
        severity: p?.severity as string,
        customDetails: (p?.custom_details ?? {}) as Record<string, unknown>,
        links: (e.links ?? []) as PdAlert['links'],
      });
    } else if (action === 'resolve' || action === 'acknowledge') {
      const a = alerts.get(key);
      if (a && action === 'resolve') a.status = 'resolved';
      // PagerDuty accepts a resolve for a key it has no alert for, and does nothing.
      if (!a) orphanResolves.add(key);
    } else return invalid(["'event_action' is invalid"]);
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: key } };
  }, tls);
  return Object.assign(s, { alerts, orphanResolves });
}

// ---- Teams Workflows webhook ------------------------------------------------------------------

export const TEAMS_MAX_BYTES = 28 * 1024;

export interface TeamsCard {
  /** The card's `body` as posted. */
  body: Array<Record<string, unknown>>;
  bytes: number;
  text: string;
}

export interface TeamsStandin extends Standin {
  /** The webhook URL with its signature, as Power Automate gives it. */
  webhookUrl: string;
  cards: TeamsCard[];
}

export async function startTeamsStandin(tls?: Tls): Promise<TeamsStandin> {
  const sig = 'wF9kQ2standinSignature0x1';
  const path = '/workflows/0a1b2c3d/triggers/manual/paths/invoke';
  const cards: TeamsCard[] = [];
  const s = await serve((c, url) => {
    if (c.path !== path)
      return {
        status: 404,
        body: { error: { code: 'WorkflowNotFound', message: 'The workflow was not found.' } },
      };
    if (url.searchParams.get('sig') !== sig)
      return {
        status: 401,
        body: {
          error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated.' },
        },
      };
    const bytes = Buffer.byteLength(c.body);
    if (bytes > TEAMS_MAX_BYTES)
      return {
        status: 413,
        body: {
          error: {
            code: 'RequestEntityTooLarge',
            message: `The request content length ${bytes} exceeds the maximum allowed.`,
          },
        },
      };
    const m = json(c) as
      | { type?: string; attachments?: Array<{ contentType?: string; content?: Record<string, unknown> }> }
      | undefined;
    const card = m?.attachments?.[0];
    if (
      m?.type !== 'message' ||
      card?.contentType !== 'application/vnd.microsoft.card.adaptive' ||
      card.content?.type !== 'AdaptiveCard' ||
      !Array.isArray(card.content.body)
    )
      return {
        status: 400,
        body: {
          error: {
            code: 'InvalidRequestContent',
            message: 'The input body for trigger is not a valid Adaptive Card message.',
          },
        },
      };
    cards.push({
      body: card.content.body as TeamsCard['body'],
      bytes,
      text: JSON.stringify(card.content.body),
    });
    return { status: 202 };
  }, tls);
  return Object.assign(s, {
    webhookUrl: `${s.url}${path}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`,
    cards,
  });
}
