import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

// `npm run sample-alert`: posts an Alertmanager webhook (a crash-looping pod) to the local
// pipeline. `-- --resolve` sends its resolution, which edits the same thread.
const resolved = process.argv.includes('--resolve');
const url = process.env.WEBHOOK_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}/`;
// The firing's start time is kept in .local/, so `--resolve` resolves that same alert.
const stateFile = resolve(import.meta.dirname, '../.local/sample-alert.json');
const startsAt =
  resolved && existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { startsAt: string }).startsAt
    : new Date(Date.now() - 14 * 60_000).toISOString();
if (!resolved) {
  mkdirSync(dirname(stateFile), { recursive: true });
  writeFileSync(stateFile, JSON.stringify({ startsAt }));
}

const alert = {
  status: resolved ? 'resolved' : 'firing',
  labels: {
    alertname: 'KubePodCrashLooping',
    namespace: 'shop',
    pod: 'checkout-7d9c8b6f5-x2x9k',
    container: 'checkout',
    job: 'kube-state-metrics',
    reason: 'CrashLoopBackOff',
    severity: 'warning',
  },
  annotations: {
    summary: 'Pod is crash looping.',
    description:
      'Pod shop/checkout-7d9c8b6f5-x2x9k (checkout) is in waiting state (reason: "CrashLoopBackOff").',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
  },
  startsAt,
  endsAt: resolved ? new Date().toISOString() : '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus.monitoring:9090/graph?g0.expr=kube_pod_container_status_waiting_reason',
  fingerprint: 'a1b2c3d4e5f60718',
};

const payload = {
  version: '4',
  groupKey: '{}:{alertname="KubePodCrashLooping"}',
  truncatedAlerts: 0,
  status: alert.status,
  receiver: 'kubeincident',
  groupLabels: { alertname: 'KubePodCrashLooping' },
  commonLabels: alert.labels,
  commonAnnotations: alert.annotations,
  externalURL: 'http://alertmanager.monitoring:9093',
  alerts: [alert],
};

const headers: Record<string, string> = { 'content-type': 'application/json' };
if (process.env.WEBHOOK_BEARER_TOKEN) headers.authorization = `Bearer ${process.env.WEBHOOK_BEARER_TOKEN}`;
try {
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(payload) });
  console.log(`${alert.status} alert sent to ${url}: HTTP ${res.status} ${await res.text()}`);
  if (!res.ok) process.exitCode = 1;
} catch (err) {
  console.error(`could not reach ${url}: is \`npm start\` running? (${(err as Error).message})`);
  process.exitCode = 1;
}
