// ctx.prometheus.query of a workflow: one instant query (GET /api/v1/query) against the
// Prometheus the operator configured (PROMETHEUS_URL), answered with Prometheus's `data`.

export interface PrometheusTarget {
  url: string;
  timeoutMs: number;
}

export async function prometheusQuery(
  target: PrometheusTarget,
  query: unknown,
  opts: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (typeof query !== 'string' || query.length === 0 || query.length > 10_000) {
    throw new Error('prometheus.query needs a PromQL string');
  }
  const url = new URL(`${target.url.replace(/\/$/, '')}/api/v1/query`);
  url.searchParams.set('query', query);
  const time = (opts as { time?: unknown } | undefined)?.time;
  if (typeof time === 'string' || typeof time === 'number') url.searchParams.set('time', String(time));
  const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(target.timeoutMs)]) });
  const body = (await res.json().catch(() => undefined)) as
    | { status?: string; data?: unknown; error?: string; errorType?: string }
    | undefined;
  if (!res.ok || body?.status !== 'success') {
    throw new Error(`prometheus: ${body?.errorType ?? res.status} ${body?.error ?? ''}`.trim());
  }
  return body.data;
}
