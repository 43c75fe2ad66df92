// CloudEvent types the agent emits and the extension attributes Knative Triggers filter on.
// Users subscribe their own functions to these; each type's `data` has a published JSON Schema.
import { CloudEvent } from 'cloudevents';
import * as z from 'zod';
import { encodeAttributeHeaders } from '../platform/cloudevents/encode.ts';
import { sha256Hex } from '../platform/digest.ts';
import { BadRequestError } from '../platform/errors.ts';
import type { BinaryEvent } from '../platform/runtime/sink.ts';
import { formatZodError } from '../platform/zod.ts';
import { fitIssue } from './fit.ts';
import { ISSUE_LIMITS, Issue, type Stage } from './issue.ts';

export const TYPE_PREFIX = 'dev.kubeincident';

export const EventTypes = {
  /** A new Issue, straight from an ingest function (alert-ingest, k8s-event-ingest). */
  issueCreated: `${TYPE_PREFIX}.issue.created.v1`,
  /** An Issue after an enricher added its findings. */
  issueEnriched: `${TYPE_PREFIX}.issue.enriched.v1`,
  /** An Issue delivered to a destination (Slack channel or terminal). */
  notificationSent: `${TYPE_PREFIX}.notification.sent.v1`,
} as const;

/**
 * Extension attributes stamped on every issue event. Names follow the CloudEvents rules
 * ([a-z0-9], <= 20 chars) and Knative's filter key pattern, so Triggers can match on them.
 */
export interface IssueExtensions {
  /** The stage that should act next: enrichpod | enrichnode | workflows | dispatch. */
  nextstage: Stage | 'done';
  issuesource: string;
  issuetype: string;
  issuestatus: string;
  severity: string;
  subjectkind: string;
  /** Kafka brokers order deliveries per partition key: one issue's events stay in order. */
  partitionkey: string;
  [key: string]: string;
}

export function issueExtensions(issue: Issue): IssueExtensions {
  return {
    nextstage: issue.plan[0] ?? 'done',
    issuesource: issue.source,
    issuetype: issue.type,
    issuestatus: issue.status,
    severity: issue.severity.toLowerCase(),
    subjectkind: issue.subject.kind.toLowerCase(),
    partitionkey: issue.fingerprint,
  };
}

/** A deterministic id: a redelivered or re-sent occurrence keeps its id (dedupe on source + id). */
export function occurrenceId(...parts: string[]): string {
  return sha256Hex(parts.join('\u0000')).slice(0, 32);
}

export const NotificationSent = z.object({
  issueId: z.string(),
  fingerprint: z.string(),
  status: z.enum(['firing', 'resolved']),
  /** One entry per destination the routes chose, each with its own thread. */
  deliveries: z.array(
    z.object({
      destination: z.string(),
      channel: z.string(),
      /** Slack `ts` of the thread's root message. */
      threadTs: z.string(),
      action: z.enum(['posted', 'updated', 'replied', 'unchanged']),
    }),
  ),
});
export type NotificationSent = z.infer<typeof NotificationSent>;

/**
 * A dispatch function's reply once it delivered an issue: one notification.sent event naming each
 * destination's thread, or none when nothing was routed to it. No Trigger of ours matches
 * `nextstage: done`; users subscribe their own functions to this type. `idPart` names the
 * function, so two destination functions replying for one issue give two ids.
 */
export function notificationSentEvent(
  issue: Issue,
  deliveries: NotificationSent['deliveries'],
  reply: { source: string; idPart: string; traceparent: string },
): CloudEvent<NotificationSent> | undefined {
  if (deliveries.length === 0) return undefined;
  return new CloudEvent<NotificationSent>({
    id: occurrenceId(issue.id, reply.idPart),
    type: EventTypes.notificationSent,
    source: reply.source,
    subject: issue.fingerprint,
    datacontenttype: 'application/json',
    data: { issueId: issue.id, fingerprint: issue.fingerprint, status: issue.status, deliveries },
    traceparent: reply.traceparent,
    partitionkey: issue.fingerprint,
    nextstage: 'done',
  });
}

/**
 * The CloudEvent for an Issue, with the extensions Triggers route on. Ids are deterministic
 * (the occurrence id, plus the stage that produced it), so a redelivered input yields the
 * same output event and consumers can dedupe on source + id.
 */
