// The demo cluster's recorded Prometheus series, as kube-state-metrics, the kubelet's cAdvisor and
// node-exporter export them, scraped every 15 s over the 6 hours before RECORDED_AT and moved so
// that moment is now (as cluster.ts moves the objects' times). Resource limits and requests come
// from the recorded Pods themselves, the worker's kill times from its recorded runs; node_uname_info
// names each node-exporter's node. The shapes tell the cluster's story: payments/worker leaking
// memory up to its 256Mi limit and OOM-killed at the recorded times, worker-2 running out of memory
// and CPU until its kubelet and node-exporter went silent, node-7 under memory pressure since the
// broken checkout rollout landed on it. Deterministic: the same `now` gives the same samples.
import { parseQuantity } from '../../lib/domain/diagnose/describe.ts';
import type { Obj } from '../kube-standin/api.ts';
import { RECORDED_AT } from './cluster.ts';
import type { StoredSeries } from './promql.ts';

const SCRAPE = 15;
const SPAN = 6 * 3600;
const MiB = 1024 * 1024;
const at = (hhmmss: string) => Date.parse(`${RECORDED_AT.slice(0, 11)}${hhmmss}Z`) / 1000;
const END = Date.parse(RECORDED_AT) / 1000;

/** The OOM-killed worker's runs: [started, killed]; the last is still running (cluster pods.json). */
const WORKER_RUNS: Array<[number, number | undefined]> = [
  [at('10:15:23'), at('11:23:52')],
  [at('11:23:55'), at('11:41:09')],
  [at('11:41:12'), at('11:58:27')],
  [at('11:58:30'), undefined],
];
/**
 * kube-state-metrics' last_terminated_timestamp of the worker: each kill's finishedAt (the Pod's
 * lastState.terminated), from that kill until the next one.
 */
function workerTerminations(pod: Obj | undefined): StoredSeries[] {
  const kills = WORKER_RUNS.flatMap(([, killed]) => (killed === undefined ? [] : [killed]));
  const first = kills[0];
  if (first === undefined) return [];
  const labels = {
    __name__: 'kube_pod_container_status_last_terminated_timestamp',
    container: 'worker',
    instance: '10.244.0.12:8080',
    job: 'kube-state-metrics',
    namespace: 'payments',
    pod: 'worker-5c8d7f9b4-k7wzp',
    uid: pod?.metadata?.uid ?? '',
  };
  return [gauge(labels, first + SCRAPE, END, (t) => kills.filter((k) => k < t).at(-1) ?? first)];
}

/** When the worker's queue consumer started leaking (a batch that never ends). */
const LEAK_FROM = at('11:05:00');
/** worker-2's last scrape: its Ready condition went Unknown at 11:51:47 (nodes.json). */
const WORKER2_SILENT = at('11:51:40');

