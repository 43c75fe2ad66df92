// Through the whole local pipeline (npm start: alert-ingest -> broker -> enrichers -> dispatch,
// real redis-server, stand-in Slack that timestamps every call):
//   latency: webhook -> Slack root post, p50/p99 at 100 alerts/second, next to a bare node:http
//            round trip at the same rate;
//   storm:   10,000 alerts in 60 s over 50 alert names, 500 pods, 5 channels -> Slack calls,
//            the busiest channel's calls/second, and alerts accounted for in Slack.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPipeline } from '../../test/support/pipeline.ts';
import { type RedisServer, startRedisServer } from '../../test/support/redis-server.ts';
import { type SlackStandin, shownText, startSlackStandin } from '../../test/support/slack-standin.ts';
import { msSince } from './procs.ts';

const CHANNELS = ['C0STORM0', 'C0STORM1', 'C0STORM2', 'C0STORM3', 'C0STORM4'];
const ROUTES = `routes:\n  - destinations: [default]\n    channelFromLabel: slack_channel\n`;

function alert(token: string, name: string, pod: string, ns: string, channel: string) {
  const now = new Date().toISOString();
  return {
    status: 'firing',
    labels: { alertname: name, namespace: ns, pod, severity: 'warning', slack_channel: channel },
    // The token rides in the summary (the title) so Slack's messages can be matched to alerts.
    annotations: { summary: `bench alert ${token}` },
    startsAt: now,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.local/graph',
    fingerprint: token,
  };
}

const webhook = (alerts: unknown[]) =>
  JSON.stringify({
    version: '4',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'kubeincident',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local',
    alerts,
  });

const post = async (url: string, body: string) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`webhook answered ${res.status}`);
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/**
 * Runs `fn` against the whole pipeline and stops everything it started (pipeline, Slack
 * stand-in, redis-server, files), also when a step throws: anything left running keeps the
 * bench process alive after its figures. Files go to a directory of its own: a fresh clone has
 * no .local, and writing there once failed after Redis and the stand-in were up, leaving both.
 */
