// TargetDown: `up` for every instance of the job over the window; which are down and since when
// (the first sample of the last run of zeros), so the message says "2 of 5 down" with times.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { legendNames } from './alert-graph.ts';
import { type MetricsCtx, type PartResult, q, stepFor } from './part.ts';

const SHOWN = 5;

export async function targetsPart(
  ctx: MetricsCtx,
  t: NonNullable<MetricsParts['targets']>,
): Promise<PartResult> {
  const { window } = ctx.config.targetDown;
  const end = ctx.now;
  const start = end - window;
  const sel = `job=${q(t.job)}${t.namespace ? `,namespace=${q(t.namespace)}` : ''}`;
  const up = await ctx.prom.queryRange(
    { query: `up{${sel}}`, start, end, stepSeconds: stepFor(window) },
    ctx.signal,
  );
  if (up.length === 0)
    throw new PrometheusError('empty', `No up series for job ${t.job}: Prometheus scrapes no such job.`);
  const down = up.filter((s) => s.points.at(-1)?.[1] === 0);
  const since = (s: Series) => {
    const lastUp = s.points.findLastIndex((p) => p[1] === 1);
    const first = s.points[lastUp + 1]?.[0];
    return lastUp < 0 || first === undefined
      ? `for at least ${formatDuration(window * 1000)}`
      : `since ${new Date(first * 1000).toISOString().slice(11, 16)} UTC`;
  };
  const names = legendNames(up);
  const named = down.map((s) => `${s.labels.instance ?? names[up.indexOf(s)]} ${since(s)}`);
  const listed =
    named.slice(0, SHOWN).join(', ') + (named.length > SHOWN ? `, and ${named.length - SHOWN} more` : '');
  const verdict = `${down.length} of ${up.length} targets of job ${t.job} down${down.length ? `: ${listed}` : ''}`;
  return {
    verdict,
    notes: [],
    charts: [
      {
        filename: `${t.job.replace(/[^A-Za-z0-9_.-]+/g, '-')}-up.png`,
        alt: verdict,
        spec: {
          title: `up{job="${t.job}"}: 1 up, 0 down`,
          unit: 'none',
          start,
          end,
          series: up.slice(0, 12).map((s, i) => ({ name: names[i] ?? '', points: s.points })),
        },
      },
    ],
  };
}
