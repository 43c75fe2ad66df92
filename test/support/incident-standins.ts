// Stand-ins for the incident services at their HTTP boundary, answering like the real APIs:
// a webhook receiver that checks Standard Webhooks signatures, PagerDuty's Events API v2
// (/v2/enqueue, 202 / 400 "invalid event" / 429), a Teams Workflows webhook (202, 413 past its
// payload limit, its `sig` query), and Jira Cloud's REST v3 (basic auth, ADF validation,
// transitions, attachments with the XSRF header). Each records every call and takes injected
// faults (a status with Retry-After, a delay) for the next calls of a path.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Call {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A status (with Retry-After), or a hold: the answer comes `delayMs` late. A held request whose
 * client went away meanwhile (a timeout, the function killed) is applied anyway, as a server
 * that read the whole body would, unless `dropIfGone` models the request never completing.
 */
export type Fault =
  | { status: number; retryAfter?: number; body?: string }
  | { delayMs: number; dropIfGone?: boolean };

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Standin {
  url: string;
  calls: Call[];
  /** Requests held by a delay fault right now. */
  held(): number;
  /** Applies `fault` to the next `times` calls whose path starts with `path` ('*': any). */
  injectFault(path: string, fault: Fault, times?: number): void;
  close(): Promise<void>;
}

/** Serve https with this key and certificate, as the real services do (the client must trust its CA). */
export interface Tls {
  key: string;
  cert: string;
}

