// End to end through `npm start`'s pipeline: a storm of one group, delivered many alerts per
// webhook (concurrent deliveries contend for the group), folds into one summary that ends up
// showing every alert and then the group's resolution.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { shownText, startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0STORM';
const startsAt = new Date(Date.now() - 60_000).toISOString();

const webhook = (status: 'firing' | 'resolved', from: number, to: number) =>
  JSON.stringify({
    version: '4',
    status,
    receiver: 'kubeincident',
    groupKey: '{}:{alertname="KubePodNotReady"}',
    externalURL: 'http://alertmanager.example:9093',
    alerts: Array.from({ length: to - from }, (_, k) => {
      const i = from + k;
      return {
        status,
        labels: { alertname: 'KubePodNotReady', namespace: 'shop', pod: `cart-${i}`, severity: 'warning' },
        annotations: { summary: `storm alert tok${String(i).padStart(3, '0')}` },
        startsAt,
        endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        fingerprint: `e2estorm${i}`,
      };
    }),
  });

test('e2e storm: one summary for the group shows every folded alert, then the resolution', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const slack = await startSlackStandin({ channels: [CHANNEL] });
  const dir = await mkdtemp(join(tmpdir(), 'e2e-storm-'));
  t.teardown(async () => {
    await pipeline?.stop();
    await slack.close();
    await rm(dir, { recursive: true, force: true });
  });
  pipeline = await startPipeline({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: CHANNEL,
    SLACK_API_URL: slack.url,
    STORM_THRESHOLD: '2',
    STORM_EDIT_INTERVAL_SECONDS: '1',
    SLACK_CHANNEL_RATE: '5',
    SLACK_CHANNEL_BURST: '5',
    // The manifests' exponential backoff, scaled down: 1 s, 2 s, 4 s ...
    LOCAL_BROKER_BACKOFF_DELAY: 'PT0.5S',
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const post = async (body: string) => {
    const res = await fetch(pipeline?.webhook as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    t.is(res.status, 200, await res.text());
  };
  for (let i = 0; i < 40; i += 10) await post(webhook('firing', i, i + 10));

  const tokens = Array.from({ length: 40 }, (_, i) => `tok${String(i).padStart(3, '0')}`);
  await eventually(
    'every alert visible in Slack',
    () => (tokens.every((tok) => shownText(slack).includes(tok)) ? true : undefined),
    45_000,
  );
  const roots = (slack.messages.get(CHANNEL) ?? []).filter((m) => !m.thread_ts);
  const summaries = roots.filter((m) => /Storm/.test(JSON.stringify([m.text, m.attachments])));
  t.is(summaries.length, 1, 'one summary for the group');
  t.is(roots.length - summaries.length, 2, 'only the first alerts, up to the threshold, have own roots');
  const summary = summaries[0];
  await eventually(
    'the summary counts every alert of the storm',
    () =>
      /Storm\*: 40 alerts.*Folded here\*\\n38 firing, 0 resolved.*Own threads\*\\n2/.test(
        JSON.stringify([summary?.text, summary?.attachments]),
      )
        ? true
        : undefined,
    45_000,
  );

  for (let i = 0; i < 40; i += 10) await post(webhook('resolved', i, i + 10));
  await eventually(
    'the summary turns resolved',
    () => (/RESOLVED storm/.test(JSON.stringify([summary?.text, summary?.attachments])) ? true : undefined),
    45_000,
  );
  t.pass();
});
