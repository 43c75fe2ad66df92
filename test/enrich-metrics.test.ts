// enrich-metrics against a real Prometheus: the series are written here, backfilled with promtool
// and served by Debian's prometheus, so every figure in the verdict is known exactly; the PNG is
// decoded and its pixel rows read to find the limit line where the limit is.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { CloudEvent } from 'cloudevents';
import { PNG } from 'pngjs';
import { CHART_HEIGHT, CHART_WIDTH, PLOT, renderChart } from '../lib/adapters/prometheus/chart.ts';
import { createPrometheusClient } from '../lib/adapters/prometheus/client.ts';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { Config } from '../lib/domain/config/schema.ts';
import { issueEvent } from '../lib/domain/events.ts';
import { fitEnrichment } from '../lib/domain/fit.ts';
import { type Enrichment, type ImageBlock, ISSUE_LIMITS, Issue } from '../lib/domain/issue.ts';
import type { InvocationContext } from '../lib/platform/runtime/types.ts';
import { enrichMetrics } from '../lib/stages/enrich/metrics/enrich.ts';
import { createMetricsFunction } from '../lib/stages/enrich/metrics/function.ts';
import { makeIssue, oomEnrichment } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { type PrometheusServer, type SeriesSpec, startPrometheus } from './support/prometheus.ts';
import { freePort } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const Mi = 1024 * 1024;
const KILL = Date.parse('2026-03-01T10:00:00Z') / 1000;
const NOW = new Date((KILL + 30 * 60) * 1000);
const POD = { namespace: 'shop', pod: 'api-7f9c', container: 'app' };

/** Working set growing 110Mi/h for 3h to 509Mi at the kill, then the restarted container at 60Mi. */
function memorySeries(labels: Record<string, string>, growthPerHour = 110, peak = 509): SeriesSpec[] {
  const points: Array<[number, number]> = [];
  for (let t = KILL - 3 * 3600; t <= KILL; t += 60)
    points.push([t, (peak - (growthPerHour * (KILL - t)) / 3600) * Mi]);
  for (let t = KILL + 60; t <= KILL + 15 * 60; t += 60) points.push([t, 60 * Mi]);
  const flat = (v: number): Array<[number, number]> => points.map(([t]) => [t, v]);
  return [
    { name: 'container_memory_working_set_bytes', labels, points },
    {
      name: 'kube_pod_container_resource_limits',
      labels: { ...labels, resource: 'memory', unit: 'byte' },
      points: flat(512 * Mi),
    },
    {
      name: 'kube_pod_container_resource_requests',
      labels: { ...labels, resource: 'memory', unit: 'byte' },
      points: flat(256 * Mi),
    },
  ];
}

/**
 * A leaking container restarted after each OOM kill, each run its own cAdvisor series (a new
 * `id`): run 0 leaks 420Mi/h and is killed at LEAK_KILL - 2h; run 1 starts at LEAK_KILL - 2h at
 * 100Mi, leaks 200Mi/h and is killed at LEAK_KILL (its last scrape a minute before, 497Mi),
 * twelve minutes before its alert fires at KILL. kube-state-metrics reports each kill's finishedAt.
 */
const LEAK = { namespace: 'shop', pod: 'leaky-6b8f', container: 'app', cluster: 'prod-eu' };
const LEAK_KILL = KILL - 12 * 60;
function leakySeries(): SeriesSpec[] {
  const run = (id: string, from: number, to: number, base: number, perHour: number): SeriesSpec => {
    const points: Array<[number, number]> = [];
    for (let t = from; t <= to; t += 60) points.push([t, (base + (perHour * (t - from)) / 3600) * Mi]);
    return { name: 'container_memory_working_set_bytes', labels: { ...LEAK, id }, points };
  };
  const firstKill = LEAK_KILL - 2 * 3600 - 60;
  const terminated: Array<[number, number]> = [];
  for (let t = firstKill + 60; t <= NOW.getTime() / 1000; t += 60)
    terminated.push([t, t > LEAK_KILL ? LEAK_KILL : firstKill]);
  const leakyGrid = (from: number) =>
    Array.from({ length: (NOW.getTime() / 1000 - from) / 60 + 1 }, (_, i) => from + i * 60);
  return [
    run('/kubepods/pod-leaky/run-0', LEAK_KILL - 3 * 3600, firstKill, 60, 420),
    run('/kubepods/pod-leaky/run-1', LEAK_KILL - 2 * 3600, LEAK_KILL - 60, 100, 200),
    run('/kubepods/pod-leaky/run-2', LEAK_KILL + 60, NOW.getTime() / 1000, 60, 0),
    {
      name: 'kube_pod_container_status_last_terminated_timestamp',
      labels: { ...LEAK, uid: 'b7c1' },
      points: terminated,
    },
    {
      name: 'kube_pod_container_resource_limits',
      labels: { ...LEAK, resource: 'memory', unit: 'byte' },
      points: leakyGrid(LEAK_KILL - 3 * 3600).map((t) => [t, 512 * Mi]),
    },
  ];
}

