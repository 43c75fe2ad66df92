// End to end: a real Alertmanager -> the `npm start` pipeline (five function processes and the
// local broker, real HTTP) -> a stand-in Slack Web API, with a real redis-server for thread
// state and a stand-in Kubernetes API (TLS) serving real-shaped Pod, log and Event objects.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RunningAlertmanager, startAlertmanager } from './support/alertmanager.ts';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startRedisServer } from './support/redis-server.ts';
import { type StandinMessage, startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0ALERTS';
const WEBHOOK_TOKEN = 'am-webhook-token-e2e';

const crashLoop = {
  startsAt: new Date(Date.now() - 60_000).toISOString(),
  labels: {
    alertname: 'KubePodCrashLooping',
    namespace: 'payments',
    pod: 'api-7d9f8b6c5d-x2x4q',
    container: 'app',
    job: 'kube-state-metrics',
    severity: 'critical',
  },
  annotations: {
    summary: 'Pod payments/api is crash looping <!channel>',
    description: 'Restarted 5 times. Ping attempt: <!here> <@U123> <https://evil.example|click>',
    runbook_url: 'https://runbooks.example/kubepodcrashlooping',
  },
  generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
};

async function webhookDeliveries(webhook: string): Promise<number> {
  const text = await (await fetch(`${webhook}metrics`)).text();
  const m = /kubeincident_requests_total\{fn="alert-ingest",status="200"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

test('e2e: Alertmanager -> pipeline -> Slack: one root with the crash logs; re-sends add nothing; resolution edits the root and replies in its thread', async (t) => {
  let pipeline: RunningPipeline | undefined;
  let am: RunningAlertmanager | undefined;
  const started: Array<() => Promise<void>> = [];
  // Registered first, so whatever did start is stopped even when a later start fails.
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
  const work = await mkdtemp(join(tmpdir(), 'e2e-'));
  try {
    pipeline = await startPipeline({
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: CHANNEL,
      SLACK_API_URL: slack.url,
      KUBECONFIG: kube.kubeconfigPath,
      WEBHOOK_BEARER_TOKEN: WEBHOOK_TOKEN,
      CLUSTER_NAME: 'e2e',
      DEAD_LETTER_FILE: join(work, 'dead-letters.jsonl'),
    });
    am = await startAlertmanager({ webhookUrl: pipeline.webhook, bearerToken: WEBHOOK_TOKEN });
    await am.fire([crashLoop]);

    const roots = () => (slack.messages.get(CHANNEL) ?? []).filter((m) => !m.thread_ts);
    const root = await eventually('the root message', () => roots()[0]);
    const logFile = await eventually('the crash logs in the thread', () =>
      slack.files.find(
        (f) => f.completed && f.thread_ts === root.ts && f.content?.includes('exiting with code 1'),
      ),
    );
    t.truthy(logFile, 'the previous container log is attached in the thread');
    const details = await eventually('the details reply', () => slack.replies(CHANNEL, root.ts)[0]);
    t.not(details.reply_broadcast, true, 'thread replies never broadcast');

    // Escaping: no ping, no spoofed link reached Slack unescaped.
    const rootJson = JSON.stringify([root.text, root.blocks, root.attachments]);
    for (const raw of ['<!channel>', '<!here>', '<@U123>', '<https://evil.example|click>']) {
      t.false(rootJson.includes(raw), `${raw} is escaped`);
    }
    t.true(rootJson.includes('&lt;!channel&gt;'));
    t.is(root.params.link_names, undefined);

    // Alertmanager re-sends the firing alert every repeat_interval: no new message.
    const before = slack.calls.filter((c) => c.method === 'chat.postMessage').length;
    const first = await webhookDeliveries(pipeline.webhook);
    await eventually('two more webhook deliveries', async () =>
      (await webhookDeliveries(pipeline?.webhook ?? '')) >= first + 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1500)); // let the last re-send pass through the pipeline
    t.is(roots().length, 1, 'still one root message');
    t.is(
      slack.calls.filter((c) => c.method === 'chat.postMessage').length,
      before,
      're-sends posted nothing',
    );

    // Resolution: the root turns green and says so, and a reply lands in its thread.
    await am.resolve([crashLoop]);
    const resolvedReply = await eventually('the resolution reply', () =>
      slack
        .replies(CHANNEL, root.ts)
        .find((m: StandinMessage) => /resolved/i.test(JSON.stringify([m.text, m.blocks]))),
    );
    t.not(resolvedReply.reply_broadcast, true);
    const updated = await eventually('the root edited', () => (root.edits.length > 0 ? root : undefined));
    t.regex(JSON.stringify(updated.attachments), /RESOLVED/i);
    t.is(roots().length, 1, 'resolution added no top-level message');
    t.is(slack.calls.filter((c) => c.method === 'chat.update').length >= 1, true);
  } catch (err) {
    t.log(pipeline?.output().slice(-4000));
    t.log(am?.output().slice(-2000));
    throw err;
  }
});
