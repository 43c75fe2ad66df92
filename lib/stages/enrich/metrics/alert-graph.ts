// The alert's own expression (from its generatorURL) over the last hour: the seeds' graph
// enricher. Only the top series by peak value are drawn, each named by the labels that tell it
// apart from the others, so the legend stays readable.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { type MetricsCtx, type PartResult, stepFor } from './part.ts';

const LEGEND_CHARS = 60;

export async function alertGraphPart(ctx: MetricsCtx, expr: string, alertname: string): Promise<PartResult> {
  const { window, topSeries } = ctx.config.alertGraph;
  const end = ctx.now;
  const start = end - window;
  const all = await ctx.prom.queryRange(
    { query: expr, start, end, stepSeconds: stepFor(window) },
    ctx.signal,
  );
  if (all.length === 0)
    return { notes: [`The alert's expression has no series over the last ${window / 60}m.`], charts: [] };
  const peak = (s: Series) => Math.max(...s.points.map((p) => p[1]).filter(Number.isFinite));
  const top = [...all].sort((a, b) => peak(b) - peak(a)).slice(0, topSeries);
  const names = legendNames(top);
  const notes =
    all.length > top.length
      ? [`Graph shows the top ${top.length} of ${all.length} series by peak value.`]
      : [];
  return {
    notes,
    charts: [
      {
        filename: `${safe(alertname || 'alert')}-expression.png`,
        alt: `${alertname || 'Alert'} expression over the last ${window / 60}m: ${expr}`.slice(0, 1000),
        spec: {
          title: `${alertname || 'Alert'}: ${expr}`.slice(0, 110),
          unit: 'none',
          start,
          end,
          series: top.map((s, i) => ({ name: names[i] ?? '', points: s.points })),
        },
      },
    ],
  };
}

/** Each series named by the labels whose values differ between the series shown. */
export function legendNames(series: Series[]): string[] {
  const keys = new Set(series.flatMap((s) => Object.keys(s.labels)));
  const varying = [...keys].filter((k) => new Set(series.map((s) => s.labels[k])).size > 1).sort();
  return series.map((s, i) => {
    const shown = varying.length ? varying : Object.keys(s.labels).sort();
    const text = shown.map((k) => `${k}=${s.labels[k] ?? ''}`).join(', ') || `series ${i + 1}`;
    return text.length > LEGEND_CHARS ? `${text.slice(0, LEGEND_CHARS - 1)}…` : text;
  });
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 80);
}
