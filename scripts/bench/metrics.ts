// enrich-metrics' figures (`npm run bench -- --only metrics`): the time to draw one chart (SVG by
// echarts, PNG by resvg) against the 150 ms goal; the bundle's cold start and idle RSS against
// enrich-node's in the same run (the renderer must cost nothing until the first chart); and
// its peak RSS (VmHWM) while it enriches OOM kills against a real Prometheus.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import type { ChartSpec } from '../../lib/adapters/prometheus/chart.ts';
import { type SeriesSpec, startPrometheus } from '../../test/support/prometheus.ts';
import { buildFunction } from '../build.ts';
import { fnRequest } from './functions.ts';
import { deployedEnv, freePort, median, msSince, rssMiB, spawnServer, stop } from './procs.ts';

const Mi = 1024 * 1024;
const GOAL_MS = 150;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

/** The memory chart of an OOM kill as enrich-metrics draws it: 240 points, two lines, one mark. */
function memorySpec(now: number): ChartSpec {
  const start = now - 3 * 3600;
  const points = Array.from(
    { length: 240 },
    (_, i) => [start + i * 45, (180 + i * 1.37) * Mi] as [number, number],
  );
  return {
    title: 'Memory working set: shop/api-7f9c',
    unit: 'bytes',
    start,
    end: now + 900,
    series: [{ name: 'working set app', points }],
    lines: [
      { name: 'limit', value: 512 * Mi, color: '#c0392b' },
      { name: 'request', value: 256 * Mi, color: '#2a9d55' },
    ],
    marks: [{ time: now, label: 'OOMKilled' }],
  };
}

async function renderTimes(n: number) {
  const { renderChart } = await import('../../lib/adapters/prometheus/chart.ts');
  const now = Math.floor(Date.now() / 1000);
  const first = process.hrtime.bigint();
  await renderChart(memorySpec(now));
  const firstMs = msSince(first);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await renderChart(memorySpec(now + i));
    times.push(msSince(t));
  }
  return { firstMs, p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Cold start (spawn to ready) and idle RSS of a bundle, median of `runs`. */
async function coldAndIdle(file: string, env: NodeJS.ProcessEnv, fn: string, runs: number, cwd: string) {
  const ready: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = freePort();
    const s = await spawnServer(file, env, port, undefined, cwd);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, fnRequest(fn));
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`${fn} answered ${res.status}`);
      ready.push(s.readyMs);
      await new Promise((r) => setTimeout(r, 300));
      rss.push(rssMiB(s.child.pid));
    } finally {
      await stop(s.child);
    }
  }
  return { readyMs: median(ready), rssMiB: median(rss) };
}

function peakMiB(pid: number | undefined): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Working set and limits of `pods` pods over the last 4 hours, for the bundle to draw. */
function oomSeries(now: number, pods: number): SeriesSpec[] {
  return Array.from({ length: pods }, (_, p) => {
    const labels = { namespace: 'shop', pod: `api-${p}`, container: 'app' };
    const points = Array.from(
      { length: 241 },
      (_, m) => [now - 4 * 3600 + m * 60, (200 + m + p) * Mi] as [number, number],
    );
    return [
      { name: 'container_memory_working_set_bytes', labels, points },
      {
        name: 'kube_pod_container_resource_limits',
        labels: { ...labels, resource: 'memory' },
        points: points.map(([t]) => [t, 512 * Mi] as [number, number]),
      },
    ];
  }).flat();
}

function oomEvent(pod: string, killAt: number): RequestInit {
  const msg = HTTP.binary(
    new CloudEvent({
      type: 'dev.kubeincident.issue.created.v1',
      source: '/bench',
      data: {
        id: `bench-${pod}`,
        fingerprint: `bench-${pod}`,
        type: 'alert',
        source: 'prometheus',
        title: `Pod shop/${pod} OOMKilled`,
        severity: 'HIGH',
        status: 'firing',
        subject: { kind: 'Pod', name: pod, namespace: 'shop', container: 'app' },
        labels: { alertname: 'KubePodOOMKilled', namespace: 'shop', pod },
        annotations: {},
        links: [],
        startsAt: new Date(killAt * 1000).toISOString(),
        enrichments: [],
        plan: ['enrichmetrics', 'dispatch'],
      },
    }),
  );
  return { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string };
}