export function issueEvent(
  issue: Issue,
  source: string,
  traceparent: string,
  producedBy?: Stage,
): CloudEvent<Issue> {
  return new CloudEvent<Issue>({
    specversion: '1.0',
    id: producedBy ? occurrenceId(issue.id, producedBy) : issue.id,
    type: producedBy ? EventTypes.issueEnriched : EventTypes.issueCreated,
    source,
    subject: issueSubject(issue),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: issue,
    traceparent,
    ...issueExtensions(issue),
  });
}

const issueSubject = (issue: Issue) =>
  [issue.subject.kind, issue.subject.namespace, issue.subject.name].filter(Boolean).join('/');

/**
 * The binary-mode HTTP message of `issueEvent(issue, source, traceparent)` (a new Issue from an
 * ingest): the headers and body `binaryMessage` (lib/platform/cloudevents/encode.ts) gives for that
 * CloudEvent (the body as its UTF-8 bytes when it is not all ASCII), written directly. No
 * CloudEvent instance and no schema validation per event: every attribute is valid by
 * construction (test/events-message.test.ts holds the two equal). alert-ingest sends one per
 * alert, and the class and its validator were a tenth of its CPU per alert.
 */
export function issueEventMessage(issue: Issue, source: string, traceparent: string): BinaryEvent {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-id': issue.id,
    'ce-time': new Date().toISOString(),
    'ce-type': EventTypes.issueCreated,
    'ce-source': source,
    'ce-specversion': '1.0',
    'ce-subject': issueSubject(issue),
    'ce-traceparent': traceparent,
  };
  const ext = issueExtensions(issue);
  for (const k in ext) headers[`ce-${k}`] = ext[k] as string;
  // Labels reach ce-subject and ce-partitionkey: any script, emoji or control character.
  encodeAttributeHeaders(headers);
  const json = JSON.stringify(issue);
  // Text past ASCII (an explanation's ’, a label in another script) can make V8 hold the whole
  // JSON in two bytes per character, and every later pass over it (the UTF-8 length, the join
  // with the request head, the socket write's encoding) takes that slow path: encoded once here,
  // it goes out as bytes. ASCII-only JSON stays a string written as is.
  return { headers, body: Buffer.byteLength(json) === json.length ? json : Buffer.from(json, 'utf8') };
}

/**
 * issueEventMessage for an issue fresh from ingest, within ISSUE_LIMITS.ingestBytes: an issue
 * over it is fitted (lib/domain/fit.ts: the cut report's file shortened) or refused with a 400 naming
 * `where`. The size is read off the body already serialized, so the usual issue pays nothing.
 */
export function ingestEventMessage(
  issue: Issue,
  where: string,
  source: string,
  traceparent: string,
): BinaryEvent {
  const message = issueEventMessage(issue, source, traceparent);
  // A string body is ASCII (issueEventMessage), so its length is its size in bytes either way.
  if (message.body.length <= ISSUE_LIMITS.ingestBytes) return message;
  return issueEventMessage(fitIssue(issue, where), source, traceparent);
}

/** Parses a JSON event payload that may arrive as a string or bytes: a clear 400 when it is not JSON. */
export function eventJson(data: unknown): unknown {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) return data;
  try {
    return JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch {
    throw new BadRequestError('event data is not valid JSON');
  }
}

/** Parses an issue event's data at the boundary: a clear 400 for anything malformed. */
export function parseIssueData(data: unknown): Issue {
  const parsed = Issue.safeParse(eventJson(data));
  if (!parsed.success) throw new BadRequestError(`invalid issue: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

/** `path.to[0].field: problem; ...`, short enough for a log line and a 400 body. */
/** JSON Schemas of each event type's `data`, generated from the zod schemas. */
export function eventDataSchemas(): Record<string, unknown> {
  return {
    [EventTypes.issueCreated]: z.toJSONSchema(Issue, { io: 'output', unrepresentable: 'any' }),
    [EventTypes.issueEnriched]: z.toJSONSchema(Issue, { io: 'output', unrepresentable: 'any' }),
    [EventTypes.notificationSent]: z.toJSONSchema(NotificationSent, { io: 'output' }),
  };
}