async function withPipeline<T>(
  env: NodeJS.ProcessEnv,
  fn: (webhookUrl: string, slack: SlackStandin) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeincident-bench-pipeline-'));
  const configFile = join(dir, 'config.yaml');
  const deadLetters = join(dir, 'dead-letters.jsonl');
  let redis: RedisServer | undefined;
  let slack: SlackStandin | undefined;
  let pipeline: Awaited<ReturnType<typeof startPipeline>> | undefined;
  try {
    await writeFile(configFile, ROUTES);
    redis = await startRedisServer();
    slack = await startSlackStandin({ channels: CHANNELS });
    pipeline = await startPipeline({
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: CHANNELS[0],
      SLACK_API_URL: slack.url,
      CONFIG_FILE: configFile,
      DEAD_LETTER_FILE: deadLetters,
      LOG_LEVEL: 'error',
      ...env,
    });
    const result = await fn(pipeline.webhook, slack);
    const dead = await readFile(deadLetters, 'utf8').catch(() => '');
    return Object.assign(result as object, { deadLettered: dead.split('\n').filter(Boolean).length }) as T;
  } finally {
    await pipeline?.stop();
    await Promise.allSettled([slack?.close(), redis?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A bare node:http round trip at the same rate: what the machine's loopback HTTP costs. */
async function bareLatency(perSecond: number, seconds: number): Promise<number[]> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const lat: number[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < perSecond * seconds; i++) {
      const t = process.hrtime.bigint();
      sends.push(post(url, webhook([])).then(() => void lat.push(msSince(t))));
      await new Promise((r) => setTimeout(r, 1000 / perSecond));
    }
    await Promise.all(sends);
    return lat;
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

export async function benchLatency(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const seconds = opts.tiny ? 1 : opts.quick ? 5 : 15;
  const rate = 100;
  // Rate shaping and folding off: this measures the pipeline, not Slack's pace.
  const env = { SLACK_CHANNEL_RATE: '100000', SLACK_CHANNEL_BURST: '100000', STORM_THRESHOLD: '0' };
  const r = await withPipeline(env, async (url, slack) => {
    const sentAt = new Map<string, number>();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < rate * seconds; i++) {
      const token = `lat${String(i).padStart(6, '0')}`;
      sentAt.set(token, Date.now());
      sends.push(
        post(
          url,
          webhook([alert(token, `BenchLatency${i % 50}`, `pod-${i}`, 'bench', CHANNELS[0] as string)]),
        ),
      );
      await new Promise((res) => setTimeout(res, 1000 / rate));
    }
    await Promise.all(sends);
    const deadline = Date.now() + 60_000;
    const lat = new Map<string, number>();
    while (lat.size < sentAt.size && Date.now() < deadline) {
      for (const c of slack.calls) {
        if (c.method !== 'chat.postMessage' || c.params.thread_ts) continue;
        const token = /bench alert (lat\d{6})/.exec(JSON.stringify(c.params))?.[1];
        const sent = token ? sentAt.get(token) : undefined;
        if (token && sent !== undefined && !lat.has(token)) lat.set(token, c.at - sent);
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    return { lat: [...lat.values()], sent: sentAt.size };
  });
  const bare = await bareLatency(rate, Math.min(seconds, 5));
  return [
    {
      what: `webhook -> Slack root, ${rate} alerts/s for ${seconds} s`,
      'p50 ms': Math.round(pct(r.lat, 50)),
      'p99 ms': Math.round(pct(r.lat, 99)),
      'bare p50 ms': Number(pct(bare, 50).toFixed(1)),
      'bare p99 ms': Number(pct(bare, 99).toFixed(1)),
      'x bare p50': Number((pct(r.lat, 50) / pct(bare, 50)).toFixed(1)),
      delivered: `${r.lat.length}/${r.sent}`,
    },
  ];
}

export async function benchStorm(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  // A tiny storm (the bench-exits test) is a handful of alerts that all find Slack within seconds.
  const total = opts.tiny ? 10 : opts.quick ? 2000 : 10_000;
  const seconds = opts.tiny ? 1 : opts.quick ? 20 : 60;
  // A quick storm has the full one's shape (40 alerts a group) over fewer alert names.
  const names = opts.quick || opts.tiny ? 10 : 50;
  const tickMs = 100;
  const r = await withPipeline({}, async (url, slack) => {
    const tokens: string[] = [];
    const started = Date.now();
    const sends: Promise<void>[] = [];
    const perTick = Math.ceil(total / ((seconds * 1000) / tickMs));
    for (let i = 0; i < total; ) {
      const batch = [];
      for (let k = 0; k < perTick && i < total; k++, i++) {
        const pod = i % 500;
        // Distinct (alert name, pod) pairs: 10,000 different alerts, no duplicates.
        const name = (Math.floor(i / 500) + i) % names;
        const ns = pod % 5;
        const token = `st${String(i).padStart(6, '0')}`;
        tokens.push(token);
        batch.push(alert(token, `BenchStorm${name}`, `pod-${pod}`, `ns-${ns}`, CHANNELS[ns] as string));
      }
      sends.push(post(url, webhook(batch)));
      const due = started + (tokens.length / total) * seconds * 1000;
      await new Promise((res) => setTimeout(res, Math.max(0, due - Date.now())));
    }
    await Promise.all(sends);
    // Drained once every alert shows, or Slack has been quiet for 60 s (deferred summaries come
    // back on the broker's exponential retries), or at a cap that keeps the bench in its budget.
    const cap = Date.now() + (opts.quick ? 120_000 : 300_000);
    while (Date.now() < cap) {
      const last = slack.calls.at(-1)?.at ?? 0;
      if (Date.now() - last > 60_000) break;
      const text = shownText(slack);
      if (tokens.every((t) => text.includes(t))) break;
      await new Promise((res) => setTimeout(res, opts.tiny ? 250 : 5000));
    }
    const channelOf = (c: (typeof slack.calls)[number]) =>
      c.method === 'chat.postMessage' || c.method === 'chat.update'
        ? String(c.params.channel)
        : c.method === 'files.completeUploadExternal'
          ? String(c.params.channel_id)
          : undefined;
    const visible = slack.calls.filter((c) => channelOf(c) !== undefined);
    const end = visible.at(-1)?.at ?? Date.now();
    const runSeconds = (end - started) / 1000;
    let busiest = 0;
    let peak = 0;
    for (const ch of CHANNELS) {
      const times = visible.filter((c) => channelOf(c) === ch).map((c) => c.at);
      busiest = Math.max(busiest, times.length / runSeconds);
      for (let a = 0, b = 0; b < times.length; b++) {
        while ((times[b] as number) - (times[a] as number) >= 1000) a++;
        peak = Math.max(peak, b - a + 1);
      }
    }
    const text = shownText(slack);
    const found = tokens.filter((t) => text.includes(t)).length;
    const count = (m: string) => visible.filter((c) => c.method === m).length;
    return {
      calls: visible.length,
      posts: count('chat.postMessage'),
      edits: count('chat.update'),
      files: count('files.completeUploadExternal'),
      runSeconds,
      busiest,
      peak,
      found,
      sent: tokens.length,
    };
  });
  return [
    {
      what: `storm: ${r.sent} alerts in ${seconds} s, ${names} names, 500 pods, 5 channels`,
      'slack calls': r.calls,
      'posts/edits/files': `${r.posts}/${r.edits}/${r.files}`,
      'without folding': r.sent,
      'x without': Number((r.calls / r.sent).toFixed(3)),
      'run s': Math.round(r.runSeconds),
      'busiest channel calls/s': Number(r.busiest.toFixed(2)),
      'x Slack 1/s': Number(r.busiest.toFixed(2)),
      'peak calls in 1 s': r.peak,
      'alerts in Slack': `${r.found}/${r.sent}`,
      lost: r.sent - r.found,
      'dead-lettered': (r as unknown as { deadLettered: number }).deadLettered,
    },
  ];
}

/**
 * A burst of unrelated alerts at once (each its own alert name and namespace, so no group
 * storms), more than the channel's burst: every one must be posted whole (its root and its
 * details in its thread), none folded, at the channel's pace. Reported: the time until the last
 * one is whole, against the same burst with the channel unpaced (measured in this run) and
 * against the floor the pace sets for the calls it took ((calls - burst) / rate).
 */
export async function benchBurst(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const n = opts.tiny ? 4 : 20;
  const rate = 0.9;
  const burst = 3;
  const run = (env: NodeJS.ProcessEnv) =>
    withPipeline(
      { SLACK_CHANNEL_RATE: String(rate), SLACK_CHANNEL_BURST: String(burst), ...env },
      (url, slack) => burstOnce(url, slack, n, opts.quick ? 120_000 : 180_000),
    );
  const paced = await run({});
  const unpaced = await run({ SLACK_CHANNEL_RATE: '100000', SLACK_CHANNEL_BURST: '100000' });
  const floorMs = (Math.max(0, paced.calls - burst) / rate) * 1000;
  return [
    {
      what: `burst of ${n} unrelated alerts, one channel at ${rate} calls/s (burst ${burst})`,
      'posted whole': `${paced.whole}/${n}`,
      summaries: paced.summaries,
      'slack calls': paced.calls,
      'last whole s': Number((paced.lastMs / 1000).toFixed(1)),
      'unpaced s': Number((unpaced.lastMs / 1000).toFixed(1)),
      'x unpaced': Number((paced.lastMs / unpaced.lastMs).toFixed(1)),
      'pace floor s': Number((floorMs / 1000).toFixed(1)),
      'x floor': Number((paced.lastMs / floorMs).toFixed(2)),
      'dead-lettered': (paced as unknown as { deadLettered: number }).deadLettered,
    },
  ];
}

/** One burst: the webhook with every alert, then the wait until each has its root and details. */
async function burstOnce(url: string, slack: SlackStandin, n: number, capMs: number) {
  const tokens = Array.from({ length: n }, (_, i) => `burst${String(i).padStart(3, '0')}`);
  const alerts = tokens.map((tok, i) =>
    alert(tok, `BenchBurst${i}`, `pod-${i}`, `ns-burst-${i}`, CHANNELS[0] as string),
  );
  const started = Date.now();
  await post(url, webhook(alerts));
  const posts = () => slack.calls.filter((c) => c.method === 'chat.postMessage');
  const wholeAt = (): Map<string, number> => {
    const done = new Map<string, number>();
    for (const root of posts().filter((c) => !c.params.thread_ts)) {
      const tok = /bench alert (burst\d{3})/.exec(JSON.stringify(root.params))?.[1];
      if (!tok) continue;
      const ts = slack.messages
        .get(CHANNELS[0] as string)
        ?.find((m) => !m.thread_ts && JSON.stringify(m.text).includes(tok))?.ts;
      const details = posts().find((c) => ts !== undefined && c.params.thread_ts === ts);
      if (details) done.set(tok, details.at);
    }
    return done;
  };
  const cap = started + capMs;
  let done = wholeAt();
  while (done.size < n && Date.now() < cap) {
    await new Promise((res) => setTimeout(res, 250));
    done = wholeAt();
  }
  const text = shownText(slack);
  return {
    whole: done.size,
    lastMs: done.size === 0 ? Number.NaN : Math.max(...done.values()) - started,
    summaries: (text.match(/Storm|held back/g) ?? []).length,
    calls: slack.calls.filter((c) =>
      ['chat.postMessage', 'chat.update', 'files.completeUploadExternal'].includes(c.method),
    ).length,
  };
}
