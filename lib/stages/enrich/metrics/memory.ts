// Memory around an OOM kill or a memory alert: the container's working set from well before the
// kill to a little after, its limit and request as lines, the kill marked, and the verdict's
// numbers (peak against the limit, growth per hour) computed by Prometheus from raw samples.
// A restarted container is a new cAdvisor series (a new `id`), so the growth is the slope of the
// run that was going at the kill, and the text says when that run is shorter than the window.

import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, podMatchers, q, stepFor } from './part.ts';

const WS = 'container_memory_working_set_bytes';
/** kube-state-metrics: lastState.terminated.finishedAt of each container, in unix seconds. */
const LAST_TERMINATED = 'kube_pod_container_status_last_terminated_timestamp';
const MiB = 1024 * 1024;
/** A run shorter than this has no trend worth a number (a fresh start's warm-up). */
const MIN_RUN_SECONDS = 10 * 60;

/** Where the window is centred: the issue's time, and whether that time is the kill itself. */
export interface MemoryMoment {
  /** Unix seconds: the alert's start (or its latest repeat), or the Pod signal's finishedAt. */
  seenAt: number;
  /** True when `seenAt` is the kill (a Pod signal), false when it is an alert's start. */
  isKill: boolean;
}

export async function memoryPart(
  ctx: MetricsCtx,
  target: NonNullable<MetricsParts['memory']>,
  moment: MemoryMoment,
): Promise<PartResult> {
  const kill = target.killed ? await lastKill(ctx, target, moment.seenAt) : undefined;
  const killAt = kill ?? moment.seenAt;
  const { before, after } = ctx.config.memory;
  const end = Math.min(ctx.now, killAt + after);
  const start = killAt - before;
  const sel = podMatchers(target);
  const resource = (kind: string) =>
    `max by (container) (kube_pod_container_resource_${kind}{namespace=${q(target.namespace)},pod=${q(target.pod)},resource="memory"})`;
  // Unaggregated: one series per container run, so a restart never passes for growth or a drop.
  const [runs, peak, slopes, limits, requests] = await Promise.all([
    ctx.prom.queryRange(
      { query: `${WS}{${sel}}`, start, end, stepSeconds: stepFor(end - start) },
      ctx.signal,
    ),
    ctx.prom.query(`max by (container) (max_over_time(${WS}{${sel}}[${end - start}s]))`, end, ctx.signal),
    ctx.prom.query(`deriv(${WS}{${sel}}[${before}s])`, killAt, ctx.signal),
    ctx.prom.query(resource('limits'), killAt, ctx.signal),
    ctx.prom.query(resource('requests'), killAt, ctx.signal),
  ]);
  const who = `${target.namespace}/${target.pod}`;
  if (runs.length === 0) {
    throw new PrometheusError(
      'empty',
      `No ${WS} series for pod ${who} (cAdvisor metrics missing?): no memory graph.`,
    );
  }
  const notes: string[] = [];
  if (limits.length === 0)
    notes.push(`No kube_pod_container_resource_limits series for ${who}: no limit line.`);
  const usage = byContainer(runs);
  // The container closest to its limit is the one the verdict is about.
  const ratio = (c: string) => (latest(peak, c) ?? 0) / (latest(limits, c) ?? Number.POSITIVE_INFINITY);
  const worst =
    target.container ?? [...usage.keys()].sort((a, b) => ratio(b) - ratio(a) || byPeak(peak, a, b))[0] ?? '';
  const limit = latest(limits, worst);
  const request = latest(requests, worst);
  const top = latest(peak, worst);
  const clauses = [
    top === undefined
      ? undefined
      : limit === undefined
        ? `peaked at ${mi(top)} (no limit set)`
        : `peaked at ${mi(top)} of its ${mi(limit)} limit`,
    growthClause(runs, slopes, worst, killAt, before),
  ].filter((c): c is string => c !== undefined);
  const lines = [
    ...(limit === undefined ? [] : [{ name: 'limit', value: limit, color: '#c0392b' }]),
    ...(request === undefined ? [] : [{ name: 'request', value: request, color: '#2a9d55' }]),
  ];
  // The mark says what its time is: the kill when known, else the alert that reported it.
  const label = target.killed && (kill !== undefined || moment.isKill) ? 'OOMKilled' : 'alert';
  return {
    ...(clauses.length ? { verdict: `memory of ${target.pod}/${worst} ${clauses.join(', ')}` } : {}),
    notes,
    charts: [
      {
        filename: `${target.pod}-memory.png`,
        alt: `Working set of ${who}${clauses.length ? `: ${clauses.join(', ')}` : ''}`,
        spec: {
          title: `Memory working set: ${who}`,
          unit: 'bytes',
          start,
          end,
          series: [...usage].map(([c, points]) => ({ name: `working set ${c}`.trim(), points })),
          lines,
          marks: killAt <= end ? [{ time: killAt, label }] : [],
        },
      },
    ],
  };
}

