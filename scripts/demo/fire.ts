// What the demo sends into the running pipeline: Alertmanager webhooks for the recorded cluster's
// troubles (through alert-ingest's real HTTP path, as `npm run sample-alert` does) and the
// matching Kubernetes Events as ApiServerSource CloudEvents to the broker, then a resolution.
import { CloudEvent, HTTP } from 'cloudevents';
import type { Obj } from '../kube-standin/api.ts';

interface DemoAlert {
  labels: Record<string, string>;
  summary: string;
  description: string;
  /** Minutes it has been firing. */
  forMinutes: number;
}

const STANDARD = { job: 'kube-state-metrics', prometheus: 'monitoring/k8s' };

/** One alert per trouble the recorded cluster has, labelled as kube-prometheus rules label them. */
export const DEMO_ALERTS: DemoAlert[] = [
  {
    labels: {
      alertname: 'KubePodCrashLooping',
      namespace: 'payments',
      pod: 'api-7d9f8b6c5d-x2x4q',
      container: 'app',
      severity: 'critical',
      ...STANDARD,
    },
    summary: 'Pod is crash looping.',
    description: 'Pod payments/api-7d9f8b6c5d-x2x4q (app) is in waiting state (reason: "CrashLoopBackOff").',
    forMinutes: 12,
  },
  {
    labels: {
      alertname: 'KubeContainerOOMKilled',
      namespace: 'payments',
      pod: 'worker-5c8d7f9b4-k7wzp',
      container: 'worker',
      severity: 'warning',
      ...STANDARD,
    },
    summary: 'Container was OOMKilled.',
    description:
      'Container worker in pod payments/worker-5c8d7f9b4-k7wzp was OOMKilled 3 times in the last hour.',
    forMinutes: 25,
  },
  {
    labels: {
      alertname: 'KubeContainerWaiting',
      namespace: 'shop',
      pod: 'cart-5d4c8b7f6-qz8mn',
      container: 'wait-for-redis',
      severity: 'warning',
      ...STANDARD,
    },
    summary: 'Pod container waiting longer than 1 hour',
    description:
      'pod/cart-5d4c8b7f6-qz8mn in namespace shop on container wait-for-redis has been in waiting state for longer than 1 hour.',
    forMinutes: 8,
  },
  {
    labels: {
      alertname: 'KubePodNotReady',
      namespace: 'shop',
      pod: 'search-2',
      severity: 'warning',
      ...STANDARD,
    },
    summary: 'Pod has been in a non-ready state for more than 15 minutes.',
    description: 'Pod shop/search-2 has been in a non-ready state for longer than 15 minutes.',
    forMinutes: 40,
  },
  {
    labels: { alertname: 'KubeNodeNotReady', node: 'worker-2', severity: 'warning', ...STANDARD },
    summary: 'Node is not ready.',
    description: 'worker-2 has been unready for more than 15 minutes.',
    forMinutes: 9,
  },
  {
    labels: {
      alertname: 'KubeDeploymentRolloutStuck',
      namespace: 'shop',
      deployment: 'checkout',
      severity: 'warning',
      ...STANDARD,
    },
    summary: 'Deployment rollout is not progressing.',
    description: 'Rollout of deployment shop/checkout is not progressing for longer than 15 minutes.',
    forMinutes: 17,
  },
];

/** Which alert the demo resolves once everything has been shown: the node came back. */
export const RESOLVED_ALERT = 'KubeNodeNotReady';

/** The Events (by name) that are sent as they happen, besides being in the cluster's Event list. */
export const DEMO_EVENTS = [
  'api-7d9f8b6c5d-x2x4q.189b4a1c2d3e4f50',
  'cart-5d4c8b7f6-qz8mn.4a94e640fdc297c5',
  'search-2.3462a2fa37475576',
  'worker-2.189b49f0a1b2c3d4',
];