export interface MetricsBenchOptions {
  quick: boolean;
  tiny: boolean;
  /** Bundles the bench already built (its whole run); built here when absent (--only metrics). */
  bundles?: { metrics?: string | undefined; node?: string | undefined };
}

export async function benchMetrics(o: MetricsBenchOptions): Promise<Array<Record<string, string | number>>> {
  const charts = o.tiny ? 3 : o.quick ? 20 : 100;
  const runs = o.tiny ? 1 : o.quick ? 2 : 5;
  const issues = o.tiny ? 2 : o.quick ? 10 : 40;
  const dir = await mkdtemp(join(tmpdir(), 'kubeincident-bench-metrics-'));
  const now = Math.floor(Date.now() / 1000 / 60) * 60;
  const prom = await startPrometheus(oomSeries(now, 4));
  try {
    const r = await renderTimes(charts);
    const metricsFile = o.bundles?.metrics ?? (await buildFunction('enrich-metrics', dir));
    const nodeFile = o.bundles?.node ?? (await buildFunction('enrich-node', dir));
    const base = await coldAndIdle(nodeFile, deployedEnv('enrich-node'), 'enrich-node', runs, dir);
    const idle = await coldAndIdle(metricsFile, deployedEnv('enrich-metrics'), 'enrich-metrics', runs, dir);
    // Rendering for real: the bundle against Prometheus, one OOM kill after another.
    const port = freePort();
    const env = { ...deployedEnv('enrich-metrics'), PROMETHEUS_URL: prom.url, CONFIG_FILE: '' };
    const s = await spawnServer(metricsFile, env, port, undefined, dir);
    const perIssue: number[] = [];
    let drawn = 0;
    try {
      for (let i = 0; i < issues; i++) {
        const t = process.hrtime.bigint();
        const res = await fetch(`http://127.0.0.1:${port}/`, oomEvent(`api-${i % 4}`, now - 30 * 60));
        const body = await res.text();
        if (res.status !== 200) throw new Error(`enrich-metrics answered ${res.status}`);
        if (body.includes('"type":"image"')) drawn++;
        perIssue.push(msSince(t));
      }
      const peak = peakMiB(s.child.pid);
      const after = rssMiB(s.child.pid);
      if (drawn === 0) throw new Error('the bundle drew no graph');
      return [
        {
          figure: 'chart render (SVG + PNG), p50 ms',
          value: r.p50.toFixed(1),
          baseline: `goal ${GOAL_MS}`,
          ratio: (r.p50 / GOAL_MS).toFixed(2),
        },
        {
          figure: 'chart render, p99 ms',
          value: r.p99.toFixed(1),
          baseline: `goal ${GOAL_MS}`,
          ratio: (r.p99 / GOAL_MS).toFixed(2),
        },
        {
          figure: 'first chart in a process (loads echarts, resvg, font), ms',
          value: r.firstMs.toFixed(0),
          baseline: '',
          ratio: '',
        },
        {
          figure: 'enrich-metrics cold start to ready, ms',
          value: idle.readyMs.toFixed(0),
          baseline: `enrich-node ${base.readyMs.toFixed(0)}`,
          ratio: (idle.readyMs / base.readyMs).toFixed(2),
        },
        {
          figure: 'enrich-metrics idle RSS after one event, MiB',
          value: idle.rssMiB.toFixed(1),
          baseline: `enrich-node ${base.rssMiB.toFixed(1)}`,
          ratio: (idle.rssMiB / base.rssMiB).toFixed(2),
        },
        {
          figure: `enrich-metrics peak RSS over ${issues} OOM graphs, MiB`,
          value: peak.toFixed(1),
          baseline: `its idle ${idle.rssMiB.toFixed(1)}`,
          ratio: (peak / idle.rssMiB).toFixed(2),
        },
        {
          figure: 'enrich-metrics RSS after them, MiB',
          value: after.toFixed(1),
          baseline: `its idle ${idle.rssMiB.toFixed(1)}`,
          ratio: (after / idle.rssMiB).toFixed(2),
        },
        {
          figure: 'one OOM issue end to end (6 queries, the kill lookup first, + chart), p50 ms',
          value: median(perIssue.slice(1)).toFixed(0),
          baseline: `first ${perIssue[0]?.toFixed(0)}`,
          ratio: '',
        },
      ];
    } finally {
      await stop(s.child);
    }
  } finally {
    await prom.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
