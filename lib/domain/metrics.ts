// Which of enrich-metrics' graphs fit an issue: one rule, used by routing (is the stage worth a
// hop?) and by the enricher itself (what to draw). Pure: labels, verdicts and links only.
import type { Issue } from './issue.ts';

export interface MetricsParts {
  /** The pod and container whose memory to draw (OOM kills and memory alerts). */
  memory?: { namespace: string; pod: string; container?: string | undefined; killed: boolean };
  /** The pod and container whose CPU throttling to draw (CPUThrottlingHigh). */
  cpu?: { namespace: string; pod: string; container?: string | undefined };
  /** The alert's own expression, from its generatorURL's `g0.expr`. */
  expr?: string;
  /** Custom workflows' `graph` actions. */
  graphs?: NonNullable<NonNullable<Issue['actions']>['graphs']>;
}

const MEMORY_ALERT = /oom|memory/i;
const CPU_ALERT = /^CPUThrottlingHigh$|cputhrottl/i;

/** What enrich-metrics can draw for this issue; empty when nothing (a resolution never). */
export function metricsParts(
  issue: Pick<Issue, 'status' | 'labels' | 'subject' | 'links' | 'title' | 'enrichments'> &
    Partial<Pick<Issue, 'actions'>>,
): MetricsParts {
  if (issue.status === 'resolved') return {};
  const parts: MetricsParts = {};
  const alertname = issue.labels.alertname ?? '';
  const pod = podOf(issue);
  const oomSeen =
    /OOMKilled/.test(issue.title) ||
    issue.labels.reason === 'OOMKilled' ||
    issue.enrichments.some((e) => /OOMKilled|OOM kill/.test(e.verdict ?? ''));
  if (pod && (oomSeen || MEMORY_ALERT.test(alertname))) parts.memory = { ...pod, killed: oomSeen };
  if (pod && CPU_ALERT.test(alertname)) parts.cpu = pod;
  const expr = graphExpr(issue.links);
  if (expr) parts.expr = expr;
  if (issue.actions?.graphs?.length) parts.graphs = issue.actions.graphs;
  return parts;
}

export function hasMetricsParts(p: MetricsParts): boolean {
  return p.memory !== undefined || p.cpu !== undefined || p.expr !== undefined || p.graphs !== undefined;
}

function podOf(issue: Pick<Issue, 'labels' | 'subject'>) {
  const { subject, labels } = issue;
  const namespace = subject.namespace ?? labels.namespace;
  const pod = subject.kind === 'Pod' ? subject.name : labels.pod;
  if (!namespace || !pod) return undefined;
  return { namespace, pod, container: subject.container ?? labels.container };
}

/** The expression of a Prometheus graph link (`/graph?g0.expr=...`), if the issue has one. */
export function graphExpr(links: Issue['links']): string | undefined {
  for (const l of links) {
    if (l.type !== 'graph') continue;
    try {
      const expr = new URL(l.url).searchParams.get('g0.expr');
      if (expr?.trim()) return expr.trim();
    } catch {}
  }
  return undefined;
}
