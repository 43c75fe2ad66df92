// CPU throttling (CPUThrottlingHigh, pods near their CPU limit): the share of CFS periods in
// which each container was throttled over the window, and its usage drawn against its limit.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, podMatchers, q, stepFor } from './part.ts';

const USAGE = 'container_cpu_usage_seconds_total';
const PERIODS = 'container_cpu_cfs_periods_total';
const THROTTLED = 'container_cpu_cfs_throttled_periods_total';

export async function cpuPart(
  ctx: MetricsCtx,
  target: NonNullable<MetricsParts['cpu']>,
): Promise<PartResult> {
  const { window } = ctx.config.cpuThrottling;
  const end = ctx.now;
  const start = end - window;
  const sel = podMatchers(target);
  const inc = (m: string) => `sum by (container) (increase(${m}{${sel}}[${window}s]))`;
  const [ratio, usage, limits] = await Promise.all([
    ctx.prom.query(`${inc(THROTTLED)} / ${inc(PERIODS)}`, end, ctx.signal),
    ctx.prom.queryRange(
      { query: `sum by (container) (rate(${USAGE}{${sel}}[5m]))`, start, end, stepSeconds: stepFor(window) },
      ctx.signal,
    ),
    ctx.prom.query(
      `max by (container) (kube_pod_container_resource_limits{namespace=${q(target.namespace)},pod=${q(target.pod)},resource="cpu"})`,
      end,
      ctx.signal,
    ),
  ]);
  const who = `${target.namespace}/${target.pod}`;
  const notes: string[] = [];
  if (ratio.length === 0) notes.push(`No ${THROTTLED} series for pod ${who}: no throttling figure.`);
  if (usage.length === 0) notes.push(`No ${USAGE} series for pod ${who}: no CPU graph.`);
  if (usage.length > 0 && limits.length === 0) notes.push(`No CPU limit series for ${who}: no limit line.`);
  // The most throttled container is the one the verdict is about.
  const worst = [...ratio].sort((a, b) => last(b) - last(a))[0];
  const container = target.container ?? worst?.labels.container ?? usage[0]?.labels.container ?? '';
  const limit = pick(limits, container);
  const share = worst ? last(worst) : undefined;
  const peak = Math.max(
    0,
    ...((usage.find((s) => s.labels.container === container) ?? usage[0])?.points.map((p) => p[1]) ?? []),
  );
  const clauses = [
    share === undefined || Number.isNaN(share)
      ? undefined
      : `throttled in ${formatValue(share, 'ratio')} of CPU periods over ${formatDuration(window * 1000)}`,
    usage.length === 0
      ? undefined
      : `used up to ${formatValue(peak, 'cores')}${limit === undefined ? ' (no limit set)' : ` of its ${formatValue(limit, 'cores')} limit`}`,
  ].filter((c): c is string => c !== undefined);
  return {
    ...(clauses.length ? { verdict: `CPU of ${target.pod}/${container} ${clauses.join(', ')}` } : {}),
    notes,
    charts: usage.length
      ? [
          {
            filename: `${target.pod}-cpu.png`,
            alt: `CPU usage of ${who}${clauses.length ? `: ${clauses.join(', ')}` : ''}`,
            spec: {
              title: `CPU usage: ${who}`,
              unit: 'cores',
              start,
              end,
              series: usage.map((s) => ({
                name: `usage ${s.labels.container ?? ''}`.trim(),
                points: s.points,
              })),
              lines: limit === undefined ? [] : [{ name: 'limit', value: limit, color: '#c0392b' }],
            },
          },
        ]
      : [],
  };
}

function last(s: Series): number {
  return s.points.at(-1)?.[1] ?? Number.NaN;
}

function pick(series: Series[], container: string): number | undefined {
  const s =
    series.find((x) => x.labels.container === container) ?? (series.length === 1 ? series[0] : undefined);
  return s ? last(s) : undefined;
}
