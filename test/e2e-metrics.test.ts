// End to end through `npm start`'s pipeline with a real Prometheus: a memory alert about a pod
// goes alert-ingest -> enrich-pod -> enrich-metrics -> dispatch-slack, and its thread gets the
// numbers in the details and the memory graph as an inline PNG.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PNG } from 'pngjs';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { type SeriesSpec, startPrometheus } from './support/prometheus.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const Mi = 1024 * 1024;

test('e2e: a memory alert reaches Slack with its figures in the details and its graph inline in the thread', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(stops.map((s) => s()));
  });
  // The last two hours of one container, 100Mi/h up to 400Mi a minute ago, under a 512Mi limit.
  const now = Math.floor(Date.now() / 60_000) * 60 - 60;
  const labels = { namespace: 'payments', pod: 'api-7d9f8b6c5d-x2x4q', container: 'app' };
  const points = Array.from(
    { length: 121 },
    (_, m) => [now - (120 - m) * 60, (200 + (100 * m) / 60) * Mi] as [number, number],
  );
  const series: SeriesSpec[] = [
    { name: 'container_memory_working_set_bytes', labels, points },
    {
      name: 'kube_pod_container_resource_limits',
      labels: { ...labels, resource: 'memory' },
      points: points.map(([s]) => [s, 512 * Mi]),
    },
  ];
  const prom = await startPrometheus(series);
  stops.push(() => prom.stop());
  const slack = await startSlackStandin({ channels: ['C0ALERTS'] });
  stops.push(() => slack.close());
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const dir = await mkdtemp(join(tmpdir(), 'e2e-metrics-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, 'prometheus:\n  enabled: true\n  memory: { before: 2h, after: 5m }\n');
  pipeline = await startPipeline({
    CONFIG_FILE: configFile,
    PROMETHEUS_URL: prom.url,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    KUBECONFIG: kube.kubeconfigPath,
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const res = await fetch(pipeline.webhook, {
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
          labels: { alertname: 'KubeContainerMemoryNearLimit', severity: 'warning', ...labels },
          annotations: { summary: 'Container memory near its limit.' },
          startsAt: new Date(now * 1000).toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.example:9090/graph?g0.expr=container_memory_working_set_bytes',
          fingerprint: 'e2emetrics1',
        },
      ],
    }),
  });
  t.is(res.status, 200);
  const root = await eventually('root', () =>
    (slack.messages.get('C0ALERTS') ?? []).find((m) => !m.thread_ts),
  ).catch((err) => {
    t.log(pipeline?.output().slice(-5000));
    throw err;
  });
  const png = await eventually('graph upload', () =>
    slack.files.find((f) => f.completed && f.filename.endsWith('-memory.png')),
  );
  t.is(png.thread_ts, root.ts);
  t.is(PNG.sync.read(png.bytes ?? Buffer.alloc(0)).width, 1200);
  const details = JSON.stringify(slack.replies('C0ALERTS', root.ts).map((m) => m.attachments));
  t.regex(
    details,
    /Memory of api-7d9f8b6c5d-x2x4q\/app peaked at 400Mi of its 512Mi limit, grew 100Mi\/h over 2h/,
  );
  t.regex(pipeline.output(), /"fn":"enrich-metrics".*"msg":"enriched"/);
});
