// End to end through `npm start`'s pipeline with a configuration file: alerts of two namespaces
// land in two Slack channels, each with the enrichments its workflows chose.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const CONFIG = `
workflows:
  alertEnrichment:
    alertExplanation: { enabled: true }
customWorkflows:
  - name: payments-oncall
    triggers: [{ on: alert, namespace: payments }]
    actions:
      - template: { title: Payments, text: "Owner: {{labels.team}}" }
      - mention: { groups: [S0PAYONCALL] }
    stop: true
destinations:
  - { name: pay, type: slack, token: "\${SLACK_BOT_TOKEN}", channel: C0PAY, apiUrl: "\${SLACK_API_URL}" }
  - { name: web, type: slack, token: "\${SLACK_BOT_TOKEN}", channel: C0WEB, apiUrl: "\${SLACK_API_URL}" }
routes:
  - { match: { namespace: payments }, destinations: [pay] }
  - { match: { namespace: web }, destinations: [web] }
silences:
  - { name: web-info, severities: [INFO], matchers: ['namespace="web"'] }
`;

const webhook = (alerts: Array<{ labels: Record<string, string>; annotations?: Record<string, string> }>) =>
  JSON.stringify({
    version: '4',
    status: 'firing',
    receiver: 'kubeincident',
    groupKey: '{}:{}',
    externalURL: 'http://alertmanager.example:9093',
    alerts: alerts.map((a, i) => ({
      status: 'firing',
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: `e2eroute${i}`,
    })),
  });

test('e2e: two namespaces route to two channels with the enrichments their workflows chose; a silence holds', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(stops.map((s) => s()));
  });
  const slack = await startSlackStandin({ channels: ['C0PAY', 'C0WEB'] });
  stops.push(() => slack.close());
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const dir = await mkdtemp(join(tmpdir(), 'e2e-routing-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, CONFIG);
  pipeline = await startPipeline({
    CONFIG_FILE: configFile,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0UNUSED',
    SLACK_API_URL: slack.url,
    KUBECONFIG: kube.kubeconfigPath,
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const res = await fetch(pipeline.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: webhook([
      {
        labels: {
          alertname: 'KubePodCrashLooping',
          namespace: 'payments',
          pod: 'api-7d9f8b6c5d-x2x4q',
          container: 'app',
          team: 'ledger',
          severity: 'critical',
        },
      },
      {
        labels: {
          alertname: 'KubeDeploymentReplicasMismatch',
          namespace: 'web',
          deployment: 'frontend',
          severity: 'warning',
        },
      },
      { labels: { alertname: 'Watchdog', namespace: 'web', severity: 'info' } },
    ]),
  });
  t.is(res.status, 200);
  t.like(await res.json(), { alerts: 2, silenced: 1 });

  const rootIn = (ch: string) => (slack.messages.get(ch) ?? []).filter((m) => !m.thread_ts);
  const pay = await eventually('payments root', () => rootIn('C0PAY')[0]).catch((err) => {
    t.log(pipeline?.output().slice(-5000));
    throw err;
  });
  const web = await eventually('web root', () => rootIn('C0WEB')[0]);
  const details = async (ch: string, ts: string) =>
    JSON.stringify((await eventually(`details in ${ch}`, () => slack.replies(ch, ts)[0])).attachments);

  t.regex(pay.text ?? '', /<!subteam\^S0PAYONCALL>/, 'the configured group is mentioned');
  t.notRegex(web.text ?? '', /subteam/, 'web has no mention workflow');
  const payDetails = await details('C0PAY', pay.ts);
  const webDetails = await details('C0WEB', web.ts);
  t.regex(payDetails, /Owner: ledger/);
  t.regex(payDetails, /About KubePodCrashLooping/);
  t.notRegex(webDetails, /Owner:/);
  t.regex(webDetails, /About KubeDeploymentReplicasMismatch/);
  t.is(rootIn('C0PAY').length, 1);
  t.is(rootIn('C0WEB').length, 1);
  t.is(
    (slack.messages.get('C0UNUSED') ?? []).length,
    0,
    'the environment default is not used when routes match',
  );
});

test('e2e: with the default configuration an alert about an HPA goes straight to dispatch, a pod alert through enrich-pod', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(stops.map((s) => s()));
  });
  const slack = await startSlackStandin({ channels: ['C0ALERTS'] });
  stops.push(() => slack.close());
  const dir = await mkdtemp(join(tmpdir(), 'e2e-routing-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  // No CONFIG_FILE: the built-in defaults, every enricher part on. No cluster access either: the
  // pod's enrichment says so, which shows enrich-pod ran for it.
  pipeline = await startPipeline({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const res = await fetch(pipeline.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: webhook([
      {
        // No enricher reads an HPA (a PVC or a CronJob goes to enrich-pod: docs/workloads.md).
        labels: {
          alertname: 'KubeHpaMaxedOut',
          namespace: 'payments',
          horizontalpodautoscaler: 'ledger-api',
          severity: 'critical',
        },
        annotations: { summary: 'HPA payments/ledger-api has been running at max replicas.' },
      },
      {
        labels: {
          alertname: 'KubePodCrashLooping',
          namespace: 'payments',
          pod: 'api-7d9f8b6c5d-x2x4q',
          severity: 'critical',
        },
        annotations: { summary: 'Pod payments/api-7d9f8b6c5d-x2x4q is crash looping.' },
      },
    ]),
  });
  t.is(res.status, 200);
  const rootAbout = (text: string) =>
    (slack.messages.get('C0ALERTS') ?? []).find((m) => !m.thread_ts && (m.text ?? '').includes(text));
  const details = async (text: string) => {
    const root = await eventually(`root about ${text}`, () => rootAbout(text)).catch((err) => {
      t.log(pipeline?.output().slice(-5000));
      throw err;
    });
    const reply = await eventually(`details of ${text}`, () => slack.replies('C0ALERTS', root.ts)[0]);
    return JSON.stringify([reply.text, reply.blocks, reply.attachments]);
  };
  const hpa = await details('ledger-api');
  t.regex(hpa, /About KubeHpaMaxedOut/, 'the details went out, with what ingest added');
  t.notRegex(hpa, /Not enriched/);
  const pod = await details('api-7d9f8b6c5d-x2x4q');
  t.regex(pod, /No cluster access: pod details/, 'enrich-pod ran for the pod');
  // enrich-pod logs every issue it enriched: the HPA's fingerprint (e2eroute0) is not among them.
  const enriched = pipeline
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"enriched"'));
  t.true(enriched.some((l) => l.includes('"fingerprint":"e2eroute1"')));
  t.false(enriched.some((l) => l.includes('"fingerprint":"e2eroute0"')));
});