function fingerprintOf(labels: Record<string, string>): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(Object.entries(labels).sort()))
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return `demo${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** The Alertmanager (v4) webhook for one alert fired at `firedAt`, resolved at `resolvedAt` if given. */
export function webhookFor(alert: DemoAlert, firedAt: Date, resolvedAt?: Date): Obj {
  const status = resolvedAt ? 'resolved' : 'firing';
  const startsAt = new Date(firedAt.getTime() - alert.forMinutes * 60_000).toISOString();
  const annotations = {
    summary: alert.summary,
    description: alert.description,
    runbook_url: `https://runbooks.prometheus-operator.dev/runbooks/kubernetes/${alert.labels.alertname?.toLowerCase()}`,
  };
  const a = {
    status,
    labels: alert.labels,
    annotations,
    startsAt,
    endsAt: resolvedAt ? resolvedAt.toISOString() : '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus.monitoring:9090/graph?g0.expr=ALERTS%7Balertname%3D%22${alert.labels.alertname}%22%7D`,
    fingerprint: fingerprintOf(alert.labels),
  };
  return {
    version: '4',
    groupKey: `{}:{alertname="${alert.labels.alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'kubeincident',
    groupLabels: { alertname: alert.labels.alertname },
    commonLabels: alert.labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager.monitoring:9093',
    alerts: [a],
  };
}

/** An Event as ApiServerSource delivers it: attributes, extensions, the whole object as data. */
export function sourceEventFor(event: Obj, now: Date): CloudEvent<Obj> {
  // It just happened again: the API server bumps the count and the last time on the same object.
  const data = structuredClone(event);
  data.count = (data.count ?? 1) + 1;
  data.lastTimestamp = new Date(now.getTime() - 2000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  data.metadata.resourceVersion = String(Number(data.metadata.resourceVersion ?? 0) + 1000);
  return new CloudEvent<Obj>({
    id: crypto.randomUUID(),
    source: 'https://10.96.0.1:443',
    type: 'dev.knative.apiserver.resource.update',
    subject: `/api/v1/namespaces/${data.metadata.namespace}/events/${data.metadata.name}`,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    apiversion: 'v1',
    kind: 'Event',
    name: data.metadata.name,
    namespace: data.metadata.namespace,
    data,
  });
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers, body });
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${await res.text()}`);
}

export interface FireOptions {
  webhook: string;
  broker: string;
  /** The recorded cluster's Events (already moved to now). */
  events: Obj[];
  /** Bearer token alert-ingest expects, if any. */
  webhookToken?: string | undefined;
  /** How long after the firings the resolution is sent. */
  resolveAfterMs: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Sends the alerts and Events, waits, and resolves one alert. */
export async function fireDemo(o: FireOptions): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.webhookToken) headers.authorization = `Bearer ${o.webhookToken}`;
  const now = new Date();
  for (const alert of DEMO_ALERTS) {
    await post(o.webhook, JSON.stringify(webhookFor(alert, now)), headers);
    o.log(`demo: alert ${alert.labels.alertname} firing`);
  }
  // A moment later, as in a cluster: the Events then find the alerts' threads and join them.
  await new Promise((r) => setTimeout(r, 1500));
  for (const name of DEMO_EVENTS) {
    const event = o.events.find((e) => e.metadata?.name === name);
    if (!event) throw new Error(`demo: no recorded Event ${name}`);
    const message = HTTP.binary(sourceEventFor(event, new Date()));
    await post(o.broker, String(message.body), message.headers as Record<string, string>);
    o.log(`demo: Event ${event.reason} ${event.involvedObject?.kind}/${event.involvedObject?.name}`);
  }
  await new Promise((r) => setTimeout(r, o.resolveAfterMs));
  if (o.signal?.aborted) return;
  const resolved = DEMO_ALERTS.find((a) => a.labels.alertname === RESOLVED_ALERT);
  if (resolved) {
    await post(o.webhook, JSON.stringify(webhookFor(resolved, now, new Date())), headers);
    o.log(`demo: alert ${RESOLVED_ALERT} resolved`);
  }
}