/** Ten queues, queue-N at depth N*3 through the last hour. */
function queueSeries(): SeriesSpec[] {
  return Array.from({ length: 10 }, (_, i) => ({
    name: 'queue_depth',
    labels: { queue: `q${i + 1}`, job: 'worker', cluster: 'prod-eu' },
    points: Array.from({ length: 61 }, (_, m) => [KILL - 30 * 60 + m * 60, (i + 1) * 3] as [number, number]),
  }));
}

/** web-1's nginx: 0.45 cores used, 4 of every 10 CFS periods throttled, a 0.5-core limit. */
function cpuSeries(): SeriesSpec[] {
  const labels = { namespace: 'shop', pod: 'web-1', container: 'nginx', cluster: 'prod-eu' };
  const from = NOW.getTime() / 1000 - 70 * 60;
  const counter = (perSecond: number): Array<[number, number]> =>
    Array.from({ length: 71 }, (_, m) => [from + m * 60, 1000 + perSecond * m * 60]);
  return [
    { name: 'container_cpu_usage_seconds_total', labels, points: counter(0.45) },
    { name: 'container_cpu_cfs_periods_total', labels, points: counter(10) },
    { name: 'container_cpu_cfs_throttled_periods_total', labels, points: counter(4) },
    {
      name: 'kube_pod_container_resource_limits',
      labels: { ...labels, resource: 'cpu', unit: 'core' },
      points: counter(0).map(([t]) => [t, 0.5]),
    },
  ];
}

let prom: PrometheusServer;
test.before(async () => {
  prom = await startPrometheus([
    ...memorySeries({ ...POD, cluster: 'prod-eu' }),
    // The same pod name in another cluster of a shared Thanos: only a matcher keeps it out.
    ...memorySeries({ ...POD, cluster: 'prod-us' }, 20, 300),
    ...queueSeries(),
    ...cpuSeries(),
    ...leakySeries(),
  ]);
});
test.after.always(async () => prom?.stop());

function oomIssue(overrides: Partial<Issue> = {}): Issue {
  return makeIssue({
    title: `Pod ${POD.namespace}/${POD.pod} OOMKilled`,
    subject: { kind: 'Pod', name: POD.pod, namespace: POD.namespace, container: POD.container },
    labels: {
      alertname: 'KubePodCrashLooping',
      namespace: POD.namespace,
      pod: POD.pod,
      container: POD.container,
    },
    startsAt: new Date(KILL * 1000).toISOString(),
    enrichments: [oomEnrichment()],
    ...overrides,
  });
}

function configWith(prometheus: Record<string, unknown>) {
  return Config.parse({ prometheus }).prometheus;
}

async function enrich(
  issue: Issue,
  prometheus: Record<string, unknown> = {},
  url = prom.url,
  budgetMs = 10_000,
) {
  const config = configWith({ url, matchers: ['cluster="prod-eu"'], ...prometheus });
  const client = createPrometheusClient({ ...config, url, timeoutMs: config.timeout * 1000 });
  return enrichMetrics(issue, {
    prom: client,
    config,
    timeBudgetMs: budgetMs,
    render: renderChart,
    now: NOW,
  });
}