async function serve(handler: (c: Call, url: URL) => Answer | Promise<Answer>, tls?: Tls): Promise<Standin> {
  const calls: Call[] = [];
  let held = 0;
  const faults: Array<{ path: string; fault: Fault; left: number }> = [];
  const take = (path: string): Fault | undefined => {
    const i = faults.findIndex((f) => f.path === '*' || path.startsWith(f.path));
    if (i === -1) return undefined;
    const f = faults[i] as { fault: Fault; left: number };
    if (--f.left <= 0) faults.splice(i, 1);
    return f.fault;
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const call: Call = {
        method: req.method ?? 'GET',
        path: url.pathname,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const fault = take(url.pathname);
      let answer: Answer;
      if (fault && 'delayMs' in fault) {
        held += 1;
        await new Promise((r) => setTimeout(r, fault.delayMs));
        held -= 1;
        if (fault.dropIfGone && res.destroyed) return;
      }
      if (fault && 'status' in fault) {
        answer = {
          status: fault.status,
          headers: fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) },
          body:
            fault.body ??
            (fault.status === 429 ? { message: 'Too Many Requests' } : { message: 'upstream error' }),
        };
      } else {
        calls.push(call);
        answer = await handler(call, url);
      }
      if (res.destroyed) return;
      const body =
        answer.body === undefined
          ? ''
          : typeof answer.body === 'string'
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        ...(body && typeof answer.body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...answer.headers,
      });
      res.end(body);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    calls,
    held: () => held,
    injectFault: (path, fault, times = 1) => faults.push({ path, fault, left: times }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (c: Call): Record<string, unknown> | undefined => {
  try {
    const v = JSON.parse(c.body) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};

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

// ---- Jira Cloud REST v3 -----------------------------------------------------------------------

export interface JiraIssue {
  key: string;
  fields: Record<string, unknown>;
  status: string;
  comments: unknown[];
  attachments: string[];
}

export interface JiraStandin extends Standin {
  issues: Map<string, JiraIssue>;
  email: string;
  token: string;
}

const BLOCKS = new Set(['paragraph', 'heading', 'bulletList', 'codeBlock']);
const MARKS = new Set(['link', 'strong', 'em', 'code']);

/** Why Jira would refuse this ADF document, or undefined. */
export function adfProblem(node: unknown, parent = 'root'): string | undefined {
  const n = node as Record<string, unknown>;
  if (typeof n !== 'object' || n === null || typeof n.type !== 'string') return `${parent}: not a node`;
  const kids = (n.content ?? []) as unknown[];
  if (!Array.isArray(kids)) return `${n.type}: content is not an array`;
  const check = (allowed: (t: string) => boolean) => {
    for (const k of kids) {
      const t = (k as { type?: string })?.type ?? '?';
      if (!allowed(t)) return `${n.type} cannot hold ${t}`;
      const p = adfProblem(k, n.type as string);
      if (p) return p;
    }
    return undefined;
  };
  switch (n.type) {
    case 'doc':
      if (parent !== 'root' || n.version !== 1) return 'doc: version must be 1 at the root';
      return check((t) => BLOCKS.has(t));
    case 'paragraph':
      return check((t) => t === 'text');
    case 'heading': {
      const level = (n.attrs as { level?: number } | undefined)?.level;
      if (!level || level < 1 || level > 6) return 'heading: level must be 1-6';
      return check((t) => t === 'text');
    }
    case 'bulletList':
      if (kids.length === 0) return 'bulletList: must hold at least one listItem';
      return check((t) => t === 'listItem');
    case 'listItem':
      if (kids.length === 0) return 'listItem: must hold content';
      return check((t) => t === 'paragraph' || t === 'bulletList' || t === 'codeBlock');
    case 'codeBlock':
      for (const k of kids) if ((k as { marks?: unknown }).marks) return 'codeBlock: text cannot carry marks';
      return check((t) => t === 'text');
    case 'text': {
      if (typeof n.text !== 'string' || n.text.length === 0) return 'text: must not be empty';
      for (const m of (n.marks ?? []) as Array<{ type?: string; attrs?: { href?: unknown } }>) {
        if (!MARKS.has(m.type ?? '')) return `text: unknown mark ${m.type}`;
        if (m.type === 'link' && typeof m.attrs?.href !== 'string') return 'link: href required';
      }
      return undefined;
    }
    default:
      return `unknown node type ${n.type}`;
  }
}

const jiraError = (status: number, errors: Record<string, string>, errorMessages: string[] = []): Answer => ({
  status,
  body: { errorMessages, errors },
});

const STATUSES = ['To Do', 'In Progress', 'Done'];

export async function startJiraStandin(project = 'OPS', tls?: Tls): Promise<JiraStandin> {
  const email = 'oncall@example.com';
  const token = 'ATATT3xFfGF0standinJiraToken';
  const issues = new Map<string, JiraIssue>();
  let next = 1;
  const s = await serve((c) => {
    const auth = `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`;
    if (c.headers.authorization !== auth)
      return {
        status: 401,
        body: { errorMessages: ['Client must be authenticated to access this resource.'], errors: {} },
      };
    if (c.method === 'POST' && c.path === '/rest/api/3/issue') {
      const f = (json(c)?.fields ?? {}) as Record<string, unknown>;
      const errors: Record<string, string> = {};
      if ((f.project as { key?: string })?.key !== project) errors.project = 'valid project is required';
      if (!(f.issuetype as { name?: string })?.name) errors.issuetype = 'Specify an issue type';
      if (typeof f.summary !== 'string' || !f.summary)
        errors.summary = 'You must specify a summary of the issue.';
      else if (f.summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
      if (f.description !== undefined && adfProblem(f.description))
        errors.description =
          'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
      if (Object.keys(errors).length) return jiraError(400, errors);
      const key = `${project}-${next++}`;
      issues.set(key, { key, fields: f, status: 'To Do', comments: [], attachments: [] });
      return {
        status: 201,
        body: { id: String(10000 + next), key, self: `${s.url}/rest/api/3/issue/${key}` },
      };
    }
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(?:\/(comment|transitions|attachments))?$/.exec(c.path);
    const issue = m ? issues.get(decodeURIComponent(m[1] as string)) : undefined;
    if (!m || !issue)
      return jiraError(404, {}, ['Issue does not exist or you do not have permission to see it.']);
    switch (`${c.method} ${m[2] ?? ''}`) {
      case 'GET ':
        return { status: 200, body: { key: issue.key, fields: { status: { name: issue.status } } } };
      case 'POST comment': {
        const body = json(c)?.body;
        if (adfProblem(body)) return jiraError(400, { comment: 'Comment body is not valid ADF.' });
        issue.comments.push(body);
        return { status: 201, body: { id: String(issue.comments.length) } };
      }
      case 'GET transitions':
        return {
          status: 200,
          body: {
            transitions: STATUSES.filter((st) => st !== issue.status).map((st) => ({
              id: String(11 + STATUSES.indexOf(st) * 10),
              name: st,
              to: { name: st },
            })),
          },
        };
      case 'POST transitions': {
        const id = (json(c)?.transition as { id?: string })?.id;
        const to = STATUSES.find(
          (st) => String(11 + STATUSES.indexOf(st) * 10) === id && st !== issue.status,
        );
        if (!to) return jiraError(400, {}, [`Transition id '${id}' is not valid for this issue.`]);
        issue.status = to;
        return { status: 204 };
      }
      case 'POST attachments': {
        if (c.headers['x-atlassian-token'] !== 'no-check') return { status: 403, body: 'XSRF check failed' };
        const names = [...c.body.matchAll(/filename="([^"]+)"/g)].map((x) => x[1] as string);
        if (!String(c.headers['content-type']).startsWith('multipart/form-data') || names.length === 0)
          return jiraError(415, {}, ['The request must be multipart/form-data with a file.']);
        issue.attachments.push(...names);
        return { status: 200, body: names.map((filename, i) => ({ id: String(i + 1), filename })) };
      }
      default:
        return { status: 405 };
    }
  }, tls);
  return Object.assign(s, { issues, email, token });
}
