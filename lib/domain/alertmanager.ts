// Alertmanager webhook (payload version 4) to Issues. Unknown fields are accepted: newer
// Alertmanager versions add them, and rejecting them would lose alerts.
import * as z from 'zod';
import { sha256Hex } from '../platform/digest.ts';
import { BadRequestError } from '../platform/errors.ts';
import { formatZodError } from '../platform/zod.ts';
import { occurrenceId } from './events.ts';
import { type Cut, cutMap, cutReport, cutText } from './fit.ts';
import {
  ISSUE_LIMITS,
  type Issue,
  type Link,
  type Stage,
  type Subject,
  severityFromLabel,
  Timestamp,
} from './issue.ts';
import { planFor } from './routing.ts';

const labelMap = z.record(z.string(), z.string());
// Alertmanager sends "0001-01-01T00:00:00Z" for a firing alert's endsAt: a zero time, not an end.
const ZERO_TIME = /^0001-01-01T00:00:00/;

/**
 * A time every later stage can hold: RFC 3339 (the Issue's Timestamp) whose instant, written in
 * UTC, still has a 4-digit year. Anything else is a 400 for the whole webhook rather than clamped:
 * Alertmanager cannot send it (Go's time.Time refuses to marshal a year outside 0000-9999, and
 * writes RFC 3339 only), so such a sender is not Alertmanager and gets an error it can read,
 * where a clamped date would put a made-up time on an alert. Before this check, a `startsAt` of
 * year +099999 was answered 200 and then refused by dispatch-slack.
 */
function representable(s: string): boolean {
  if (!Timestamp.safeParse(s).success) return false;
  const ms = Date.parse(s);
  return !Number.isNaN(ms) && Timestamp.safeParse(new Date(ms).toISOString()).success;
}
const timestamp = z.string().refine((s) => ZERO_TIME.test(s) || representable(s), {
  message: 'not an RFC 3339 timestamp with a year from 0000 to 9999',
});

export const AlertmanagerAlert = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: labelMap,
  annotations: labelMap.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
});
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlert>;

export const AlertmanagerWebhook = z.looseObject({
  version: z.string().optional(),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  groupLabels: labelMap.optional(),
  commonLabels: labelMap.optional(),
  commonAnnotations: labelMap.optional(),
  externalURL: z.string().optional(),
  alerts: z.array(AlertmanagerAlert),
});
export type AlertmanagerWebhook = z.infer<typeof AlertmanagerWebhook>;

export function parseWebhook(body: unknown): AlertmanagerWebhook {
  const parsed = AlertmanagerWebhook.safeParse(body);
  if (!parsed.success)
    throw new BadRequestError(`invalid Alertmanager payload: ${formatZodError(parsed.error)}`);
  if (parsed.data.version !== undefined && parsed.data.version !== '4') {
    throw new BadRequestError(
      `unsupported Alertmanager payload version "${parsed.data.version}" (expected "4")`,
    );
  }
  return parsed.data;
}

/** Alertmanager's own fingerprint when sent, else a stable hash of the sorted label set. */
export function alertFingerprint(alert: AlertmanagerAlert): string {
  if (alert.fingerprint && alert.fingerprint.length <= 200) return alert.fingerprint;
  if (alert.fingerprint) return sha256Hex(alert.fingerprint).slice(0, 32);
  let text = '';
  for (const k of Object.keys(alert.labels).sort()) text += `${k}\u0000${alert.labels[k]}\u0000`;
  return sha256Hex(text).slice(0, 16);
}

// Workload labels as kube-state-metrics and kube-prometheus rules set them. `job` is the
// Prometheus scrape job, not a Kubernetes Job: kube-state-metrics uses `job_name` for that.
const WORKLOAD_LABELS: ReadonlyArray<[label: string, kind: string]> = [
  ['deployment', 'Deployment'],
  ['statefulset', 'StatefulSet'],
  ['daemonset', 'DaemonSet'],
  ['replicaset', 'ReplicaSet'],
  ['job_name', 'Job'],
  ['cronjob', 'CronJob'],
  ['horizontalpodautoscaler', 'HorizontalPodAutoscaler'],
  ['persistentvolumeclaim', 'PersistentVolumeClaim'],
];

/** Strips a `:port` from an `instance` label, keeping IPv6 brackets intact. */
function hostOf(instance: string): string {
  const m = /^\[?([^\]]+?)\]?(?::\d+)?$/.exec(instance);
  return m?.[1] ?? instance;
}

/**
 * Cuts to a length without splitting a surrogate pair, and replaces lone surrogates (valid in
 * JSON, invalid in URLs): alert data never makes a mapped Issue invalid or a link throw.
 */
export function cap(value: string, max: number): string {
  const s = value.toWellFormed();
  if (s.length <= max) return s;
  return s
    .slice(0, max)
    .toWellFormed()
    .replace(/\uFFFD$/, '');
}
const capped = (v: string | undefined, max: number) => (v ? cap(v, max) : undefined);

