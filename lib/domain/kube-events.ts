// Kubernetes Events (core/v1 and events.k8s.io/v1, as ApiServerSource delivers them): parsing,
// severity per reason, and the plain one-Event-one-Issue mapping. Storm folding and pod-state
// transitions build on these in lib/stages/ingest/.
import * as z from 'zod';
import { sha256Hex } from '../platform/digest.ts';
import { BadRequestError } from '../platform/errors.ts';
import { own } from '../platform/own.ts';
import { formatZodError } from '../platform/zod.ts';
import { occurrenceId } from './events.ts';
import { fitIssue } from './fit.ts';
import type { Issue, Severity, Subject } from './issue.ts';
import { planFor } from './routing.ts';

const ObjectRef = z.looseObject({
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  fieldPath: z.string().optional(),
});

/** core/v1 Event and events.k8s.io/v1 Event: two views of the same object. */
export const KubeEvent = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Event'),
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.string().optional(),
  }),
  involvedObject: ObjectRef.optional(),
  regarding: ObjectRef.optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  note: z.string().optional(),
  type: z.string().optional(),
  count: z.number().optional(),
  deprecatedCount: z.number().optional(),
  firstTimestamp: z.string().nullish(),
  lastTimestamp: z.string().nullish(),
  eventTime: z.string().nullish(),
  series: z.looseObject({ count: z.number().optional(), lastObservedTime: z.string().optional() }).nullish(),
  source: z.looseObject({ component: z.string().optional(), host: z.string().optional() }).optional(),
  reportingController: z.string().optional(),
});
export type KubeEvent = z.infer<typeof KubeEvent>;

export function parseKubeEvent(data: unknown): KubeEvent {
  const parsed = KubeEvent.safeParse(data);
  if (!parsed.success) throw new BadRequestError(`invalid Kubernetes Event: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

const SEVERITY_BY_REASON: Record<string, Severity> = {
  // Pod-state reasons (lib/stages/ingest/signals.ts), shared with the Events that mean the same.
  CrashLoopBackOff: 'HIGH',
  OOMKilled: 'HIGH',
  ImagePullBackOff: 'LOW',
  OOMKilling: 'HIGH',
  SystemOOM: 'HIGH',
  NodeNotReady: 'HIGH',
  Evicted: 'HIGH',
  ProgressDeadlineExceeded: 'HIGH',
  FailedAttachVolume: 'HIGH',
  BackOff: 'LOW',
  Failed: 'LOW',
  FailedScheduling: 'LOW',
  FailedMount: 'LOW',
  Unhealthy: 'LOW',
  FailedCreate: 'LOW',
  NodeHasDiskPressure: 'HIGH',
  NodeHasInsufficientMemory: 'HIGH',
  FailedKillPod: 'LOW',
  Preempted: 'LOW',
};

export function severityForReason(reason: string | undefined): Severity {
  return (reason && own(SEVERITY_BY_REASON, reason)) || 'LOW';
}

/** The newest time the event was seen, across the fields the two Event APIs use. */
export function lastSeen(e: KubeEvent): string | undefined {
  return (
    e.series?.lastObservedTime ??
    e.lastTimestamp ??
    e.eventTime ??
    e.firstTimestamp ??
    e.metadata.creationTimestamp
  );
}

export function eventCount(e: KubeEvent): number {
  return e.series?.count ?? e.count ?? e.deprecatedCount ?? 1;
}

export interface EventMappingOptions {
  cluster?: string | undefined;
  now?: Date;
  /** Events last seen longer ago than this are old news (a restarted source replays them). */
  maxAgeSeconds?: number;
}

/** Returns the Issue for a Warning Event, or undefined when the event is not worth one. */
export function kubeEventToIssue(e: KubeEvent, opts: EventMappingOptions = {}): Issue | undefined {
  if (e.type !== 'Warning') return undefined;
  const seen = lastSeen(e);
  const now = opts.now ?? new Date();
  if (
    seen &&
    opts.maxAgeSeconds !== undefined &&
    now.getTime() - Date.parse(seen) > opts.maxAgeSeconds * 1000
  ) {
    return undefined;
  }
  const obj = e.regarding ?? e.involvedObject ?? {};
  const reason = e.reason || 'Warning';
  // An empty kind would fail the Issue schema (subject.kind has a minimum length).
  const kind = obj.kind || 'Unknown';
  const subject: Subject = { kind };
  if (obj.name) subject.name = obj.name;
  if (obj.namespace) subject.namespace = obj.namespace;
  if (kind === 'Node' && obj.name) subject.node = obj.name;
  const container = /spec\.(?:initC|c)ontainers\{([^}]+)\}/.exec(obj.fieldPath ?? '')?.[1];
  if (container) subject.container = container;
  // One thread per object and reason: repeats of the same Event (count increments) fold into it.
  const objectKey = obj.uid ?? `${kind}/${obj.namespace ?? ''}/${obj.name ?? ''}`;
  const fingerprint = sha256Hex(`${objectKey}\u0000${reason}`).slice(0, 16);
  const startsAt = new Date(
    Date.parse(e.firstTimestamp ?? e.eventTime ?? seen ?? now.toISOString()),
  ).toISOString();
  const message = e.note ?? e.message ?? '';
  const labels: Record<string, string> = { reason, kind };
  if (obj.namespace) labels.namespace = obj.namespace;
  if (obj.name) labels[kind.toLowerCase()] = obj.name;
  const annotations: Record<string, string> = { count: String(eventCount(e)) };
  if (seen) annotations.lastSeen = seen;
  const host = e.source?.host ?? e.reportingController;
  if (host) annotations.source = host;
  const issue: Issue = {
    id: occurrenceId('event', e.metadata.uid ?? e.metadata.name, e.metadata.resourceVersion ?? ''),
    fingerprint,
    type: 'event',
    source: 'kubernetes',
    title: `${reason}: ${kind} ${[obj.namespace, obj.name].filter(Boolean).join('/')}`.slice(0, 1000),
    severity: severityForReason(reason),
    status: 'firing',
    subject,
    labels,
    annotations,
    links: [],
    startsAt,
    enrichments: [],
    plan: planFor(subject),
  };
  if (message) issue.description = message.slice(0, 20000);
  if (opts.cluster) issue.cluster = opts.cluster;
  // A reason or name past the Issue's caps is cut here, as alert-ingest cuts its labels.
  return fitIssue(issue, 'this Event');
}