/** Deterministic noise in [-1, 1] for a series and a moment. */
function noise(seed: string, t: number): number {
  let h = 2166136261;
  for (const ch of `${seed}@${t}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return ((h >>> 0) / 0xffffffff) * 2 - 1;
}

function grid(from: number, to: number): number[] {
  const start = Math.max(END - SPAN, Math.ceil(from / SCRAPE) * SCRAPE);
  const out: number[] = [];
  for (let t = start; t <= Math.min(to, END); t += SCRAPE) out.push(t);
  return out;
}

function gauge(
  labels: Record<string, string>,
  from: number,
  to: number,
  f: (t: number) => number,
): StoredSeries {
  const samples: StoredSeries['samples'] = grid(from, to).map((t) => [t, f(t)]);
  // Prometheus keeps no empty label (a pending Pod's node="" from kube-state-metrics).
  const kept = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
  // A scrape that stops leaves a staleness marker, so the series ends there instead of lingering.
  if (to < END) samples.push([to + SCRAPE / 2, null]);
  return { labels: kept, samples };
}

/** kube_pod_container_resource_{limits,requests} for every container of the recorded Pods. */
function kubeStateMetrics(pods: Obj[]): StoredSeries[] {
  return pods.flatMap((pod) =>
    (pod.spec?.containers ?? []).flatMap((c: Obj) =>
      (['limits', 'requests'] as const).flatMap((kind) =>
        Object.entries((c.resources?.[kind] ?? {}) as Record<string, string>).map(([resource, q]) =>
          gauge(
            {
              __name__: `kube_pod_container_resource_${kind}`,
              container: c.name,
              instance: '10.244.0.12:8080',
              job: 'kube-state-metrics',
              namespace: pod.metadata.namespace,
              node: pod.spec?.nodeName ?? '',
              pod: pod.metadata.name,
              resource,
              uid: pod.metadata.uid ?? '',
              unit: resource === 'cpu' ? 'core' : 'byte',
            },
            Date.parse(pod.metadata.creationTimestamp) / 1000,
            END,
            () => parseQuantity(q) ?? 0,
          ),
        ),
      ),
    ),
  );
}

/** payments/worker's working set: flat, then a leak that reaches the limit and is killed, thrice. */
function workerMemory(limit: number): StoredSeries[] {
  const labels = {
    __name__: 'container_memory_working_set_bytes',
    container: 'worker',
    image: 'registry.example.com/payments/worker:2.3.0',
    instance: 'worker-1',
    job: 'kubelet',
    metrics_path: '/metrics/cadvisor',
    namespace: 'payments',
    node: 'worker-1',
    pod: 'worker-5c8d7f9b4-k7wzp',
  };
  // One series per container instance (cAdvisor's `id`), as a restarted container gets.
  return WORKER_RUNS.map(([started, killed], i) => {
    const leakFrom = Math.max(started, LEAK_FROM);
    const base = (i === 0 ? 112 : 64) * MiB;
    const top = limit - 0.6 * MiB;
    return gauge(
      { ...labels, id: `/kubepods/burstable/pod9d1c/run-${i}` },
      started,
      killed === undefined ? END : killed - 1,
      (t) => {
        const wobble = noise(`worker${i}`, t) * 1.2 * MiB;
        const warm = Math.min(1, (t - started) / 90) * base;
        if (t < leakFrom) return warm + wobble;
        const share = (t - leakFrom) / ((killed ?? leakFrom + 1035) - leakFrom);
        return Math.min(top, warm + (top - base) * share ** 1.15 + wobble);
      },
    );
  });
}

interface NodeStory {
  name: string;
  /** Used memory share and busy CPU share at time t. */
  used(t: number): number;
  busy(t: number): number;
  silentFrom?: number;
}

const ramp = (t: number, from: number, to: number) => Math.min(1, Math.max(0, (t - from) / (to - from)));

const STORIES: NodeStory[] = [
  {
    name: 'worker-1',
    used: (t) => 0.46 + 0.03 * Math.sin(t / 1900),
    busy: (t) => 0.31 + 0.06 * Math.sin(t / 700),
  },
  {
    name: 'worker-2',
    used: (t) => 0.41 + 0.56 * ramp(t, at('11:08:00'), at('11:50:30')) ** 1.6,
    busy: (t) => 0.24 + 0.72 * ramp(t, at('11:30:00'), at('11:50:00')) ** 2,
    silentFrom: WORKER2_SILENT,
  },
  {
    name: 'worker-3',
    used: (t) => 0.63 + 0.02 * Math.sin(t / 2500),
    busy: (t) => 0.42 + 0.08 * Math.sin(t / 900),
  },
  {
    name: 'node-7',
    used: (t) => 0.52 + 0.41 * ramp(t, at('11:31:00'), at('11:46:00')),
    busy: (t) => 0.18 + 0.22 * ramp(t, at('11:31:00'), at('11:40:00')),
  },
];

/** node-exporter's memory gauges and per-CPU, per-mode seconds counters for each recorded Node. */
function nodeExporter(nodes: Obj[]): StoredSeries[] {
  return STORIES.flatMap((story) => {
    const node = nodes.find((n) => n.metadata.name === story.name);
    if (!node) return [];
    const total = parseQuantity(node.status.capacity.memory) ?? 0;
    const cpus = parseQuantity(node.status.capacity.cpu) ?? 1;
    const to = story.silentFrom ?? END;
    const base = { instance: story.name, job: 'node-exporter' };
    const memory = [
      gauge({ __name__: 'node_uname_info', ...base, nodename: story.name, sysname: 'Linux' }, 0, to, () => 1),
      gauge({ __name__: 'node_memory_MemTotal_bytes', ...base }, 0, to, () => total),
      gauge({ __name__: 'node_memory_MemAvailable_bytes', ...base }, 0, to, (t) => {
        const used = Math.min(0.985, story.used(t) + noise(story.name, t) * 0.006);
        return Math.round(total * (1 - used));
      }),
    ];
    const counters = Array.from({ length: cpus }, (_, cpu) =>
      (['idle', 'user', 'system', 'iowait'] as const).map((mode) => {
        let seconds = 4_000_000 + cpu * 1000;
        const series = gauge(
          { __name__: 'node_cpu_seconds_total', ...base, cpu: String(cpu), mode },
          0,
          to,
          (t) => {
            const busy = Math.min(
              0.99,
              Math.max(0.01, story.busy(t) + noise(`${story.name}${cpu}`, t) * 0.05),
            );
            // As memory runs out, the busy time turns into reclaim (system) and waiting on I/O.
            const share = { user: busy * 0.55, system: busy * 0.3, iowait: busy * 0.15, idle: 1 - busy }[
              mode
            ];
            seconds += share * SCRAPE;
            return Math.round(seconds * 100) / 100;
          },
        );
        return series;
      }),
    );
    return [...memory, ...counters.flat()];
  });
}

/** All the recorded series, moved so that RECORDED_AT is `now`. */
export function demoSeries(cluster: { pods: Obj[]; nodes: Obj[] }, now = new Date()): StoredSeries[] {
  const recordedPods = cluster.pods;
  const worker = recordedPods.find((p) => p.metadata.name === 'worker-5c8d7f9b4-k7wzp');
  const limit = parseQuantity(worker?.spec?.containers?.[0]?.resources?.limits?.memory) ?? 256 * MiB;
  const all = [
    ...kubeStateMetrics(recordedPods),
    ...workerTerminations(worker),
    ...workerMemory(limit),
    ...nodeExporter(cluster.nodes),
  ];
  const shift = Math.round((now.getTime() - Date.parse(RECORDED_AT)) / 1000);
  // A value that is itself a moment (kube-state-metrics' `*_timestamp`) moves with the samples.
  const moves = (s: StoredSeries) => s.labels.__name__?.endsWith('_timestamp') ?? false;
  return all.map((s) => ({
    labels: s.labels,
    samples: s.samples.map(([t, v]) => [t + shift, v !== null && moves(s) ? v + shift : v]),
  }));
}
