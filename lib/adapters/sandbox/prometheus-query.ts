// ctx.prometheus.query of a workflow: one instant query through enrich-metrics' own client (the
// config's `prometheus:` section: credentials, headers, CA, label matchers), answered with
// Prometheus's `data`. Its arguments come from the guest, so they are checked first.
import type { PrometheusClient, PrometheusData } from '../prometheus/client.ts';
import { PrometheusError } from '../prometheus/errors.ts';

/** `prom` is an Error when the configured settings cannot be used: each query says why. */
export async function prometheusQuery(
  prom: PrometheusClient | Error,
  query: unknown,
  opts: unknown,
  signal: AbortSignal,
): Promise<PrometheusData> {
  if (typeof query !== 'string' || query.length === 0 || query.length > 10_000) {
    throw new Error('prometheus.query needs a PromQL string');
  }
  const time = (opts as { time?: unknown } | undefined)?.time;
  if (time !== undefined && typeof time !== 'string' && typeof time !== 'number') {
    throw new Error('prometheus.query: time must be unix seconds or an RFC 3339 string');
  }
  if (prom instanceof Error) throw prom;
  try {
    return await prom.instant(query, time === undefined ? undefined : String(time), signal);
  } catch (err) {
    // The kind says whose fault it is (the query, the credentials, the server); no secret in it.
    if (err instanceof PrometheusError) throw new Error(`prometheus ${err.kind}: ${err.message}`);
    throw err;
  }
}
