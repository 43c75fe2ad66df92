// One webhook of 10,000 alerts (what a big Alertmanager group sends at once):
//   - to alert-ingest's bundle, as deployed, and to the bare forwarder (baselines.ts) on the same
//     counting sink: time to the 2xx and how many alerts the sink took;
//   - through the whole local pipeline (npm start, stand-in Slack): time to the 2xx, time until
//     every alert's root is in Slack, and the local broker's RSS before, at its peak and after
//     it went idle (it went from ~110 to ~480 MiB and stayed there before its deliveries were
//     bounded and it gave memory back).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startPipeline } from '../../test/support/pipeline.ts';
import { startSlackStandin } from '../../test/support/slack-standin.ts';
import { deployedEnv, freePort, median, msSince, rssMiB, spawnServer, stop } from './procs.ts';

export const BIG_WEBHOOK_ALERTS = 10_000;

/**
 * 10,000 compact alerts (~350 bytes each, 3.5 MiB: under MAX_BODY_BYTES, lib/platform/limits.ts). A
 * kube-prometheus alert with its generatorURL and annotations is ~900 bytes; 4,500 of those fit.
 */
export function bigWebhook(tag: string, n = BIG_WEBHOOK_ALERTS): string {
  const startsAt = new Date().toISOString();
  const alerts = Array.from({ length: n }, (_, i) => ({
    status: 'firing',
    labels: {
      alertname: 'TargetDown',
      namespace: `ns-${i % 50}`,
      service: `web-${i % 500}`,
      instance: `10.0.${Math.floor(i / 250)}.${i % 250}:8080`,
      severity: 'warning',
    },
    annotations: { summary: `Target ${tag}-${i} is down.` },
    startsAt,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus-k8s-0:9090/graph?g0.expr=up+%3D%3D+0',
    fingerprint: `${tag}${String(i).padStart(8, '0')}`,
  }));
  return JSON.stringify({
    version: '4',
    groupKey: '{}:{alertname="TargetDown"}',
    status: 'firing',
    receiver: 'kubeincident',
    groupLabels: { alertname: 'TargetDown' },
    externalURL: 'http://alertmanager.local',
    alerts,
  });
}

async function post(url: string, body: string): Promise<{ status: number; ms: number }> {
  const started = process.hrtime.bigint();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  return { status: res.status, ms: msSince(started) };
}

const taken = async (sinkPort: number) =>
  ((await (await fetch(`http://127.0.0.1:${sinkPort}/`)).json()) as { taken: number }).taken;

/** Posts the webhook once to a freshly started server; time to the answer, alerts the sink took. */
async function oneRun(
  file: string,
  env: NodeJS.ProcessEnv,
  sinkPort: number,
  body: string,
  cwd?: string,
): Promise<{ status: number; ms: number; delivered: number; rssMiB: number }> {
  const port = freePort();
  const s = await spawnServer(
    file,
    { ...env, K_SINK: `http://127.0.0.1:${sinkPort}/` },
    port,
    cwd ? undefined : '/',
    cwd,
  );
  try {
    const before = await taken(sinkPort);
    const r = await post(`http://127.0.0.1:${port}/`, body);
    return { ...r, delivered: (await taken(sinkPort)) - before, rssMiB: rssMiB(s.child.pid) };
  } finally {
    await stop(s.child);
  }
}