/** Infers what the alert is about from its labels: the narrowest object that is named. */
export function inferSubject(labels: Record<string, string>): Subject {
  const namespace = capped(labels.namespace || labels.exported_namespace, 63);
  const node = capped(labels.node, 253);
  const container = capped(labels.container, 253);
  const base = (kind: string, rawName: string | undefined): Subject => {
    const s: Subject = { kind };
    const name = capped(rawName, 253);
    if (name) s.name = name;
    if (namespace) s.namespace = namespace;
    if (node) s.node = node;
    if (container) s.container = container;
    return s;
  };
  const pod = labels.pod || labels.exported_pod;
  if (pod) return base('Pod', pod);
  for (const [label, kind] of WORKLOAD_LABELS) {
    if (labels[label]) return base(kind, labels[label]);
  }
  if (node) return { kind: 'Node', name: node };
  // Node-exporter alerts name the node only through `instance` (host:port).
  const alertname = labels.alertname ?? '';
  if (labels.instance && /^(Node|KubeNode|Kubelet)/.test(alertname)) {
    return { kind: 'Node', name: cap(hostOf(labels.instance), 253) };
  }
  if (namespace) return base('Namespace', namespace);
  return { kind: 'Cluster' };
}

function silenceMatcherValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** Alertmanager UI link that opens "new silence" pre-filled with this alert's labels. */
export function silenceLink(externalURL: string, labels: Record<string, string>): string {
  const base = `${externalURL.replace(/\/+$/, '')}/#/silences/new?filter=`;
  const link = (keys: string[]) => {
    const matchers = keys.map(
      (k) => `${k.toWellFormed()}="${silenceMatcherValue((labels[k] ?? '').toWellFormed())}"`,
    );
    return `${base}${encodeURIComponent(`{${matchers.join(',')}}`)}`;
  };
  const all = link(Object.keys(labels).sort());
  if (all.length <= MAX_LINK) return all;
  // Too long for a link: the identifying labels still pre-fill a precise enough silence.
  return link(
    ['alertname', 'namespace', 'pod', 'container', 'node'].filter(
      (k) => labels[k] !== undefined && labels[k].length < 200,
    ),
  );
}

const MAX_LINK = 4000;

const isHttpUrl = (u: string | undefined): u is string =>
  !!u && /^https?:\/\//i.test(u) && u.length <= MAX_LINK;

function linksFor(alert: AlertmanagerAlert, externalURL: string | undefined): Link[] {
  const links: Link[] = [];
  if (isHttpUrl(alert.generatorURL)) links.push({ type: 'graph', title: 'Graph', url: alert.generatorURL });
  const runbook = alert.annotations.runbook_url ?? alert.annotations.runbook;
  if (isHttpUrl(runbook)) links.push({ type: 'runbook', title: 'Runbook', url: runbook });
  if (isHttpUrl(externalURL))
    links.push({ type: 'silence', title: 'Silence', url: silenceLink(externalURL, alert.labels) });
  return links;
}

export interface MappingOptions {
  /** CLUSTER_NAME; a `cluster` label on the alert wins, since federated setups set it. */
  cluster?: string | undefined;
  /** ALERTMANAGER_URL: used for silence links when the payload has no externalURL. */
  alertmanagerUrl?: string | undefined;
  /** Decides which stages this issue goes through after ingest. */
  plan?: (issue: Omit<Issue, 'plan'>) => Stage[];
}

/**
 * Default plan: pods and workloads visit enrich-pod, nodes enrich-node, the rest go straight to
 * dispatch. A resolution needs no fresh diagnosis: it only edits the thread its firing started.
 */
export function defaultPlan(issue: Pick<Issue, 'subject' | 'status'>): Stage[] {
  return issue.status === 'resolved' ? ['dispatch'] : planFor(issue.subject);
}

function toIso(ts: string | undefined): string | undefined {
  if (ts === undefined || ZERO_TIME.test(ts)) return undefined;
  return new Date(Date.parse(ts)).toISOString();
}

export function alertToIssue(
  alert: AlertmanagerAlert,
  payload: AlertmanagerWebhook,
  opts: MappingOptions = {},
): Issue {
  const fingerprint = alertFingerprint(alert);
  const startsAt = toIso(alert.startsAt) ?? new Date().toISOString();
  const endsAt = alert.status === 'resolved' ? (toIso(alert.endsAt) ?? new Date().toISOString()) : undefined;
  const alertname = alert.labels.alertname ?? 'Alert';
  const description = alert.annotations.description ?? alert.annotations.message;
  const cluster = capped(alert.labels.cluster || opts.cluster, 200);
  // Values over the Issue's caps are cut here, with a marker, and kept whole in a file (lib/domain/fit.ts).
  const cuts: Cut[] = [];
  const labels = cutMap(alert.labels, 'labels', cuts);
  const annotations = cutMap(alert.annotations, 'annotations', cuts);
  const report = cutReport(cuts);
  const base: Omit<Issue, 'plan'> = {
    // A repeat of the same firing (same startsAt) or the same resolution keeps its id.
    id: occurrenceId('alert', fingerprint, alert.status, startsAt, endsAt ?? ''),
    fingerprint,
    type: 'alert',
    source: 'prometheus',
    title: cutText((alert.annotations.summary || alertname).toWellFormed(), ISSUE_LIMITS.title, 'title'),
    severity: severityFromLabel(alert.labels.severity),
    status: alert.status,
    subject: inferSubject(alert.labels),
    labels,
    annotations,
    links: linksFor(alert, payload.externalURL || opts.alertmanagerUrl),
    startsAt,
    enrichments: report ? [report] : [],
  };
  if (description)
    base.description = cutText(description.toWellFormed(), ISSUE_LIMITS.description, 'description');
  if (cluster) base.cluster = cluster;
  if (endsAt) base.endsAt = endsAt;
  return { ...base, plan: (opts.plan ?? defaultPlan)(base) };
}
