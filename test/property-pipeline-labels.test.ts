// Any valid UTF-8 in labels and annotations (any script, emoji, control characters, quotes,
// percent signs) goes through the running pipeline (alert-ingest, the broker, enrich-pod,
// dispatch-slack) and arrives in Slack as written, escaped for mrkdwn: no 503 forever, no dead
// letter. The values ride in ce-subject and ce-partitionkey on every hop (lib/cloudevents).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { escapeMrkdwn, oneLine } from '../lib/adapters/slack/text.ts';
import { strings } from './support/arbitraries.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { type SlackStandin, startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0UTF8';

let pipeline: RunningPipeline;
let slack: SlackStandin;
let deadLetters: string;

test.before(async () => {
  slack = await startSlackStandin({ channels: [CHANNEL] });
  deadLetters = join(await mkdtemp(join(tmpdir(), 'utf8-')), 'dead-letters.jsonl');
  pipeline = await startPipeline({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: CHANNEL,
    SLACK_API_URL: slack.url,
    SLACK_CHANNEL_RATE: '1000',
    SLACK_CHANNEL_BURST: '1000',
    STORM_THRESHOLD: '0',
    LOCAL_BROKER_BACKOFF_DELAY: 'PT0.05S',
    LOCAL_BROKER_RETRIES: '2',
    DEAD_LETTER_FILE: deadLetters,
  });
});
test.after.always(async () => {
  await pipeline?.stop();
  await slack?.close();
});

// Any code point but lone surrogates (which UTF-8 cannot carry), up to 24 of them.
const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).filter((s) => s.isWellFormed());
const labelled = fc.record({ namespace: text, pod: text, team: text, summary: text });

let n = 0;

test('pipeline: arbitrary UTF-8 labels and annotations reach Slack as written, escaped for mrkdwn', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(labelled, { minLength: 1, maxLength: 3 }), async (values) => {
      const alerts = values.map((v) => ({
        status: 'firing',
        labels: { alertname: 'PipelineUtf8', namespace: v.namespace, pod: v.pod, team: v.team },
        annotations: { summary: v.summary },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: `utf8${String(n++).padStart(8, '0')}`,
      }));
      const res = await fetch(pipeline.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: '4', status: 'firing', receiver: 'r', alerts }),
      });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      for (const [i, alert] of alerts.entries()) {
        const v = values[i] as (typeof values)[number];
        const root = await eventually(
          `the root of ${alert.fingerprint}`,
          () =>
            (slack.messages.get(CHANNEL) ?? []).find(
              (m) =>
                !m.thread_ts &&
                (m.metadata?.event_payload as { fingerprint?: string })?.fingerprint === alert.fingerprint,
            ),
          20_000,
        );
        const shown = strings([root.text, root.attachments]).join('\n');
        const expected = [
          escapeMrkdwn(oneLine(v.namespace)),
          escapeMrkdwn(oneLine(v.pod)),
          escapeMrkdwn(oneLine(`team=${v.team}`)).replace(/`/g, "'"),
          escapeMrkdwn(oneLine(v.summary).trim()),
        ];
        for (const e of expected) {
          if (!shown.includes(e))
            throw new Error(`${JSON.stringify(e)} is not in the root of ${alert.fingerprint}`);
        }
      }
    }),
    { numRuns: 25, endOnFailure: true },
  );
  t.is(await readFile(deadLetters, 'utf8').catch(() => ''), '', 'nothing was dead-lettered');
  t.notRegex(pipeline.output(), /function exited; restarting/);
});
