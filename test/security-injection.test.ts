// End to end: mentions, spoofed links and `&<>` in every untrusted field (labels, annotations,
// pod and container names, Event messages, container states and log lines served by the
// Kubernetes API) reach Slack escaped, through the whole `npm start` pipeline.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { splitShown } from './support/arbitraries.ts';
import { loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0ALERTS';
const TOKEN = 'am-webhook-token-injection';
const EVIL = '<!channel> <!here> <!everyone> <@U123> <#C0ALERTS> <https://evil.example|click> & <b>';
const RAW = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U123>',
  '<#C0ALERTS>',
  '<https://evil.example|click>',
];
const POD = 'inject-7d9f8b6c5d-x2x4q';
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

// biome-ignore lint/suspicious/noExplicitAny: fixtures are plain JSON as the API server sends it
type Obj = Record<string, any>;

/** The crash-looping pod fixture, renamed, with hostile text wherever the API allows free text. */
async function hostileCluster() {
  const fx = await loadKubeFixtures();
  const base = fx.pods.find((p) => p.metadata.name === 'api-7d9f8b6c5d-x2x4q') as Obj;
  const pod = JSON.parse(JSON.stringify(base).replaceAll('api-7d9f8b6c5d-x2x4q', POD)) as Obj;
  pod.metadata.uid = '9e1c2a8e-9b1d-4c57-a0e2-7d5b9f14c6ff';
  pod.metadata.annotations = { note: EVIL };
  for (const c of pod.status.containerStatuses as Obj[]) {
    if (c.state?.waiting) c.state.waiting.message = `back-off ${EVIL}`;
    if (c.lastState?.terminated) c.lastState.terminated.message = `panic: ${EVIL}`;
  }
  const event: Obj = {
    kind: 'Event',
    apiVersion: 'v1',
    metadata: {
      name: `${POD}.18a0`,
      namespace: 'payments',
      uid: 'e7a1c0de-0000-4000-8000-000000000001',
      resourceVersion: '1',
    },
    involvedObject: {
      kind: 'Pod',
      namespace: 'payments',
      name: POD,
      uid: pod.metadata.uid,
      fieldPath: 'spec.containers{app}',
    },
    reason: 'BackOff',
    message: `Back-off restarting failed container ${EVIL}`,
    source: { component: 'kubelet', host: 'worker-1' },
    firstTimestamp: new Date(Date.now() - 120_000).toISOString(),
    lastTimestamp: new Date().toISOString(),
    count: 4,
    type: 'Warning',
  };
  const logs = {
    ...fx.logs,
    [`payments/${POD}/app`]: {
      previous: `INFO starting\nERROR user input: ${EVIL}\nFATAL exiting with code 1 ${EVIL}\n`,
      current: `INFO restarted ${EVIL}\n`,
    },
  };
  // A failing probe: its message is the first wide table of the reply, Slack's table block.
  const probe: Obj = {
    ...event,
    metadata: { ...event.metadata, name: `${POD}.18a1`, uid: 'e7a1c0de-0000-4000-8000-000000000002' },
    reason: 'Unhealthy',
    message: `Readiness probe failed: ${EVIL}`,
  };
  return { pods: [...fx.pods, pod], events: [...fx.events, event, probe], nodes: fx.nodes, logs, event };
}

