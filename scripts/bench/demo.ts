// The demo's Prometheus stand-in (`npm run bench -- --only demo`): what its series cost the demo's
// start, against the kube stand-in's own start in the same run, and how fast it answers what
// enrich-metrics asks in the demo (the memory part's six queries, the node part's three),
// against Debian's Prometheus serving the same samples.
import { createPrometheusClient, type PrometheusClient } from '../../lib/adapters/prometheus/client.ts';
import { startPrometheus } from '../../test/support/prometheus.ts';
import { CLUSTER_DIR } from '../demo/cluster.ts';
import { startPrometheusStandin } from '../demo/prometheus.ts';
import { demoSeries } from '../demo/series.ts';
import { loadKubeFixtures, startKubeStandin } from '../kube-standin/server.ts';
import { median, msSince } from './procs.ts';

const POD = 'namespace="payments",pod="worker-5c8d7f9b4-k7wzp",container!="",container!="POD"';
const WS = `container_memory_working_set_bytes{${POD}}`;
const LIMITS = 'kube_pod_container_resource_limits{namespace="payments",pod="worker-5c8d7f9b4-k7wzp"';

/** One demo's worth of enrich-metrics queries (OOM memory part + NotReady node part), in ms. */
async function demoQueries(c: PrometheusClient, n: number): Promise<number> {
  const t = process.hrtime.bigint();
  const killAt = n - 1500;
  const node = 'instance="worker-2"';
  await c.query(`max(kube_pod_container_status_last_terminated_timestamp{${POD}})`, n);
  await c.query('max by (instance) (max_over_time(node_uname_info{nodename="worker-2"}[10800s]))', n);
  await Promise.all([
    c.queryRange({ query: WS, start: killAt - 10_800, end: n, stepSeconds: 60 }),
    c.query(`max by (container) (max_over_time(${WS}[11700s]))`, n),
    c.query(`deriv(${WS}[10800s])`, killAt),
    c.query(`max by (container) (${LIMITS},resource="memory"})`, killAt),
    c.query(`max by (container) (${LIMITS.replace('limits', 'requests')},resource="memory"})`, killAt),
    c.queryRange({
      query: `1 - node_memory_MemAvailable_bytes{${node}} / node_memory_MemTotal_bytes{${node}}`,
      start: n - 10_800,
      end: n,
      stepSeconds: 45,
    }),
    c.queryRange({
      query: `1 - avg(rate(node_cpu_seconds_total{${node},mode="idle"}[5m]))`,
      start: n - 10_800,
      end: n,
      stepSeconds: 45,
    }),
  ]);
  return msSince(t);
}

export async function benchDemoPrometheus(o: { quick: boolean; tiny: boolean }) {
  const runs = o.tiny ? 1 : o.quick ? 3 : 9;
  const recorded = await loadKubeFixtures(CLUSTER_DIR);
  const now = new Date();
  const build: number[] = [];
  const kube: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = process.hrtime.bigint();
    demoSeries(recorded, now);
    build.push(msSince(t));
    t = process.hrtime.bigint();
    const k = await startKubeStandin(recorded);
    kube.push(msSince(t));
    await k.close();
  }
  const store = demoSeries(recorded, now);
  const standin = await startPrometheusStandin(store);
  const real = await startPrometheus(
    store.map(({ labels: { __name__, ...labels }, samples }) => ({
      name: __name__ ?? '',
      labels,
      points: samples.flatMap(([t, v]) => (v === null ? [] : [[t, v] as [number, number]])),
    })),
  );
  try {
    const n = Math.floor(now.getTime() / 1000);
    const times = async (url: string) => {
      const c = createPrometheusClient({ url, timeoutMs: 30_000 });
      await demoQueries(c, n);
      const out: number[] = [];
      for (let i = 0; i < runs; i++) out.push(await demoQueries(c, n));
      return median(out);
    };
    const ours = await times(standin.url);
    const theirs = await times(real.url);
    return [
      {
        figure: `demo series built at start (${store.length} series, 6 h at 15 s), median ms`,
        value: median(build).toFixed(0),
        baseline: `kube stand-in start ${median(kube).toFixed(0)}`,
        ratio: (median(build) / median(kube)).toFixed(2),
      },
      {
        figure: "one demo's metrics queries (6 memory + 3 node, two lookups first), median ms",
        value: ours.toFixed(1),
        baseline: `Debian Prometheus ${theirs.toFixed(1)}`,
        ratio: (ours / theirs).toFixed(2),
      },
    ];
  } finally {
    await Promise.all([standin.close(), real.stop()]);
  }
}
