// enrich-metrics: the cluster's own Prometheus in the diagnosis. For each part that fits the
// issue (lib/domain/metrics.ts) and is switched on, query, draw and add the numbers to the
// verdict. Prometheus trouble (down, slow, 401) becomes one line; the message still goes out.
import type { PrometheusClient } from '../../../adapters/prometheus/client.ts';
import { prometheusNote } from '../../../adapters/prometheus/errors.ts';
import type { PrometheusConfig } from '../../../domain/config/prometheus.ts';
import type { Block, Enrichment, Issue } from '../../../domain/issue.ts';
import { type MetricsParts, metricsParts } from '../../../domain/metrics.ts';
import { attempt, startBudget } from '../budget.ts';
import { alertGraphPart, graphActionPart } from './alert-graph.ts';
import { cpuPart } from './cpu.ts';
import { memoryPart } from './memory.ts';
import { nodePart } from './node.ts';
import { overcommitPart } from './overcommit.ts';
import type { MetricsCtx, PartResult } from './part.ts';
import { targetsPart } from './targets.ts';
import { volumePart } from './volume.ts';

export const SOURCE = 'enrich-metrics';

export interface MetricsDeps {
  prom: PrometheusClient;
  config: PrometheusConfig;
  timeBudgetMs: number;
  /** Draws a chart; lib/adapters/prometheus/chart.ts's renderChart, loaded on first use. */
  render(spec: PartResult['charts'][number]['spec']): Promise<Buffer>;
  now?: Date;
}

/** The enrichment, or undefined when nothing fits the issue (no section at all then). */
export async function enrichMetrics(issue: Issue, deps: MetricsDeps): Promise<Enrichment | undefined> {
  const parts = metricsParts(issue);
  const { config } = deps;
  const budget = startBudget(deps.timeBudgetMs);
  const ctx: MetricsCtx = {
    prom: deps.prom,
    config,
    now: Math.floor((deps.now?.getTime() ?? Date.now()) / 1000),
    signal: budget.signal,
  };
  const runs = startParts(ctx, parts, issue);
  if (runs.length === 0) {
    budget.done();
    return undefined;
  }
  try {
    const outcomes = await Promise.all(runs.map((r) => attempt(r)));
    const results = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    // One line per kind of trouble: three queries refused for one bad token say it once.
    const errors = [...new Set(outcomes.flatMap((o) => (o.ok ? [] : [prometheusNote(o.error)])))];
    const images = await drawAll(results, deps, budget.signal, errors);
    const notes = [...errors, ...results.flatMap((r) => r.notes)];
    const verdicts = results.flatMap((r) => (r.verdict ? [r.verdict] : []));
    const blocks: Block[] = [
      ...(notes.length ? [{ type: 'markdown' as const, text: notes.join('\n') }] : []),
      ...images,
    ];
    return {
      source: SOURCE,
      title: 'Metrics',
      ...(parts.memory ? { about: parts.memory.pod } : {}),
      ...(verdicts.length ? { verdict: capitalize(verdicts.join('; ')) } : {}),
      blocks,
    };
  } finally {
    budget.done();
  }
}

/** Each part that fits the issue and is switched on, started at once (they query in parallel). */
function startParts(ctx: MetricsCtx, parts: MetricsParts, issue: Issue): Array<Promise<PartResult>> {
  const { config } = ctx;
  // The issue's time (a repeat's last sighting) centres the memory window when the kill's own
  // time is unknown; a Pod signal's time is the kill (its finishedAt), an alert's is later.
  const seen = Date.parse(issue.occurrences?.lastSeen ?? issue.startsAt) / 1000;
  const moment = { seenAt: Math.min(ctx.now, Math.floor(seen)), isKill: issue.type !== 'alert' };
  const runs: Array<Promise<PartResult>> = [];
  if (parts.memory && config.memory.enabled) runs.push(memoryPart(ctx, parts.memory, moment));
  if (parts.cpu && config.cpuThrottling.enabled) runs.push(cpuPart(ctx, parts.cpu));
  if (parts.volume && config.volumes.enabled) runs.push(volumePart(ctx, parts.volume));
  if (parts.targets && config.targetDown.enabled) runs.push(targetsPart(ctx, parts.targets));
  if (parts.node && config.nodes.enabled) runs.push(nodePart(ctx, parts.node));
  if (parts.overcommit && config.overcommit.enabled) runs.push(overcommitPart(ctx, parts.overcommit));
  // A graph of its own already shows what the alert's expression is about.
  const specific =
    parts.memory ?? parts.cpu ?? parts.volume ?? parts.targets ?? parts.node ?? parts.overcommit;
  if (parts.expr && config.alertGraph.enabled && !specific)
    runs.push(alertGraphPart(ctx, parts.expr, issue.labels.alertname ?? ''));
  for (const [i, g] of (parts.graphs ?? []).entries()) runs.push(graphActionPart(ctx, g, i));
  return runs;
}

async function drawAll(
  results: PartResult[],
  deps: MetricsDeps,
  signal: AbortSignal,
  errors: string[],
): Promise<Block[]> {
  const out: Block[] = [];
  for (const c of results.flatMap((r) => r.charts)) {
    if (signal.aborted) {
      errors.push(`Graph ${c.filename} left out: the enrichment budget ran out.`);
      continue;
    }
    const png = await attempt(deps.render(c.spec));
    if (!png.ok) {
      errors.push(`Graph ${c.filename} could not be drawn: ${(png.error as Error).message}`);
      continue;
    }
    out.push({
      type: 'image',
      filename: c.filename,
      title: c.spec.title,
      alt: c.alt,
      contentType: 'image/png',
      data: png.value.toString('base64'),
    });
  }
  return out;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