function image(e: Enrichment | undefined): ImageBlock {
  const img = e?.blocks.find((b): b is ImageBlock => b.type === 'image');
  if (!img) throw new Error(`no image in ${JSON.stringify(e?.blocks.map((b) => b.type))}`);
  return img;
}

/** Pixels of one row whose colour is within `tol` of the hex colour. */
function rowCount(png: PNG, y: number, hex: string, tol = 40): number {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number,
  ];
  let n = 0;
  for (let x = 0; x < png.width; x++) {
    const i = (y * png.width + x) * 4;
    const d =
      Math.abs((png.data[i] ?? 0) - r) +
      Math.abs((png.data[i + 1] ?? 0) - g) +
      Math.abs((png.data[i + 2] ?? 0) - b);
    if (d <= tol) n++;
  }
  return n;
}

test('enrich-metrics: an OOM kill gets the exact peak against the limit and the growth per hour, from the right cluster', async (t) => {
  const e = await enrich(oomIssue());
  t.is(e?.verdict, 'Memory of api-7f9c/app peaked at 509Mi of its 512Mi limit, grew 110Mi/h over 3h');
  t.is(e?.source, 'enrich-metrics');
  t.is(image(e).filename, 'api-7f9c-memory.png');
  t.is(image(e).contentType, 'image/png');
  // The matcher reached every selector Prometheus ran, so prod-us's 300Mi pod never counted.
  const queries = (await prom.queryLog()).filter((q) => q.includes('container_memory_working_set_bytes'));
  t.true(queries.length >= 3);
  for (const q of queries) t.true(q.includes('cluster="prod-eu"'), q);
});

test('enrich-metrics: the memory PNG is 1200x500, not blank, with the limit and request lines at their values and the kill marked at its time', async (t) => {
  const png = PNG.sync.read(Buffer.from(image(await enrich(oomIssue())).data, 'base64'));
  t.is(png.width, CHART_WIDTH);
  t.is(png.height, CHART_HEIGHT);
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4 * 97) colours.add(png.data.readUInt32BE(i));
  t.true(colours.size > 20, `${colours.size} colours`);
  // Opaque throughout: a transparent chart's dark text would vanish on Slack's dark theme.
  let transparent = 0;
  for (let i = 3; i < png.data.length; i += 4) if (png.data[i] !== 255) transparent++;
  t.is(transparent, 0);
  // The y axis runs 0..600Mi (512Mi plus headroom, in round Mi) over the plot's height.
  const rowOf = (bytes: number) =>
    CHART_HEIGHT - PLOT.bottom - (bytes / (600 * Mi)) * (CHART_HEIGHT - PLOT.top - PLOT.bottom);
  const best = (hex: string) => {
    let top = { y: -1, n: 0 };
    for (let y = PLOT.top; y < CHART_HEIGHT - PLOT.bottom; y++) {
      const n = rowCount(png, y, hex);
      if (n > top.n) top = { y, n };
    }
    return top;
  };
  const limit = best('#c0392b');
  t.true(
    Math.abs(limit.y - rowOf(512 * Mi)) <= 2,
    `limit line at row ${limit.y}, expected ${rowOf(512 * Mi)}`,
  );
  t.true(limit.n > 400, `the dashed limit line spans the plot (${limit.n} px)`);
  const request = best('#2a9d55');
  t.true(
    Math.abs(request.y - rowOf(256 * Mi)) <= 2,
    `request line at row ${request.y}, expected ${rowOf(256 * Mi)}`,
  );
});

/** The plot column with the most pixels of the colour: a vertical mark's column. */
function markColumn(png: PNG, hex: string): number {
  let top = { x: -1, n: 0 };
  for (let x = PLOT.left; x < CHART_WIDTH - PLOT.right; x++) {
    let n = 0;
    for (let y = PLOT.top; y < CHART_HEIGHT - PLOT.bottom; y++) n += pixelNear(png, x, y, hex) ? 1 : 0;
    if (n > top.n) top = { x, n };
  }
  return top.x;
}

function pixelNear(png: PNG, x: number, y: number, hex: string, tol = 40): boolean {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number,
  ];
  const i = (y * png.width + x) * 4;
  const d =
    Math.abs((png.data[i] ?? 0) - r) +
    Math.abs((png.data[i + 1] ?? 0) - g) +
    Math.abs((png.data[i + 2] ?? 0) - b);
  return d <= tol;
}

