// A PersistentVolumeClaim filling up (KubePersistentVolumeFillingUp): used bytes against the
// capacity line over the window, and days until full at the rate of the last `trend`, both
// from the kubelet's volume stats.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, q, stepFor } from './part.ts';

const USED = 'kubelet_volume_stats_used_bytes';
const CAPACITY = 'kubelet_volume_stats_capacity_bytes';
const AVAILABLE = 'kubelet_volume_stats_available_bytes';

export async function volumePart(
  ctx: MetricsCtx,
  v: NonNullable<MetricsParts['volume']>,
): Promise<PartResult> {
  const { window, trend } = ctx.config.volumes;
  const end = ctx.now;
  const start = end - window;
  const sel = `namespace=${q(v.namespace)},persistentvolumeclaim=${q(v.claim)}`;
  const [used, capacity, available, slope] = await Promise.all([
    ctx.prom.queryRange(
      { query: `max(${USED}{${sel}})`, start, end, stepSeconds: stepFor(window) },
      ctx.signal,
    ),
    ctx.prom.query(`max(${CAPACITY}{${sel}})`, end, ctx.signal),
    ctx.prom.query(`max(${AVAILABLE}{${sel}})`, end, ctx.signal),
    ctx.prom.query(`max(deriv(${AVAILABLE}{${sel}}[${trend}s]))`, end, ctx.signal),
  ]);
  const who = `${v.namespace}/${v.claim}`;
  if (used.length === 0)
    throw new PrometheusError(
      'empty',
      `No ${USED} series for claim ${who} (kubelet volume stats missing?): no graph.`,
    );
  const cap = only(capacity);
  const free = only(available);
  const now = used[0]?.points.at(-1)?.[1];
  const clauses: string[] = [];
  if (now !== undefined && cap !== undefined)
    clauses.push(
      `is ${formatValue(now / cap, 'ratio')} full (${formatValue(now, 'bytes')} of ${formatValue(cap, 'bytes')})`,
    );
  const perSecond = only(slope);
  clauses.push(fillClause(free, perSecond, trend));
  return {
    verdict: `volume ${who} ${clauses.join(', ')}`,
    notes: cap === undefined ? [`No ${CAPACITY} series for ${who}: no capacity line.`] : [],
    charts: [
      {
        filename: `${v.claim}-volume.png`,
        alt: `Used space of ${who}: ${clauses.join(', ')}`,
        spec: {
          title: `Volume used: ${who}`,
          unit: 'bytes',
          start,
          end,
          series: [{ name: 'used', points: used[0]?.points ?? [] }],
          lines: cap === undefined ? [] : [{ name: 'capacity', value: cap, color: '#c0392b' }],
        },
      },
    ],
  };
}

/** "full in about 2.3 days at the last 6h's rate", or that it is not filling. */
export function fillClause(free: number | undefined, perSecond: number | undefined, trend: number): string {
  const over = formatDuration(trend * 1000);
  if (free === undefined || perSecond === undefined || Number.isNaN(perSecond)) return 'no fill rate known';
  if (perSecond >= 0) return `not filling over the last ${over}`;
  const days = free / -perSecond / 86_400;
  return `full in about ${days < 10 ? days.toFixed(1) : Math.round(days)} days at the last ${over}'s rate`;
}

function only(s: Series[]): number | undefined {
  const v = s[0]?.points.at(-1)?.[1];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}
