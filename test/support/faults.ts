// Harness for the fault-injection suite: a pipeline with real redis-server, stand-in Slack and
// Kubernetes API; a webhook sender that retries like Alertmanager; and the invariant checker
// that reads what Slack received: one root per alert, every firing and resolution reflected,
// nothing missing, nothing posted twice.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubeStandin, startKubeStandin } from './kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './pipeline.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { type SlackStandin, type StandinMessage, startSlackStandin } from './slack-standin.ts';

export const CHANNEL = 'C0FAULTS';

export interface FaultEnv {
  slack: SlackStandin;
  kube: KubeStandin;
  redis: RedisServer;
  pipeline: RunningPipeline;
  deadLetterFile: string;
}

export interface AlertSpec {
  marker: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** n alerts about the fixture's crash-looping pod, each with a marker to find its messages by. */
export function makeAlerts(prefix: string, n: number): AlertSpec[] {
  const startsAt = new Date(Date.now() - 5 * 60_000).toISOString();
  return Array.from({ length: n }, (_, i) => {
    const marker = `[${prefix}-${String(i).padStart(2, '0')}]`;
    return {
      marker,
      labels: {
        alertname: `FaultTest${prefix}${i}`,
        namespace: 'payments',
        pod: 'api-7d9f8b6c5d-x2x4q',
        container: 'app',
        severity: 'critical',
      },
      annotations: { summary: `${marker} pod is crash looping` },
      startsAt,
    };
  });
}

function payload(alerts: AlertSpec[], status: 'firing' | 'resolved') {
  return JSON.stringify({
    version: '4',
    status,
    receiver: 'kubeincident',
    groupKey: '{}:{}',
    externalURL: 'http://alertmanager.example:9093',
    alerts: alerts.map((a) => ({
      status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example:9090/graph',
    })),
  });
}

/** Posts like Alertmanager: 2xx is done, 5xx or a network error is retried with backoff. */
export async function sendWebhook(
  webhook: string,
  alerts: AlertSpec[],
  status: 'firing' | 'resolved',
  deadlineMs = 60_000,
) {
  const body = payload(alerts, status);
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await res.arrayBuffer();
      if (res.ok) return attempt;
      if (res.status < 500) throw new Error(`webhook answered ${res.status}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('webhook answered')) throw err;
    }
    if (Date.now() > deadline) throw new Error('webhook never accepted the alerts');
    await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
  }
}

export async function startFaultEnv(
  env: NodeJS.ProcessEnv = {},
): Promise<FaultEnv & { stop(): Promise<void> }> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'faults-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const redis = await startRedisServer();
    stops.push(() => redis.stop());
    const slack = await startSlackStandin({ channels: [CHANNEL] });
    stops.push(() => slack.close());
    const kube = await startKubeStandin();
    stops.push(() => kube.close());
    const deadLetterFile = join(dir, 'dead-letters.jsonl');
    const pipeline = await startPipeline({
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: CHANNEL,
      SLACK_API_URL: slack.url,
      SLACK_TIMEOUT_MS: '1500',
      KUBECONFIG: kube.kubeconfigPath,
      KUBE_TIMEOUT_MS: '800',
      ENRICH_BUDGET_MS: '3000',
      SINK_TIMEOUT_MS: '1000',
      DEAD_LETTER_FILE: deadLetterFile,
      LOCAL_BROKER_BACKOFF_DELAY: 'PT0.1S',
      LOCAL_BROKER_RETRIES: '12',
      // The per-channel rate and storm folding have their own tests (dispatch-rate, storm-folding);
      // here every alert must keep its own thread so the invariants can be read per alert.
      SLACK_CHANNEL_RATE: '50',
      SLACK_CHANNEL_BURST: '100',
      STORM_THRESHOLD: '0',
      ...env,
    });
    stops.push(() => pipeline.stop());
    return { slack, kube, redis, pipeline, deadLetterFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Report {
  alerts: number;
  eventsIn: number;
  messagesOut: number;
  lost: string[];
  duplicated: string[];
  unresolved: string[];
  deadLettered: number;
}

const textOf = (m: StandinMessage) => JSON.stringify([m.text, m.blocks, m.attachments]);

async function deadLetters(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

/** The status reply a resolution posts ("✅ Resolved after 3m at ..."), once per resolution. */
export const isResolvedReply = (m: StandinMessage): boolean => /^\S+ Resolved\b/.test(m.text ?? '');

/** What Slack holds for these alerts, and what is missing or doubled. */
export async function inspect(env: FaultEnv, alerts: AlertSpec[], expectResolved: boolean): Promise<Report> {
  const messages = env.slack.messages.get(CHANNEL) ?? [];
  const roots = messages.filter((m) => !m.thread_ts);
  const dead = await deadLetters(env.deadLetterFile);
  const report: Report = {
    alerts: alerts.length,
    eventsIn: alerts.length * (expectResolved ? 2 : 1),
    messagesOut: env.slack.calls.filter((c) => c.method === 'chat.postMessage').length,
    lost: [],
    duplicated: [],
    unresolved: [],
    deadLettered: dead.split('\n').filter(Boolean).length,
  };
  for (const a of alerts) {
    const mine = roots.filter((m) => textOf(m).includes(a.marker));
    if (mine.length === 0 && !dead.includes(a.marker)) report.lost.push(a.marker);
    if (mine.length > 1) report.duplicated.push(a.marker);
    if (expectResolved) {
      const root = mine[0];
      const resolvedRoot = root && /RESOLVED/.test(JSON.stringify(root.attachments));
      // A root first posted as firing must also say so in its thread; one posted already
      // resolved (the resolution arrived first) has nothing to reply to.
      const postedFiring = root && root.edits.length > 0;
      const replies = root ? env.slack.replies(CHANNEL, root.ts) : [];
      const reply = replies.some((r) => /resolved/i.test(textOf(r)));
      if (!resolvedRoot || (postedFiring && !reply)) report.unresolved.push(a.marker);
      if (replies.filter(isResolvedReply).length > 1) report.duplicated.push(`${a.marker} (resolved reply)`);
    }
  }
  return report;
}

/** Waits until every alert has its root (and resolution), then returns the final report. */
export async function settle(
  env: FaultEnv,
  alerts: AlertSpec[],
  expectResolved: boolean,
  timeoutMs = 60_000,
): Promise<Report> {
  try {
    await eventually(
      'every alert delivered',
      async () => {
        const r = await inspect(env, alerts, expectResolved);
        return r.lost.length === 0 && r.unresolved.length === 0 ? r : undefined;
      },
      timeoutMs,
    );
  } catch {
    // Fall through: the report says what is missing.
  }
  // Let in-flight retries land, so a late duplicate would be seen.
  await new Promise((r) => setTimeout(r, 1000));
  return inspect(env, alerts, expectResolved);
}