/**
 * The column where the working set (the first palette colour) last falls through the middle of
 * the plot: the drop of the kill, wherever the chart's axis puts it.
 */
function dropColumn(png: PNG): number {
  const middle = (PLOT.top + CHART_HEIGHT - PLOT.bottom) / 2;
  const topOf = (x: number) => {
    for (let y = PLOT.top; y < CHART_HEIGHT - PLOT.bottom; y++) if (pixelNear(png, x, y, '#2f6fbf')) return y;
    return undefined;
  };
  let drop = -1;
  let above = false;
  for (let x = PLOT.left; x < CHART_WIDTH - PLOT.right; x++) {
    const y = topOf(x);
    if (y === undefined) continue;
    if (above && y > middle) drop = x;
    above = y <= middle;
  }
  return drop;
}

test('enrich-metrics: without the kill time from kube-state-metrics, the mark sits at the issue time', async (t) => {
  // api-7f9c has no kube_pod_container_status_last_terminated_timestamp: the window and the mark
  // are centred on the issue's time (KILL), 3h before to 15m after.
  // Its one series drops from 509Mi to 60Mi within the minute after KILL: the mark is on the drop.
  const png = PNG.sync.read(Buffer.from(image(await enrich(oomIssue())).data, 'base64'));
  const x = markColumn(png, '#c0392b');
  const drop = dropColumn(png);
  t.true(drop > PLOT.left && Math.abs(x - drop) <= 6, `mark at column ${x}, the drop at ${drop}`);
});

test('enrich-metrics: a restarted container grows at the rate of its last run, and the kill is marked at its finishedAt, not at the alert', async (t) => {
  const e = await enrich(
    makeIssue({
      title: 'Container app in shop/leaky-6b8f was OOMKilled',
      subject: { kind: 'Pod', name: LEAK.pod, namespace: LEAK.namespace, container: LEAK.container },
      labels: { alertname: 'KubeContainerOOMKilled', ...LEAK },
      // The alert fires twelve minutes after the kill (its `for:` and evaluation).
      startsAt: new Date(KILL * 1000).toISOString(),
      enrichments: [oomEnrichment()],
    }),
  );
  // Run 1 is the one going at the kill: 200Mi/h over its 2h, not run 0's steeper 420Mi/h.
  t.is(
    e?.verdict,
    'Memory of leaky-6b8f/app peaked at 497Mi of its 512Mi limit, grew 200Mi/h over its last run (2h)',
  );
  // The mark is on the kill's drop (497Mi to 60Mi); the alert twelve minutes later would be
  // some 65 columns to its right (the chart's 3h15m over some 1060 columns).
  const png = PNG.sync.read(Buffer.from(image(e).data, 'base64'));
  const x = markColumn(png, '#c0392b');
  const drop = dropColumn(png);
  t.true(drop > PLOT.left && Math.abs(x - drop) <= 6, `mark at column ${x}, the drop at ${drop}`);
});

test('enrich-metrics: the alert expression is drawn from its generatorURL, top series only, with a note on the rest', async (t) => {
  const url = `http://prometheus:9090/graph?g0.expr=${encodeURIComponent('queue_depth > 5')}&g0.tab=1`;
  const issue = makeIssue({
    title: 'Queues backing up',
    subject: { kind: 'Namespace', name: 'jobs' },
    labels: { alertname: 'QueueBacklog' },
    links: [{ type: 'graph', title: 'Graph', url }],
    startsAt: new Date(KILL * 1000).toISOString(),
  });
  const e = await enrich(issue, { alertGraph: { topSeries: 5 } }, prom.url);
  t.is(image(e).filename, 'QueueBacklog-expression.png');
  const notes = e?.blocks.find((b) => b.type === 'markdown');
  // queue_depth > 5 keeps q2..q10 (depth 6..30): nine series, the five deepest drawn.
  t.deepEqual(notes, {
    type: 'markdown',
    text: 'QueueBacklog-expression.png: the top 5 of 9 series by peak value.',
  });
  t.regex(image(e).alt, /queue_depth > 5/);
  t.true((await prom.queryLog()).includes('queue_depth{cluster="prod-eu"} > 5'));
});

