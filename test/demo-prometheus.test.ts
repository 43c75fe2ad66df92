// The demo's Prometheus stand-in against a real Prometheus (Debian's, backfilled with the same
// recorded series by promtool): the queries enrich-metrics' memory and node parts send answer the
// same series and values, in the same JSON shape, through our real client; what the stand-in does
// not evaluate answers an empty result; a request without a query is refused as Prometheus does.
// Then the series tell the demo's story.
import test from 'ava';
import { createPrometheusClient, type Series } from '../lib/adapters/prometheus/client.ts';
import { CLUSTER_DIR } from '../scripts/demo/cluster.ts';
import { startPrometheusStandin } from '../scripts/demo/prometheus.ts';
import { demoSeries } from '../scripts/demo/series.ts';
import { loadKubeFixtures } from '../scripts/kube-standin/server.ts';
import { startPrometheus } from './support/prometheus.ts';

const POD = 'namespace="payments",pod="worker-5c8d7f9b4-k7wzp"';
const WS = `container_memory_working_set_bytes{${POD},container!="",container!="POD"}`;
const NODE_MEMORY = '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes';
const NODE_CPU = '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))';

/** Series as a comparable map: labels -> values, rounded to what a chart or verdict shows. */
function bySeries(series: Series[]): Record<string, Array<[number, number]>> {
  const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
  return Object.fromEntries(
    series.map((s) => [
      key(s.labels),
      s.points.map(([t, v]) => [t, Number(v.toPrecision(9))] as [number, number]),
    ]),
  );
}

test('demo prometheus: the queries of the memory and node parts answer as a real Prometheus over the same series', async (t) => {
  const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const store = demoSeries(await loadKubeFixtures(CLUSTER_DIR), now);
  const real = await startPrometheus(
    store.map((s) => {
      const { __name__, ...labels } = s.labels;
      return {
        name: __name__ ?? '',
        labels,
        points: s.samples.flatMap(([ts, v]) => (v === null ? [] : [[ts, v] as [number, number]])),
      };
    }),
  );
  t.teardown(() => real.stop());
  const standin = await startPrometheusStandin(store);
  t.teardown(() => standin.close());
  const clients = [real, standin].map((p) => createPrometheusClient({ url: p.url, timeoutMs: 10_000 }));
  const n = now.getTime() / 1000;
  // The alert's start (25m ago) and a moment before worker-2 went silent: a backfilled block has
  // no staleness markers, so just after a series ends the two differ by design for 5 minutes.
  const killAt = n - 25 * 60;
  const beforeSilence = n - 9 * 60;
  const instants: Array<[string, number]> = [
    [`max by (container) (max_over_time(${WS}[${3 * 3600 + 900}s]))`, killAt + 900],
    [`deriv(${WS}[10800s])`, killAt],
    [`max(kube_pod_container_status_last_terminated_timestamp{${POD},container="worker"})`, n],
    ['max by (instance) (max_over_time(node_uname_info{nodename="worker-2"}[10800s]))', n],
    ['1 - avg(rate(node_cpu_seconds_total{instance="worker-2",mode="idle"}[5m]))', beforeSilence],
    [`max by (container) (kube_pod_container_resource_limits{${POD},resource="memory"})`, killAt],
    [`max by (container) (kube_pod_container_resource_requests{${POD},resource="memory"})`, killAt],
    [`kube_pod_container_resource_requests{namespace="shop",pod="search-2"}`, killAt],
    [NODE_MEMORY, beforeSilence],
    [NODE_CPU, beforeSilence],
    ['node_memory_MemTotal_bytes', n],
    ['no_such_metric{namespace="payments"}', n],
  ];
  for (const [query, at] of instants) {
    const [a, b] = await Promise.all(clients.map((c) => c.query(query, at)));
    t.deepEqual(bySeries(b ?? []), bySeries(a ?? []), query);
  }
  const ranges: Array<[string, number, number]> = [
    [`max by (container) (${WS})`, killAt - 3 * 3600, n - 37 * 60],
    [WS, killAt - 3 * 3600, n - 37 * 60],
    [NODE_MEMORY, n - 7200, beforeSilence],
    [NODE_CPU, n - 7200, beforeSilence],
  ];
  for (const [query, start, end] of ranges) {
    const [a, b] = await Promise.all(
      clients.map((c) => c.queryRange({ query, start, end, stepSeconds: 30 })),
    );
    t.true((a?.length ?? 0) > 0, query);
    t.deepEqual(bySeries(b ?? []), bySeries(a ?? []), query);
  }

  // The wire: the same JSON shape, and the same refusal of a request without a query.
  const raw = await Promise.all(
    [real, standin].map(async (p) => {
      const q = encodeURIComponent('node_memory_MemTotal_bytes{instance="worker-1"}');
      const ok = await fetch(`${p.url}/api/v1/query?query=${q}&time=${n}`);
      const bad = await fetch(`${p.url}/api/v1/query_range`, { method: 'POST' });
      return {
        ok: [ok.status, ok.headers.get('content-type'), await ok.json()],
        bad: [bad.status, ((await bad.json()) as { status: string; errorType: string }).errorType],
      };
    }),
  );
  t.deepEqual(raw[1], raw[0]);
});

test('demo prometheus: the series tell the story: the worker killed at its limit, worker-2 silent since it went NotReady', async (t) => {
  const now = new Date();
  const standin = await startPrometheusStandin(demoSeries(await loadKubeFixtures(CLUSTER_DIR), now));
  t.teardown(() => standin.close());
  const prom = createPrometheusClient({ url: standin.url, timeoutMs: 10_000 });
  const n = Math.floor(now.getTime() / 1000);
  // The last scrape before each recorded kill (11:23:52, 11:41:09, 11:58:27 at 12:00) was within
  // 6Mi of the 256Mi limit, and the working set never went over it.
  for (const secondsAgo of [2168, 1131, 93]) {
    const [peak] = await prom.query(`max by (container) (max_over_time(${WS}[60s]))`, n - secondsAgo);
    const v = peak?.points[0]?.[1] ?? 0;
    t.true(v > 250 * 2 ** 20 && v < 256 * 2 ** 20, `${secondsAgo}s ago: ${v}`);
  }
  const [after] = await prom.query(`max by (container) (${WS})`, n);
  t.true((after?.points[0]?.[1] ?? 0) < 128 * 2 ** 20, 'restarted small');
  // worker-2 stopped answering at 11:51:40: no sample since, and it was nearly out of memory.
  const nodes = (await prom.query(NODE_MEMORY, n)).map((s) => s.labels.instance).sort();
  t.deepEqual(nodes, ['node-7', 'worker-1', 'worker-3']);
  t.deepEqual(await prom.query('histogram_quantile(0.9, rate(x_bucket[5m]))', n), [], 'outside the subset');
  const [used] = await prom.query(
    NODE_MEMORY.replace(/node_memory_(\w+)/g, 'node_memory_$1{instance="worker-2"}'),
    n - 9 * 60,
  );
  t.true((used?.points[0]?.[1] ?? 0) > 0.9, `worker-2 used ${used?.points[0]?.[1]}`);
});
