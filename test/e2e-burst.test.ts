// End to end, the moment of an outage that used to look like a storm: five unrelated alerts
// (four pods and a node) fired together through a real Alertmanager, into the pipeline with a
// real redis-server and the default channel pace, more than the channel's burst. Each becomes
// its own thread with its details; none is folded into a summary or a digest.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type PostableAlert, type RunningAlertmanager, startAlertmanager } from './support/alertmanager.ts';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0BURST';
const startsAt = new Date(Date.now() - 120_000).toISOString();
const pod = (alertname: string, name: string, summary: string): PostableAlert => ({
  startsAt,
  labels: { alertname, namespace: 'payments', pod: name, severity: 'critical' },
  annotations: { summary },
});

const alerts: PostableAlert[] = [
  pod('KubePodCrashLooping', 'api-7d9f8b6c5d-x2x4q', 'burst api crash looping'),
  pod('KubeContainerOOMKilled', 'worker-5c8d7f9b4-k7wzp', 'burst worker OOM killed'),
  pod('KubePodNotReady', 'ledger-0', 'burst ledger not ready'),
  pod('KubeContainerWaiting', 'web-6b7f9c8d4-m9v2t', 'burst web waiting'),
  {
    startsAt,
    labels: { alertname: 'KubeNodeNotReady', node: 'worker-2', severity: 'critical' },
    annotations: { summary: 'burst node worker-2 not ready' },
  },
];

test('e2e burst: five unrelated alerts fired together are five threads, each with its details, and no summary', async (t) => {
  let pipeline: RunningPipeline | undefined;
  let am: RunningAlertmanager | undefined;
  const started: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await am?.stop();
    await pipeline?.stop();
    await Promise.allSettled(started.map((stop) => stop()));
  });
  const redis = await startRedisServer();
  started.push(() => redis.stop());
  const slack = await startSlackStandin({ channels: [CHANNEL] });
  started.push(() => slack.close());
  const kube = await startKubeStandin();
  started.push(() => kube.close());
  const work = await mkdtemp(join(tmpdir(), 'e2e-burst-'));
  started.push(() => rm(work, { recursive: true, force: true }));
  try {
    // The default pace (0.9 calls/s, 3 back to back) and the manifests' retries.
    pipeline = await startPipeline({
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: CHANNEL,
      SLACK_API_URL: slack.url,
      KUBECONFIG: kube.kubeconfigPath,
      DEAD_LETTER_FILE: join(work, 'dead-letters.jsonl'),
    });
    am = await startAlertmanager({ webhookUrl: pipeline.webhook });
    await am.fire(alerts);

    const roots = () => (slack.messages.get(CHANNEL) ?? []).filter((m) => !m.thread_ts);
    const text = (m: { text?: unknown; attachments?: unknown; blocks?: unknown }) =>
      JSON.stringify([m.text, m.attachments, m.blocks]);
    const summaries = ['api', 'worker', 'ledger', 'web', 'node worker-2'].map((s) => `burst ${s}`);
    await eventually(
      'five roots, each with its details in its thread',
      () =>
        roots().length === 5 && roots().every((r) => slack.replies(CHANNEL, r.ts).length > 0)
          ? true
          : undefined,
      60_000,
    );
    for (const s of summaries) {
      const own = roots().filter((r) => text(r).includes(s));
      t.is(own.length, 1, `${s}: one root of its own`);
      const replies = slack.replies(CHANNEL, own[0]?.ts ?? '');
      t.true(replies.length >= 1, `${s}: details in its thread`);
    }
    for (const r of roots()) {
      t.false(/Storm|held back/.test(text(r)), 'no summary, no digest');
      t.regex(text(r), /Verdict|verdict|:red_circle:/, 'a whole alert message');
    }
    t.false(/Storm|held back/.test(JSON.stringify(slack.calls.map((c) => c.params))));
  } catch (err) {
    t.log(pipeline?.output().slice(-4000));
    throw err;
  }
});