test('enrich-metrics: CPUThrottlingHigh gets the throttled share of CFS periods and usage against the limit, drawn', async (t) => {
  const issue = makeIssue({
    title: 'CPU throttling high',
    subject: { kind: 'Pod', name: 'web-1', namespace: 'shop', container: 'nginx' },
    labels: { alertname: 'CPUThrottlingHigh', namespace: 'shop', pod: 'web-1', container: 'nginx' },
    links: [{ type: 'graph', title: 'Graph', url: 'http://prometheus:9090/graph?g0.expr=up' }],
    startsAt: NOW.toISOString(),
  });
  const e = await enrich(issue);
  t.is(
    e?.verdict,
    'CPU of web-1/nginx throttled in 40% of CPU periods over 1h, used up to 0.45 cores of its 0.5 cores limit',
  );
  t.deepEqual(
    e?.blocks.map((b) => (b.type === 'image' ? b.filename : b.type)),
    ['web-1-cpu.png'],
    'the CPU graph stands for the alert expression',
  );
});

test('enrich-metrics: a custom workflow graph action is planned at ingest and drawn over its duration', async (t) => {
  const config = Config.parse({
    prometheus: { url: prom.url },
    customWorkflows: [
      {
        name: 'queues',
        triggers: [{ on: 'alert', alertName: 'QueueBacklog' }],
        actions: [
          { graph: { query: 'sum by (job) (queue_depth)', title: 'Queue depth by job', duration: '30m' } },
        ],
      },
    ],
  });
  const alert = makeIssue({
    title: 'Queues backing up',
    subject: { kind: 'Namespace', name: 'jobs' },
    labels: { alertname: 'QueueBacklog' },
    startsAt: NOW.toISOString(),
  });
  const planned = planIssue(alert, config).issue as Issue;
  t.deepEqual(planned.plan, ['enrichmetrics', 'dispatch']);
  t.deepEqual(planned.actions?.graphs, [
    { query: 'sum by (job) (queue_depth)', title: 'Queue depth by job', unit: 'none', seconds: 1800 },
  ]);
  const e = await enrich(planned);
  t.is(image(e).filename, 'Queue-depth-by-job.png');
  t.is(image(e).alt, 'Queue depth by job over the last 30m');
  // q1..q10 at depths 3..30 sum to 165 for the one job, in prod-eu.
  const series = await createPrometheusClient({ url: prom.url, timeoutMs: 5000 }).query(
    'sum by (job) (queue_depth{cluster="prod-eu"})',
    NOW.getTime() / 1000,
  );
  t.deepEqual(series, [{ labels: { job: 'worker' }, points: [[NOW.getTime() / 1000, 165]] }]);
});

test('enrich-metrics: pictures past the stage share of the event size give way to a note', async (t) => {
  const graph = (i: number) => ({
    query: `queue_depth * ${i + 1}`,
    title: `Queues x${i + 1}`,
    unit: 'none' as const,
    seconds: 3600,
  });
  const issue = makeIssue({
    subject: { kind: 'Namespace', name: 'jobs' },
    labels: { alertname: 'QueueBacklog' },
    actions: { graphs: [0, 1, 2, 3, 4].map(graph) },
  });
  const found = (await enrich(issue)) as Enrichment;
  t.is(found.blocks.filter((b) => b.type === 'image').length, 5);
  const fitted = fitEnrichment(found, ISSUE_LIMITS.metricsEnrichmentBytes);
  t.true(Buffer.byteLength(JSON.stringify(fitted)) <= ISSUE_LIMITS.metricsEnrichmentBytes);
  const kept = fitted.blocks.filter((b) => b.type === 'image').length;
  t.true(kept >= 1 && kept < 5, `${kept} pictures kept`);
  t.deepEqual(fitted.blocks.at(-1), {
    type: 'markdown',
    text: `${5 - kept} more block(s) left out: the event size limit was reached.`,
  });
});

