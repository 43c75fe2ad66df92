// enrich-metrics as a function: parse the issue, add the metrics enrichment when Prometheus is
// configured and something fits, move the plan on and reply with the event. Never fails the
// message for Prometheus' sake; only a malformed event is refused (400).
import type { CloudEvent } from 'cloudevents';
import type { ChartSpec } from '../../../adapters/prometheus/chart.ts';
import { prometheusFromConfig } from '../../../adapters/prometheus/from-config.ts';
import { type ConfigSource, openFunctionConfig } from '../../../domain/config/index.ts';
import { issueEvent, parseIssueData } from '../../../domain/events.ts';
import { fitEnrichment } from '../../../domain/fit.ts';
import { advancePlan, type Enrichment, ISSUE_LIMITS, type Issue } from '../../../domain/issue.ts';
import { hasMetricsParts, metricsParts } from '../../../domain/metrics.ts';
import { BadRequestError } from '../../../platform/errors.ts';
import { createLogger } from '../../../platform/logger.ts';
import type { FunctionModule, InvocationContext } from '../../../platform/runtime/types.ts';
import { MetricsEnv, parseEnv } from '../../env.ts';
import { enrichMetrics, SOURCE } from './enrich.ts';

/** The renderer (echarts, resvg and the font) is imported on the first chart only. */
async function render(spec: ChartSpec): Promise<Buffer> {
  const { renderChart } = await import('../../../adapters/prometheus/chart.ts');
  return renderChart(spec);
}

export function createMetricsFunction(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let config: ConfigSource;
  let budgetMs = 10_000;
  let source = `/kubeincident/${SOURCE}`;
  // Rebuilt in init, once PROMETHEUS_URL is known.
  let promFor = prometheusFromConfig(undefined);
  return {
    async init() {
      const c = parseEnv(MetricsEnv, env);
      promFor = prometheusFromConfig(c.PROMETHEUS_URL);
      budgetMs = c.ENRICH_BUDGET_MS;
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/${SOURCE}`;
      config = await openFunctionConfig(c, env, createLogger({ name: SOURCE, level: c.LOG_LEVEL }));
    },
    shutdown() {
      config?.close();
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const issue = parseIssueData(event.data);
      const settings = config.current().prometheus;
      const prom = promFor(settings);
      const found =
        prom instanceof Error
          ? settingsNote(issue, prom)
          : prom
            ? await enrichMetrics(issue, { prom, config: settings, timeBudgetMs: budgetMs, render })
            : undefined;
      const plan = advancePlan(issue.plan, 'enrichmetrics');
      // Pictures past the stage's share of the event size give way to a note (fitEnrichment).
      const enrichment = found ? fitEnrichment(found, ISSUE_LIMITS.metricsEnrichmentBytes) : undefined;
      const enriched: Issue = {
        ...issue,
        // A redelivery replaces this stage's earlier enrichment instead of stacking a second one.
        enrichments: [
          ...issue.enrichments.filter((e) => e.source !== SOURCE),
          ...(enrichment ? [enrichment] : []),
        ],
        plan: plan.length ? plan : ['dispatch'],
      };
      ctx.log.info(
        {
          fingerprint: issue.fingerprint,
          verdict: enrichment?.verdict,
          prometheus: prom !== undefined,
          next: enriched.plan[0],
        },
        'enriched',
      );
      return issueEvent(enriched, source, ctx.traceparent, 'enrichmetrics');
    },
  };
}

/** Settings the client cannot use: one line where graphs would have been, the issue goes on. */
function settingsNote(issue: Issue, err: Error): Enrichment | undefined {
  if (!hasMetricsParts(metricsParts(issue))) return undefined;
  return {
    source: SOURCE,
    title: 'Metrics',
    blocks: [{ type: 'markdown', text: `${err.message}: no graphs.` }],
  };
}
