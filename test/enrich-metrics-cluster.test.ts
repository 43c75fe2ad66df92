// enrich-metrics' cluster parts against a real Prometheus (series backfilled by promtool):
// volumes filling up, targets down, a node's memory, CPU and filesystem, and overcommit. The
// series are straight lines, so every figure in the verdicts is known exactly.
import test from 'ava';
import { renderChart } from '../lib/adapters/prometheus/chart.ts';
import { createPrometheusClient } from '../lib/adapters/prometheus/client.ts';
import { Config } from '../lib/domain/config/schema.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { enrichMetrics } from '../lib/stages/enrich/metrics/enrich.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type PrometheusServer, type SeriesSpec, startPrometheus } from './support/prometheus.ts';

const Gi = 1024 ** 3;
const NOW = Date.parse('2026-03-01T10:30:00Z') / 1000;
const FROM = NOW - 7 * 3600;
/** One point a minute from FROM to NOW, the value a function of seconds before NOW. */
const line = (f: (ago: number) => number): Array<[number, number]> =>
  Array.from({ length: (NOW - FROM) / 60 + 1 }, (_, m) => [FROM + m * 60, f(NOW - (FROM + m * 60))]);

const series: SeriesSpec[] = [
  // data-db-0: 10Gi, 1Gi left, losing 2Gi a day.
  ...['capacity', 'available', 'used'].map((k) => ({
    name: `kubelet_volume_stats_${k}_bytes`,
    labels: { namespace: 'shop', persistentvolumeclaim: 'data-db-0' },
    points: line((ago) => {
      const available = Gi + (2 * Gi * ago) / 86_400;
      return k === 'capacity' ? 10 * Gi : k === 'available' ? available : 10 * Gi - available;
    }),
  })),
  // Job api: .1 up throughout, .2 down for the last 20 minutes, .3 down throughout.
  ...[
    ['10.0.0.1:8080', () => 1],
    ['10.0.0.2:8080', (ago: number) => (ago < 20 * 60 + 1 ? 0 : 1)],
    ['10.0.0.3:8080', () => 0],
  ].map(([instance, f]) => ({
    name: 'up',
    labels: { job: 'api', instance: instance as string },
    points: line(f as (ago: number) => number),
  })),
  // worker-3: 16Gi with 2Gi available, two CPUs idle 40% and 60%, / at 20Gi of 100Gi free, losing 10Gi a day.
  {
    name: 'node_uname_info',
    labels: { nodename: 'worker-3', instance: '10.0.1.3:9100' },
    points: line(() => 1),
  },
  { name: 'node_memory_MemTotal_bytes', labels: { instance: '10.0.1.3:9100' }, points: line(() => 16 * Gi) },
  {
    name: 'node_memory_MemAvailable_bytes',
    labels: { instance: '10.0.1.3:9100' },
    points: line(() => 2 * Gi),
  },
  ...[0.4, 0.6].map((idle, cpu) => ({
    name: 'node_cpu_seconds_total',
    labels: { instance: '10.0.1.3:9100', cpu: String(cpu), mode: 'idle' },
    points: line((ago) => 100_000 + idle * (NOW - ago - FROM)),
  })),
  ...['avail', 'size'].map((k) => ({
    name: `node_filesystem_${k}_bytes`,
    labels: { instance: '10.0.1.3:9100', mountpoint: '/', device: '/dev/sda1' },
    points: line((ago) => (k === 'size' ? 100 * Gi : 20 * Gi + (10 * Gi * ago) / 86_400)),
  })),
  // worker-4 went down 40 minutes ago with its node-exporter: 8Gi with 0.5Gi available and its one
  // CPU 10% idle at the last scrape, no sample since.
  ...(
    [
      ['node_uname_info', { nodename: 'worker-4' }, () => 1],
      ['node_memory_MemTotal_bytes', {}, () => 8 * Gi],
      ['node_memory_MemAvailable_bytes', {}, () => Gi / 2],
      ['node_cpu_seconds_total', { cpu: '0', mode: 'idle' }, (ago: number) => 0.1 * (NOW - ago - FROM)],
    ] as const
  ).map(([name, labels, f]) => ({
    name,
    labels: { instance: '10.0.1.4:9100', ...labels },
    points: line(f).filter(([t]) => t <= NOW - 40 * 60),
  })),
  // CPU requests: shop 12, batch 9, web 5, kube-system 2 (28 cores) on two 8-core nodes.
  ...[
    ['shop', 'cart-0', 6],
    ['shop', 'cart-1', 6],
    ['batch', 'etl-0', 9],
    ['web', 'web-0', 5],
    ['kube-system', 'dns-0', 2],
  ].map(([namespace, pod, cores]) => ({
    name: 'kube_pod_container_resource_requests',
    labels: {
      namespace: namespace as string,
      pod: pod as string,
      container: 'c',
      resource: 'cpu',
      unit: 'core',
    },
    points: line(() => cores as number),
  })),
  ...['node-a', 'node-b'].map((node) => ({
    name: 'kube_node_status_allocatable',
    labels: { node, resource: 'cpu', unit: 'core' },
    points: line(() => 8),
  })),
];

