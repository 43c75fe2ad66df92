// Memory around an OOM kill or a memory alert: the container's working set from well before the
// kill to a little after, its limit and request as lines, the kill marked, and the verdict's
// numbers (peak against the limit, growth per hour) computed by Prometheus from raw samples.

import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, podMatchers, q, stepFor } from './part.ts';

const WS = 'container_memory_working_set_bytes';
const MiB = 1024 * 1024;

/** `killAt`: unix seconds of the kill (or of the alert), where the window is centred. */
export async function memoryPart(
  ctx: MetricsCtx,
  target: NonNullable<MetricsParts['memory']>,
  killAt: number,
): Promise<PartResult> {
  const { before, after } = ctx.config.memory;
  const end = Math.min(ctx.now, killAt + after);
  const start = killAt - before;
  const sel = podMatchers(target);
  const resource = (kind: string) =>
    `max by (container) (kube_pod_container_resource_${kind}{namespace=${q(target.namespace)},pod=${q(target.pod)},resource="memory"})`;
  const [usage, peak, growth, limits, requests] = await Promise.all([
    ctx.prom.queryRange(
      { query: `max by (container) (${WS}{${sel}})`, start, end, stepSeconds: stepFor(end - start) },
      ctx.signal,
    ),
    ctx.prom.query(`max by (container) (max_over_time(${WS}{${sel}}[${end - start}s]))`, end, ctx.signal),
    ctx.prom.query(`max by (container) (deriv(${WS}{${sel}}[${before}s]))`, killAt, ctx.signal),
    ctx.prom.query(resource('limits'), killAt, ctx.signal),
    ctx.prom.query(resource('requests'), killAt, ctx.signal),
  ]);
  const who = `${target.namespace}/${target.pod}`;
  if (usage.length === 0) {
    throw new PrometheusError(
      'empty',
      `No ${WS} series for pod ${who} (cAdvisor metrics missing?): no memory graph.`,
    );
  }
  const notes: string[] = [];
  if (limits.length === 0)
    notes.push(`No kube_pod_container_resource_limits series for ${who}: no limit line.`);
  // The container closest to its limit is the one the verdict is about.
  const containers = usage.map((s) => s.labels.container ?? '');
  const ratio = (c: string) => (latest(peak, c) ?? 0) / (latest(limits, c) ?? Number.POSITIVE_INFINITY);
  const worst =
    target.container ?? [...containers].sort((a, b) => ratio(b) - ratio(a) || byPeak(peak, a, b))[0] ?? '';
  const limit = latest(limits, worst);
  const request = latest(requests, worst);
  const top = latest(peak, worst);
  const perHour = (latest(growth, worst) ?? 0) * 3600;
  const clauses = [
    top === undefined
      ? undefined
      : limit === undefined
        ? `peaked at ${mi(top)} (no limit set)`
        : `peaked at ${mi(top)} of its ${mi(limit)} limit`,
    perHour >= MiB ? `grew ${mi(perHour)}/h over ${formatDuration(before * 1000)}` : undefined,
  ].filter((c): c is string => c !== undefined);
  const lines = [
    ...(limit === undefined ? [] : [{ name: 'limit', value: limit, color: '#c0392b' }]),
    ...(request === undefined ? [] : [{ name: 'request', value: request, color: '#2a9d55' }]),
  ];
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
          series: usage.map((s) => ({
            name: `working set ${s.labels.container ?? ''}`.trim(),
            points: s.points,
          })),
          lines,
          marks: killAt <= end ? [{ time: killAt, label: target.killed ? 'OOMKilled' : 'alert' }] : [],
        },
      },
    ],
  };
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
