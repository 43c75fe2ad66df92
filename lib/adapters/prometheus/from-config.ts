// The Prometheus client that the config file's `prometheus:` section describes, with
// PROMETHEUS_URL as the fallback URL, shared by enrich-metrics and run-workflows so a
// workflow's query carries the same credentials, headers, CA and label matchers as a graph's.
import type { PrometheusConfig } from '../../domain/config/prometheus.ts';
import { createPrometheusClient, type PrometheusClient, type PrometheusSettings } from './client.ts';

/**
 * The client for a config's section: undefined when neither the section nor `fallbackUrl` names
 * a server, an Error when the settings cannot be used (an unreadable CA file). One client per
 * distinct settings: a reloaded config with new ones gets a new client, the same ones keep it.
 * `maxTimeoutMs` caps the section's `timeout` (a workflow's shorter call limit).
 */
export function prometheusFromConfig(
  fallbackUrl: string | undefined,
  maxTimeoutMs = Number.POSITIVE_INFINITY,
): (p: PrometheusConfig) => PrometheusClient | Error | undefined {
  let client: { key: string; prom: PrometheusClient | Error } | undefined;
  return (p) => {
    const url = p.url ?? fallbackUrl;
    if (!url) return undefined;
    const { headers, bearerTokenFile, basicAuth, caFile, matchers } = p;
    const settings: PrometheusSettings = {
      url,
      headers,
      bearerTokenFile,
      basicAuth,
      caFile,
      matchers,
      timeoutMs: Math.min(p.timeout * 1000, maxTimeoutMs),
    };
    const key = JSON.stringify(settings);
    if (client?.key !== key) {
      try {
        client = { key, prom: createPrometheusClient(settings) };
      } catch (err) {
        client = { key, prom: new Error(`Prometheus settings unusable: ${(err as Error).message}`) };
      }
    }
    return client.prom;
  };
}