let prom: PrometheusServer;
test.before(async () => {
  prom = await startPrometheus(series);
});
test.after.always(async () => prom?.stop());

async function verdictOf(issue: Issue, prometheus: Record<string, unknown> = {}) {
  const config = Config.parse({ prometheus: { url: prom.url, ...prometheus } }).prometheus;
  const client = createPrometheusClient({ url: prom.url, timeoutMs: 5000 });
  const e = await enrichMetrics(issue, {
    prom: client,
    config,
    timeBudgetMs: 10_000,
    render: renderChart,
    now: new Date(NOW * 1000),
  });
  return {
    verdict: e?.verdict,
    files: e?.blocks.flatMap((b) => (b.type === 'image' ? [b.filename] : [])),
    notes: e?.blocks.flatMap((b) => (b.type === 'markdown' ? [b.text] : [])),
  };
}

const alert = (
  alertname: string,
  labels: Record<string, string>,
  subject: Issue['subject'] = { kind: 'Cluster' },
) =>
  makeIssue({
    title: alertname,
    labels: { alertname, ...labels },
    subject,
    startsAt: new Date(NOW * 1000).toISOString(),
  });

test('volumes: a claim filling up says how full and in how many days, with its graph', async (t) => {
  const r = await verdictOf(
    alert('KubePersistentVolumeFillingUp', { namespace: 'shop', persistentvolumeclaim: 'data-db-0' }),
  );
  t.is(
    r.verdict,
    "Volume shop/data-db-0 is 90% full (9Gi of 10Gi), full in about 0.5 days at the last 6h's rate",
  );
  t.deepEqual(r.files, ['data-db-0-volume.png']);
});

test('target down: which targets of the job are down and since when', async (t) => {
  const r = await verdictOf(alert('TargetDown', { job: 'api' }));
  t.is(
    r.verdict,
    '2 of 3 targets of job api down: 10.0.0.2:8080 since 10:10 UTC, 10.0.0.3:8080 for at least 1h',
  );
  t.deepEqual(r.files, ['api-up.png']);
});

test('nodes: memory, CPU and the alert filesystem with days until full, the instance found by node name or label', async (t) => {
  const fs = await verdictOf(
    alert(
      'NodeFilesystemSpaceFillingUp',
      { instance: '10.0.1.3:9100', mountpoint: '/' },
      { kind: 'Node', name: 'worker-3' },
    ),
  );
  t.is(
    fs.verdict,
    "Node worker-3 memory 87.5% used, CPU 50% busy, / 80% full, full in about 2.0 days at the last 6h's rate",
  );
  const pressure = await verdictOf(alert('KubeNodeMemoryPressure', {}, { kind: 'Node', name: 'worker-3' }));
  t.is(pressure.verdict, 'Node worker-3 memory 87.5% used, CPU 50% busy');
  t.deepEqual(pressure.files, ['worker-3-node.png']);
  // A node that is down: its exporter is found over the window, its numbers are the last scrape's.
  // (A backfilled block has no staleness markers, so the gauge's last point is Prometheus' 5m
  // lookback after the last sample: 35m ago here, where a live Prometheus would say 40m; the CPU
  // rate there runs over a thinning window, so only its first digit is certain.)
  const down = await verdictOf(
    alert('KubeNodeNotReady', { node: 'worker-4' }, { kind: 'Node', name: 'worker-4' }),
  );
  t.regex(
    down.verdict ?? '',
    /^Node worker-4 memory 93\.8% used, CPU 9\d(\.\d)?% busy at its last scrape 35m ago$/,
  );
  t.deepEqual(down.files, ['worker-4-node.png']);
  const unknown = await verdictOf(alert('KubeNodeNotReady', {}, { kind: 'Node', name: 'worker-9' }));
  t.deepEqual(unknown.notes, [
    'No node_uname_info series for node worker-9 (node-exporter missing?): no node graph.',
  ]);
});

test('overcommit: requests against allocatable, the largest namespaces named', async (t) => {
  const r = await verdictOf(alert('KubeCPUOvercommit', {}));
  t.is(
    r.verdict,
    'CPU requests 28 cores of 16 cores allocatable (175%); most: shop 12 cores, batch 9 cores, web 5 cores',
  );
  t.deepEqual(r.files, ['cpu-overcommit.png']);
  t.is(await enrichOff(), undefined);
});

async function enrichOff() {
  const config = Config.parse({ prometheus: { url: prom.url, overcommit: { enabled: false } } }).prometheus;
  const client = createPrometheusClient({ url: prom.url, timeoutMs: 5000 });
  return enrichMetrics(alert('KubeCPUOvercommit', {}), {
    prom: client,
    config,
    timeBudgetMs: 5000,
    render: renderChart,
    now: new Date(NOW * 1000),
  });
}
