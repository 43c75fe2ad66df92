// `npm run demo` (`npm start -- --demo`): the pipeline reads a recorded cluster through the real
// Kubernetes client, pointed at the stand-in API server, and the demo fires the alerts and Events
// of that cluster's troubles into it. Nothing else is needed: no cluster, Slack token or Redis.
import type { KubeStandin } from '../kube-standin/server.ts';
import { loadDemoCluster, startDemoCluster } from './cluster.ts';
import { fireDemo } from './fire.ts';

export interface Demo {
  /** Handed to the functions as KUBECONFIG. */
  kubeconfigPath: string;
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
  const stop = new AbortController();
  return {
    kubeconfigPath: cluster.kubeconfigPath,
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
      await cluster.close();
    },
  };
}
