// `npm run demo` (`npm start -- --demo`): the pipeline reads a recorded cluster through the real
// Kubernetes client, pointed at the stand-in API server, and the demo fires the alerts and Events
// of that cluster's troubles into it. Nothing else is needed: no cluster, Slack token or Redis.
// enrich-metrics reads the cluster's recorded series from a Prometheus stand-in the same way.
import { type KubeStandin, loadKubeFixtures } from '../kube-standin/server.ts';
import { CLUSTER_DIR, loadDemoCluster, startDemoCluster } from './cluster.ts';
import { fireDemo } from './fire.ts';
import { startPrometheusStandin } from './prometheus.ts';
import { demoSeries } from './series.ts';

/** The demo's configuration file: Prometheus on, and the node graphs (docs/demo.md). */
export const DEMO_CONFIG_FILE = new URL('./config.yaml', import.meta.url).pathname;

export interface Demo {
  /** Handed to the functions as KUBECONFIG. */
  kubeconfigPath: string;
  /** Handed to enrich-metrics as PROMETHEUS_URL. */
  prometheusUrl: string;
  /** Sends the alerts and Events once the pipeline is ready; resolves after the resolution. */
  fire(webhook: string, broker: string): Promise<void>;
  close(): Promise<void>;
}

export interface DemoOptions {
  /** Seconds between the firings and the resolution that edits a root (DEMO_RESOLVE_AFTER_SECONDS). */
  resolveAfterSeconds: number;
  webhookToken?: string | undefined;
  log: (line: string) => void;
}

export function demoOptions(env: NodeJS.ProcessEnv, log: (line: string) => void): DemoOptions {
  const raw = env.DEMO_RESOLVE_AFTER_SECONDS ?? '20';
  const resolveAfterSeconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || resolveAfterSeconds > 3600) {
    throw new Error(
      `DEMO_RESOLVE_AFTER_SECONDS must be a number of seconds from 0 to 3600, got ${JSON.stringify(raw)}`,
    );
  }
  return { resolveAfterSeconds, webhookToken: env.WEBHOOK_BEARER_TOKEN, log };
}

export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const now = new Date();
  const cluster: KubeStandin = await startDemoCluster(now);
  const { events } = await loadDemoCluster(now);
  // The series are made from the recorded objects, at their recorded times, then moved to now.
  const prometheus = await startPrometheusStandin(demoSeries(await loadKubeFixtures(CLUSTER_DIR), now));
  const stop = new AbortController();
  return {
    kubeconfigPath: cluster.kubeconfigPath,
    prometheusUrl: prometheus.url,
    fire: (webhook, broker) =>
      fireDemo({
        webhook,
        broker,
        events,
        webhookToken: opts.webhookToken,
        resolveAfterMs: opts.resolveAfterSeconds * 1000,
        log: opts.log,
        signal: stop.signal,
      }),
    close: async () => {
      stop.abort();
      await Promise.all([cluster.close(), prometheus.close()]);
    },
  };
}