/**
 * The container's last termination as kube-state-metrics reports it (the Pod's
 * lastState.terminated.finishedAt), when it is no later than now and not long before the issue;
 * undefined when kube-state-metrics does not export it (older versions) or has no termination.
 */
async function lastKill(
  ctx: MetricsCtx,
  t: NonNullable<MetricsParts['memory']>,
  seenAt: number,
): Promise<number | undefined> {
  const container = t.container ? `,container=${q(t.container)}` : '';
  const found = await ctx.prom.query(
    `max(${LAST_TERMINATED}{namespace=${q(t.namespace)},pod=${q(t.pod)}${container}})`,
    ctx.now,
    ctx.signal,
  );
  const at = found[0]?.points.at(-1)?.[1];
  if (at === undefined || !Number.isFinite(at)) return undefined;
  const kill = Math.floor(at);
  return kill <= ctx.now && kill >= seenAt - ctx.config.memory.before ? kill : undefined;
}

/**
 * "grew N/h over 3h", from the slope of the run going at `at` (the latest run started by then);
 * "over its last run (17m)" when that run began inside the window. Undefined below 1 MiB/h or
 * for a run too short to show a trend.
 */
function growthClause(
  runs: Series[],
  slopes: Series[],
  container: string,
  at: number,
  window: number,
): string | undefined {
  const mine = runs.filter((r) => (r.labels.container ?? '') === container || runs.length === 1);
  const started = mine.filter((r) => (r.points[0]?.[0] ?? Number.POSITIVE_INFINITY) <= at);
  const run = started.sort((a, b) => (b.points[0]?.[0] ?? 0) - (a.points[0]?.[0] ?? 0))[0];
  if (!run) return undefined;
  const key = runKey(run.labels);
  const slope = slopes.find((s) => runKey(s.labels) === key)?.points.at(-1)?.[1];
  const from = run.points[0]?.[0] ?? at;
  const last = run.points.filter(([t]) => t <= at).at(-1)?.[0] ?? from;
  const span = last - from;
  if (slope === undefined || Number.isNaN(slope) || span < MIN_RUN_SECONDS) return undefined;
  const perHour = slope * 3600;
  if (perHour < MiB) return undefined;
  // A run that was already going when the window opened covers the whole window.
  const whole = from <= at - window + stepFor(window);
  return whole
    ? `grew ${mi(perHour)}/h over ${formatDuration(window * 1000)}`
    : `grew ${mi(perHour)}/h over its last run (${formatDuration(span * 1000)})`;
}

/** A run's identity: its labels without the metric name (functions drop it). */
function runKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== '__name__')
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

/**
 * Each container's runs as one line, in time order. Where two runs share a step (a killed run's
 * last value lingers for Prometheus' lookback), the run that started later is the live one.
 */
function byContainer(runs: Series[]): Map<string, Array<[number, number]>> {
  const out = new Map<string, Map<number, number>>();
  const byStart = [...runs].sort((a, b) => (a.points[0]?.[0] ?? 0) - (b.points[0]?.[0] ?? 0));
  for (const r of byStart) {
    const c = r.labels.container ?? '';
    const points = out.get(c) ?? new Map<number, number>();
    for (const [t, v] of r.points) points.set(t, v);
    out.set(c, points);
  }
  return new Map(
    [...out].map(([c, points]) => [c, [...points].sort(([a], [b]) => a - b) as Array<[number, number]>]),
  );
}

function latest(series: Series[], container: string): number | undefined {
  const s =
    series.find((x) => (x.labels.container ?? '') === container) ??
    (series.length === 1 ? series[0] : undefined);
  const v = s?.points.at(-1)?.[1];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

function byPeak(peak: Series[], a: string, b: string): number {
  return (latest(peak, b) ?? 0) - (latest(peak, a) ?? 0);
}

function mi(bytes: number): string {
  return formatValue(bytes, 'bytes');
}