test('enrich-metrics: a pod without cAdvisor series gets a note naming the missing metric, no graph', async (t) => {
  const e = await enrich(
    oomIssue({ subject: { kind: 'Pod', name: 'ghost-1', namespace: 'shop' }, labels: {} }),
  );
  t.is(e?.verdict, undefined);
  t.deepEqual(e?.blocks, [
    {
      type: 'markdown',
      text: 'No container_memory_working_set_bytes series for pod shop/ghost-1 (cAdvisor metrics missing?): no memory graph.',
    },
  ]);
});

test('enrich-metrics: nothing to draw for a resolved issue or an issue without a pod or graph link', async (t) => {
  t.is(await enrich(oomIssue({ status: 'resolved', endsAt: NOW.toISOString() })), undefined);
  t.is(await enrich(makeIssue({ enrichments: [] })), undefined);
  t.is(await enrich(oomIssue(), { memory: { enabled: false } }), undefined);
});

test('enrich-metrics: Prometheus down is one line', async (t) => {
  const port = await freePort();
  const e = await enrich(oomIssue(), {}, `http://127.0.0.1:${port}`);
  t.deepEqual(e?.blocks, [{ type: 'markdown', text: 'Prometheus unreachable (ECONNREFUSED): no graphs.' }]);
});

test('enrich-metrics: a Prometheus that never answers is cut by the query timeout or the budget, one line, the message goes on', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer(() => {});
  silent.on('connection', (s) => sockets.add(s));
  const url = await listen(silent);
  try {
    // The query timeout first (the budget is 10 s here)...
    const e = await enrich(oomIssue(), { timeout: '1s' }, url);
    t.deepEqual(e?.blocks, [
      { type: 'markdown', text: 'Prometheus did not answer in time (no answer in 1000 ms): no graphs.' },
    ]);
    // ...or the enrichment's budget, when it is the shorter.
    const b = await enrich(oomIssue(), { timeout: '1m' }, url, 500);
    t.deepEqual(b?.blocks, [
      {
        type: 'markdown',
        text: 'Prometheus did not answer in time (the enrichment budget ran out): no graphs.',
      },
    ]);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('enrich-metrics: a gateway answering 401 gives the credentials note; a rotated token file is read again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prom-token-'));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 'old-token\n');
  const gateway = authGateway(prom.url, 'Bearer new-token', 'tenant-a');
  const url = await listen(gateway);
  try {
    const settings = { bearerTokenFile: tokenFile, headers: { 'X-Scope-OrgID': 'tenant-a' } };
    const refused = await enrich(oomIssue(), settings, url);
    t.deepEqual(refused?.blocks, [
      {
        type: 'markdown',
        text: 'Prometheus refused the credentials (HTTP 401): check the token, basic auth or tenant header.',
      },
    ]);
    // The Secret rotates: the same settings now carry the new token (a later mtime).
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(tokenFile, 'new-token\n');
    const e = await enrich(oomIssue(), settings, url);
    t.is(e?.verdict, 'Memory of api-7f9c/app peaked at 509Mi of its 512Mi limit, grew 110Mi/h over 3h');
  } finally {
    gateway.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('enrich-metrics: basic auth from a password file reaches a gateway that asks for it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prom-basic-'));
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 's3cret\n');
  const gateway = authGateway(
    prom.url,
    `Basic ${Buffer.from('agent:s3cret').toString('base64')}`,
    'tenant-b',
  );
  const url = await listen(gateway);
  try {
    const headers = { 'X-Scope-OrgID': 'tenant-b' };
    const e = await enrich(oomIssue(), { basicAuth: { username: 'agent', passwordFile }, headers }, url);
    t.is(e?.verdict, 'Memory of api-7f9c/app peaked at 509Mi of its 512Mi limit, grew 110Mi/h over 3h');
    const wrong = await enrich(
      oomIssue(),
      { basicAuth: { username: 'agent', password: 'nope' }, headers },
      url,
    );
    t.regex(JSON.stringify(wrong?.blocks), /Prometheus refused the credentials \(HTTP 401\)/);
  } finally {
    gateway.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * The authenticating proxy in front of Mimir or a secured Prometheus: 401 without the expected
 * Authorization and tenant header, otherwise the request passed on as it came.
 */
function authGateway(target: string, authorization: string, tenant: string): Server {
  return createServer((req, res) => {
    if (req.headers.authorization !== authorization || req.headers['x-scope-orgid'] !== tenant) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('no valid credentials\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = await fetch(`${target}${req.url}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        body: Buffer.concat(chunks),
      });
      res
        .writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' })
        .end(await r.text());
    });
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

test('enrich-metrics as a function: the reply moves the plan on, and Slack gets the PNG inline in the thread, byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'metrics-fn-'));
  const file = join(dir, 'workflows.yaml');
  await writeFile(
    file,
    `prometheus:\n  url: ${prom.url}\n  matchers: ['cluster="prod-eu"']\n  memory: { after: 10m }\n`,
  );
  const slack = await startSlackStandin();
  const fn = createMetricsFunction({ CONFIG_FILE: file, ENRICH_BUDGET_MS: '8000' });
  try {
    await fn.init?.();
    const issue = oomIssue({
      plan: ['enrichmetrics', 'dispatch'],
      startsAt: new Date((Math.floor(Date.now() / 1000) - 60) * 1000).toISOString(),
    });
    const reply = (await fn.handle(ctx(), issueEvent(issue, '/test', TRACE))) as CloudEvent<Issue>;
    t.is(reply.nextstage, 'dispatch');
    const out = Issue.parse(reply.data);
    t.deepEqual(out.plan, ['dispatch']);
    // Today's kill has no series in the backfilled past: a note naming the metric, nothing else.
    t.regex(
      JSON.stringify(out.enrichments.at(-1)),
      /No container_memory_working_set_bytes series for pod shop\/api-7f9c/,
    );

    // The OOM kill the series describe: its picture goes to Slack as a file in the thread.
    const enriched = {
      ...out,
      enrichments: [...out.enrichments.slice(0, -1), (await enrich(oomIssue())) as Enrichment],
    };
    const dest = new SlackDestination({
      token: slack.token,
      channel: 'C0ALERTS',
      apiUrl: slack.url,
      timeoutMs: 5000,
    });
    const ref = await dest.postRoot({ issue: enriched, status: 'firing', verdicts: [] } as never);
    await dest.postDetails(ref, enriched);
    await dest.uploadFiles(ref, enriched);
    const png = slack.files.find((f) => f.filename === 'api-7f9c-memory.png');
    t.is(png?.thread_ts, ref.ts);
    t.is(png?.title, 'Memory working set: shop/api-7f9c');
    t.deepEqual(png?.bytes, Buffer.from(image(enriched.enrichments.at(-1)).data, 'base64'));
    t.regex(
      JSON.stringify(slack.replies('C0ALERTS', ref.ts)[0]?.attachments),
      /Memory of api-7f9c\/app peaked at 509Mi of its 512Mi limit/,
    );
  } finally {
    await fn.shutdown?.();
    await slack.close();
    await rm(dir, { recursive: true, force: true });
  }
});

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const ctx = () => ({ log: captureLogs().log, traceparent: TRACE }) as unknown as InvocationContext;

test('enrich-metrics as a function: settings it cannot use (a missing CA file) are one line, and the issue goes on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'metrics-fn-'));
  const file = join(dir, 'workflows.yaml');
  await writeFile(
    file,
    `prometheus:\n  url: https://prometheus.example:9090\n  caFile: ${join(dir, 'missing-ca.crt')}\n`,
  );
  const fn = createMetricsFunction({ CONFIG_FILE: file });
  try {
    await fn.init?.();
    const reply = (await fn.handle(
      ctx(),
      issueEvent(oomIssue({ plan: ['enrichmetrics', 'dispatch'] }), '/test', TRACE),
    )) as CloudEvent<Issue>;
    t.is(reply.nextstage, 'dispatch');
    const metrics = Issue.parse(reply.data).enrichments.find((e) => e.source === 'enrich-metrics');
    t.is(metrics?.blocks.length, 1);
    t.regex(
      JSON.stringify(metrics?.blocks[0]),
      /Prometheus settings unusable: ENOENT: no such file or directory, open '.*missing-ca\.crt': no graphs\./,
    );
  } finally {
    await fn.shutdown?.();
    await rm(dir, { recursive: true, force: true });
  }
});
