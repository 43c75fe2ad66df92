// An expression over a window: the alert's own (from its generatorURL; the seeds' graph
// enricher) or a custom workflow's `graph` action. Only the top series by peak value are drawn,
// each named by the labels that tell it apart from the others, so the legend stays readable.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import type { ChartUnit } from '../../../adapters/prometheus/format.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, stepFor } from './part.ts';

export interface ExprGraph {
  expr: string;
  title: string;
  unit: ChartUnit;
  /** Seconds back from now. */
  window: number;
  filename: string;
}

const LEGEND_CHARS = 60;

export function alertGraphPart(ctx: MetricsCtx, expr: string, alertname: string): Promise<PartResult> {
  const name = alertname || 'Alert';
  return exprGraphPart(ctx, {
    expr,
    title: `${name}: ${expr}`,
    unit: 'none',
    window: ctx.config.alertGraph.window,
    filename: `${safe(alertname || 'alert')}-expression.png`,
  });
}

export async function exprGraphPart(ctx: MetricsCtx, g: ExprGraph): Promise<PartResult> {
  const { topSeries } = ctx.config.alertGraph;
  const end = ctx.now;
  const start = end - g.window;
  const all = await ctx.prom.queryRange(
    { query: g.expr, start, end, stepSeconds: stepFor(g.window) },
    ctx.signal,
  );
  const span = formatDuration(g.window * 1000);
  if (all.length === 0) throw new PrometheusError('empty', `No series for ${g.expr} over the last ${span}.`);
  const peak = (s: Series) => Math.max(...s.points.map((p) => p[1]).filter(Number.isFinite));
  const top = [...all].sort((a, b) => peak(b) - peak(a)).slice(0, topSeries);
  const names = legendNames(top);
  const notes =
    all.length > top.length
      ? [`${g.filename}: the top ${top.length} of ${all.length} series by peak value.`]
      : [];
  return {
    notes,
    charts: [
      {
        filename: g.filename,
        alt: `${g.title} over the last ${span}`.slice(0, 1000),
        spec: {
          title: g.title.length > 110 ? `${g.title.slice(0, 109)}…` : g.title,
          unit: g.unit,
          start,
          end,
          series: top.map((s, i) => ({ name: names[i] ?? '', points: s.points })),
        },
      },
    ],
  };
}

/** A custom workflow's `graph` action as an expression graph. */
export function graphActionPart(
  ctx: MetricsCtx,
  g: { query: string; title?: string | undefined; unit: ChartUnit; seconds: number },
  i: number,
) {
  return exprGraphPart(ctx, {
    expr: g.query,
    title: g.title ?? g.query,
    unit: g.unit,
    window: g.seconds,
    filename: `${safe(g.title ?? `graph-${i + 1}`)}.png`,
  });
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