test('security: hostile text in alerts, Events, pod states and logs reaches Slack escaped, never as a mention or link', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const started: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(started.map((stop) => stop()));
  });
  const redis = await startRedisServer();
  started.push(() => redis.stop());
  const slack = await startSlackStandin({ channels: [CHANNEL] });
  started.push(() => slack.close());
  const cluster = await hostileCluster();
  const kube = await startKubeStandin(cluster);
  started.push(() => kube.close());
  const work = await mkdtemp(join(tmpdir(), 'inject-'));
  started.push(() => rm(work, { recursive: true, force: true }));
  try {
    pipeline = await startPipeline({
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: CHANNEL,
      SLACK_API_URL: slack.url,
      KUBECONFIG: kube.kubeconfigPath,
      WEBHOOK_BEARER_TOKEN: TOKEN,
      CLUSTER_NAME: 'inject',
      DEAD_LETTER_FILE: join(work, 'dead-letters.jsonl'),
    });
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const body = {
      version: '4',
      status: 'firing',
      receiver: 'kubeincident',
      externalURL: 'http://alertmanager.example:9093',
      alerts: [
        {
          status: 'firing',
          startsAt,
          labels: {
            alertname: 'KubePodCrashLooping',
            namespace: 'payments',
            pod: POD,
            container: 'app',
            severity: 'critical',
            team: EVIL,
          },
          annotations: {
            summary: `Crash looping ${EVIL}`,
            description: `Details ${EVIL}`,
            runbook_url: 'https://runbooks.example/x',
          },
          generatorURL: 'http://prometheus.example:9090/graph',
        },
        {
          status: 'firing',
          startsAt,
          // Names the cluster does not have: they still show up (in the root and the "not found" note).
          labels: {
            alertname: 'KubeContainerWaiting',
            namespace: 'payments',
            pod: `<!here>-${EVIL}`,
            container: '<@U123>',
            severity: 'warning',
          },
          annotations: { summary: EVIL },
        },
      ],
    };
    const res = await fetch(pipeline.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    t.is(res.status, 200);
    const ce = HTTP.binary(
      new CloudEvent({
        id: 'inject-event-1',
        source: 'https://10.96.0.1:443',
        type: 'dev.knative.apiserver.resource.add',
        subject: `/api/v1/namespaces/payments/events/${POD}.18a0`,
        datacontenttype: 'application/json',
        data: cluster.event,
      }),
    );
    const sent = await fetch(pipeline.broker, {
      method: 'POST',
      headers: ce.headers as Record<string, string>,
      body: ce.body as string,
    });
    t.true(sent.status < 300, `broker took the Event: ${sent.status}`);

    const all = () => slack.messages.get(CHANNEL) ?? [];
    const roots = () => all().filter((m) => !m.thread_ts);
    // The Event is about the alerts' workload: it joins an alert's thread (cross-source
    // threading) with its own message there, so two roots and a linked reply.
    await eventually(
      'two alert roots and the Event in a thread',
      () =>
        roots().length >= 2 &&
        all().some((m) => m.thread_ts && JSON.stringify(m.attachments ?? '').includes('Same workload'))
          ? true
          : undefined,
      45_000,
    );
    await eventually('the crash logs attached', () =>
      slack.files.find((f) => f.completed && f.content?.includes('exiting with code 1')),
    );
    await eventually(
      'details in every thread',
      () => (roots().every((r) => slack.replies(CHANNEL, r.ts).length > 0) ? true : undefined),
      45_000,
    );

    // Table cells are raw_text, which Slack shows as typed and never parses for a mention or a
    // link: hostile text is there literally (one line, no control character), the rest escaped.
    const { raw: cells, parsed: texts } = splitShown(all().map((m) => [m.text, m.blocks, m.attachments]));
    t.true(cells.includes(EVIL), 'the probe message is shown as typed in the table block');
    t.false(
      cells.some((c) => CONTROL.test(c)),
      'no control character in a cell',
    );
    const files = slack.files.flatMap((f) => [f.filename, f.title ?? '', f.initial_comment ?? '']);
    const shown = [...texts, ...files].join('\n');
    for (const raw of RAW) t.false(shown.includes(raw), `${raw} reached Slack unescaped`);
    t.false(/<b>/.test(shown), 'a raw <b> reached Slack');
    // Stricter: no `<` at all except the links the renderer builds from the alert's own URLs.
    const ownLinks = /<https?:\/\/(runbooks|prometheus|alertmanager)\.example[^<>|\s]*\|[^<>]*>/g;
    const stray = texts.map((s) => s.replace(ownLinks, '')).find((s) => s.includes('<'));
    t.is(stray, undefined, 'no raw < from input');
    // Proof the hostile text did arrive, escaped, from each kind of source.
    t.true(shown.includes('&lt;!channel&gt;'), 'escaped mention shown');
    t.true(shown.includes('&amp;'), 'escaped ampersand shown');
    for (const m of all()) {
      t.is(m.params.link_names, undefined);
      t.not(m.params.parse, 'full');
    }
    t.true(
      texts.some((s) => s.includes('Back-off restarting failed container &lt;!channel&gt;')),
      'Event message escaped',
    );
  } catch (err) {
    t.log(pipeline?.output().slice(-4000));
    throw err;
  }
});
