// End to end through `npm start`'s pipeline (the local broker, every function, Redis, the Slack
// stand-in): a Deployment's new image reaches the change-tracking rule's channel as one CHANGED
// message through the normal dispatch path, and a crash of one of its pods right after it (a
// Kubernetes Event, then a Prometheus alert) lands in the incident channel with the
// "Changed … before" line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { Redis } from 'ioredis';
import { fixture, type SourceEvent } from './fixtures/apiserversource/load.ts';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startRedisServer } from './support/redis-server.ts';
import { type StandinMessage, shownText, startSlackStandin } from './support/slack-standin.ts';

const CONFIG = `
destinations:
  - { name: deploys, type: slack, token: "\${SLACK_BOT_TOKEN}", channel: C0DEPLOYS, apiUrl: "\${SLACK_API_URL}" }
  - { name: oncall, type: slack, token: "\${SLACK_BOT_TOKEN}", channel: C0ONCALL, apiUrl: "\${SLACK_API_URL}" }
defaultRoute: { destinations: [oncall] }
changeTracking:
  rules:
    - { name: payments, kinds: Deployment, matchers: ['team="payments"'], destination: deploys }
`;

async function toBroker(broker: string, e: SourceEvent): Promise<void> {
  const { data, ...attrs } = e;
  const msg = HTTP.binary(new CloudEvent({ ...attrs, id: crypto.randomUUID(), data }));
  const res = await fetch(broker, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  if (res.status !== 202) throw new Error(`broker answered ${res.status}`);
}

const topLevel = (list: StandinMessage[] | undefined): StandinMessage[] =>
  (list ?? []).filter((m) => !m.thread_ts || m.thread_ts === m.ts);

test('e2e: a new image is posted to the rule channel, and a crash right after it says so', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(stops.map((s) => s()));
  });
  const redis = await startRedisServer();
  stops.push(() => redis.stop());
  const slack = await startSlackStandin({ channels: ['C0DEPLOYS', 'C0ONCALL'] });
  stops.push(() => slack.close());
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const dir = await mkdtemp(join(tmpdir(), 'e2e-change-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, CONFIG);
  pipeline = await startPipeline({
    CONFIG_FILE: configFile,
    REDIS_URL: redis.url,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0UNUSED',
    SLACK_API_URL: slack.url,
    KUBECONFIG: kube.kubeconfigPath,
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const broker = pipeline.broker;

  const v1 = fixture('deployment-checkout-update');
  await toBroker(broker, v1);
  const v2 = structuredClone(v1);
  v2.data.metadata.resourceVersion = '52101';
  v2.data.metadata.generation = 5;
  v2.data.spec.template.spec.containers[0].image = 'registry.example.com/shop/checkout:2.4.1';
  // v2 is compared with v1's template: wait until k8s-event-ingest has kept it in Redis.
  const client = new Redis(redis.url);
  stops.push(async () => client.disconnect());
  await eventually('the first sight is kept', async () =>
    (await client.keys('*{wl|*')).length > 0 ? true : undefined,
  );
  await toBroker(broker, v2);
  const change = await eventually('the change message', () => topLevel(slack.messages.get('C0DEPLOYS'))[0]);
  t.regex(
    String(change.text),
    /^CHANGED: Deployment shop\/checkout changed: image checkout:2\.4\.0 to 2\.4\.1/,
  );
  t.is(topLevel(slack.messages.get('C0ONCALL')).length, 0, 'a change is not an incident');
  // Redelivered by the broker (a fresh CloudEvent id, as ApiServerSource sends): still one message.
  await toBroker(broker, v2);

  const crash = fixture('event-backoff-add');
  const now = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString().replace('.000', '');
  crash.data.firstTimestamp = now;
  crash.data.lastTimestamp = now;
  crash.data.metadata.creationTimestamp = now;
  await toBroker(broker, crash);
  const incident = await eventually(
    'the incident message',
    () => topLevel(slack.messages.get('C0ONCALL'))[0],
  );
  t.regex(JSON.stringify(incident.attachments), /Changed \d+s before: image checkout:2\.4\.0 to 2\.4\.1/);

  // Prometheus sees it too: alert-ingest keeps no state, so dispatch-slack adds the line.
  const alert = await fetch(pipeline.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      version: '4',
      status: 'firing',
      receiver: 'kubeincident',
      groupKey: '{}:{}',
      externalURL: 'http://alertmanager.example:9093',
      alerts: [
        {
          status: 'firing',
          labels: {
            alertname: 'KubePodNotReady',
            namespace: 'shop',
            pod: 'checkout-7d9f8b6c5-x2k4q',
            severity: 'warning',
          },
          annotations: { summary: 'checkout is not ready' },
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          fingerprint: 'e2echange0',
        },
      ],
    }),
  });
  t.is(alert.status, 200);
  const alertMessage = await eventually('the alert message', () =>
    (slack.messages.get('C0ONCALL') ?? []).find((m) => JSON.stringify(m).includes('KubePodNotReady')),
  );
  t.regex(JSON.stringify(alertMessage), /Changed \d+s before: image checkout:2\.4\.0 to 2\.4\.1/);
  // Give the redelivered v2 time to have gone all the way through: no second change message.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(topLevel(slack.messages.get('C0DEPLOYS')).length, 1);
  t.false(shownText(slack).includes('s3cr3t-Pa55w0rd'));
  t.false(shownText(slack).includes('tok_live_9f8e7d6c5b4a'));
});