export async function benchBigWebhook(opts: {
  bundle: string;
  forwarder: string;
  countingSink: string;
  cwd: string;
  quick: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const sinkPort = freePort();
  const sink = await spawnServer(opts.countingSink, {}, sinkPort, '/');
  const body = bigWebhook('bw');
  const rounds = opts.quick ? 1 : 3;
  const ingest: Array<Awaited<ReturnType<typeof oneRun>>> = [];
  const forwarder: Array<Awaited<ReturnType<typeof oneRun>>> = [];
  try {
    for (let r = 0; r < rounds; r++) {
      forwarder.push(await oneRun(opts.forwarder, {}, sinkPort, body));
      ingest.push(await oneRun(opts.bundle, deployedEnv('alert-ingest'), sinkPort, body, opts.cwd));
    }
  } finally {
    await stop(sink.child);
  }
  const med = (xs: number[]) => median(xs);
  const statuses = (runs: typeof ingest) => [...new Set(runs.map((r) => r.status))].join('/');
  const ingestMs = med(ingest.map((r) => r.ms));
  const forwarderMs = med(forwarder.map((r) => r.ms));
  return [
    {
      what: `${BIG_WEBHOOK_ALERTS}-alert webhook (${(Buffer.byteLength(body) / 2 ** 20).toFixed(1)} MiB), to a sink answering 202`,
      'alert-ingest s to answer': Number((ingestMs / 1000).toFixed(2)),
      'alert-ingest status': statuses(ingest),
      'alert-ingest delivered': `${Math.min(...ingest.map((r) => r.delivered))}/${BIG_WEBHOOK_ALERTS}`,
      'alert-ingest RSS after MiB': Number(med(ingest.map((r) => r.rssMiB)).toFixed(1)),
      'forwarder s to answer': Number((forwarderMs / 1000).toFixed(2)),
      'forwarder status': statuses(forwarder),
      'forwarder delivered': `${Math.min(...forwarder.map((r) => r.delivered))}/${BIG_WEBHOOK_ALERTS}`,
      'x forwarder': Number((ingestMs / forwarderMs).toFixed(2)),
    },
    await throughPipeline(opts.quick),
  ];
}

/** The same webhook through npm start's processes to a stand-in Slack, watching the broker's RSS. */
async function throughPipeline(quick: boolean): Promise<Record<string, string | number>> {
  const channel = 'C0BIGHOOK';
  const slack = await startSlackStandin({ channels: [channel] });
  const deadLetters = join(await mkdtemp(join(tmpdir(), 'bench-bighook-')), 'dead-letters.jsonl');
  const pipeline = await startPipeline({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: channel,
    SLACK_API_URL: slack.url,
    // Slack's pace and storm folding are the storm section's; this measures the hops.
    SLACK_CHANNEL_RATE: '1000000',
    SLACK_CHANNEL_BURST: '1000000',
    STORM_THRESHOLD: '0',
    DEAD_LETTER_FILE: deadLetters,
    LOG_LEVEL: 'error',
  });
  try {
    const brokerPid = pipeline.child.pid as number;
    const rssBefore = rssMiB(brokerPid);
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(brokerPid));
    }, 50);
    const startedAt = Date.now();
    const answer = await post(pipeline.webhook, bigWebhook('bp'));
    const roots = () => (slack.messages.get(channel) ?? []).filter((m) => !m.thread_ts).length;
    await eventually(
      'every root in Slack',
      () => (roots() >= BIG_WEBHOOK_ALERTS ? true : undefined),
      quick ? 300_000 : 600_000,
    ).catch(() => undefined);
    // Each root's details reply follows it: done when Slack has been quiet for 2 s.
    await eventually(
      'Slack quiet',
      () => (Date.now() - (slack.calls.at(-1)?.at ?? 0) > 2000 ? true : undefined),
      120_000,
    );
    const allMs = (slack.calls.at(-1)?.at ?? Date.now()) - startedAt;
    clearInterval(sampler);
    // The broker gives memory back once idle (its release waits up to 5 s after the last one).
    await new Promise((r) => setTimeout(r, 6000));
    const dead = (await readFile(deadLetters, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    return {
      what: `the same through the local pipeline to Slack (status ${answer.status})`,
      'alert-ingest s to answer': Number((answer.ms / 1000).toFixed(2)),
      'alert-ingest delivered': `${roots()}/${BIG_WEBHOOK_ALERTS} roots in Slack after ${(allMs / 1000).toFixed(1)} s, ${dead} dead-lettered`,
      'broker RSS MiB before / peak / 6 s after': `${rssBefore.toFixed(0)} / ${peak.toFixed(0)} / ${rssMiB(brokerPid).toFixed(0)}`,
    };
  } finally {
    await pipeline.stop();
    await slack.close();
  }
}
