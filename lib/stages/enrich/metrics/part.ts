// What each of enrich-metrics' parts shares: the client under the enrichment's budget, and what
// a part gives back (a verdict clause, notes, pictures).
import type { ChartSpec } from '../../../adapters/prometheus/chart.ts';
import type { PrometheusClient } from '../../../adapters/prometheus/client.ts';
import type { PrometheusConfig } from '../../../domain/config/prometheus.ts';

export interface MetricsCtx {
  prom: PrometheusClient;
  config: PrometheusConfig;
  /** Unix seconds. */
  now: number;
  signal: AbortSignal;
}

export interface PartResult {
  /** A clause of the verdict ("memory of api/app peaked at 509Mi of its 512Mi limit"). */
  verdict?: string;
  /** One-line notes: a missing metric, a series left out. */
  notes: string[];
  charts: Array<{ filename: string; spec: ChartSpec; alt: string }>;
}

/** A PromQL string literal (Go's quoting rules accept JSON's). */
export const q = (v: string): string => JSON.stringify(v);

/** A step that gives about `points` points over the span, on a multiple of 15 seconds. */
export function stepFor(spanSeconds: number, points = 240): number {
  return Math.max(15, Math.ceil(spanSeconds / points / 15) * 15);
}

/** A selector's matchers for one pod and one container, or all its containers. */
export function podMatchers(t: { namespace: string; pod: string; container?: string | undefined }): string {
  const container = t.container ? `container=${q(t.container)}` : 'container!="",container!="POD"';
  return `namespace=${q(t.namespace)},pod=${q(t.pod)},${container}`;
}
