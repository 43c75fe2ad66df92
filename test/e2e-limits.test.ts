// What alert-ingest acknowledges, every later stage delivers: through `npm start`'s pipeline
// (alert-ingest, the broker, enrich-pod, dispatch-slack) to a stand-in Slack, oversized and
// edge-case fields are either refused with a 4xx up front or delivered, never answered 200 and
// then dead-lettered, and never answered 503 forever.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CUT_FILE } from '../lib/domain/fit.ts';
import { DESTINATION_FUNCTIONS, FUNCTIONS } from '../lib/platform/functions.ts';
import { MAX_BODY_BYTES } from '../lib/platform/limits.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { rawRequest } from './support/raw-http.ts';
import { type SlackStandin, startSlackStandin } from './support/slack-standin.ts';

const CHANNEL = 'C0LIMITS';
const MiB = 1024 * 1024;

let pipeline: RunningPipeline;
let slack: SlackStandin;
let deadLetters: string;

test.before(async () => {
  slack = await startSlackStandin({ channels: [CHANNEL] });
  deadLetters = join(await mkdtemp(join(tmpdir(), 'limits-')), 'dead-letters.jsonl');
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

let n = 0;
function alert(labels: Record<string, string>, annotations: Record<string, string> = {}, extra = {}) {
  n++;
  return {
    status: 'firing',
    labels: { alertname: 'KubePodCrashLooping', namespace: 'limits', pod: `api-${n}`, ...labels },
    annotations: { summary: `limits ${n}`, ...annotations },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `limits${String(n).padStart(10, '0')}`,
    ...extra,
  };
}
const webhook = (alerts: unknown[]) =>
  fetch(pipeline.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '4', status: 'firing', receiver: 'r', alerts }),
  });
const rootOf = (fingerprint: string) =>
  (slack.messages.get(CHANNEL) ?? []).find(
    (m) =>
      !m.thread_ts && (m.metadata?.event_payload as { fingerprint?: string })?.fingerprint === fingerprint,
  );
async function noDeadLetters(): Promise<string> {
  return readFile(deadLetters, 'utf8').catch(() => '');
}

test.serial(
  'limits: every function and the broker take bodies up to MAX_BODY_BYTES and answer 413 past it',
  async (t) => {
    const ports = [
      // `npm start` runs a destination function only when the config names its type.
      ...FUNCTIONS.filter((fn) => DESTINATION_FUNCTIONS[fn] === undefined).map(
        (fn) => pipeline.ports[fn] as number,
      ),
      Number(new URL(pipeline.broker).port),
    ];
    for (const port of ports) {
      const over = await rawRequest(
        port,
        `POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${MAX_BODY_BYTES + 1}\r\nconnection: close\r\n\r\n`,
      );
      t.is(over.status, 413, `port ${port}`);
      // Exactly the limit is read, and then refused only for what it is (not JSON / not an event).
      const at = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: ' '.repeat(MAX_BODY_BYTES),
      });
      t.not(at.status, 413, `port ${port}`);
      t.true(at.status >= 400 && at.status < 500);
    }
  },
);

test.serial(
  'limits: a 1 MiB label and a 3.9 MiB annotation are cut at ingest, delivered to Slack, the full text attached',
  async (t) => {
    // Separate webhooks: together they would pass the 4 MiB body limit (é is two bytes).
    const label = alert({ team: 'é'.repeat(MiB) });
    const annotation = alert({}, { notes: `start-${'n'.repeat(3.9 * MiB)}` });
    const fits = alert({ owner: 'ü'.repeat(100_000) });
    for (const a of [label, annotation, fits]) {
      const res = await webhook([a]);
      t.is(res.status, 200, (await res.text()).slice(0, 300));
    }
    const cutFile = async (fingerprint: string) => {
      const root = await eventually('the root in Slack', () => rootOf(fingerprint), 60_000);
      t.regex(JSON.stringify([root.text, root.attachments]), /too long and cut/, 'the cut shows on the root');
      const file = await eventually('the cut values attached in the thread', () =>
        slack.files.find((f) => f.completed && f.thread_ts === root.ts && f.filename === CUT_FILE),
      );
      return file.content ?? '';
    };
    const whole = await cutFile(fits.fingerprint);
    t.true(
      whole === `--- labels.owner (100000 characters) ---\n${'ü'.repeat(100_000)}\n`,
      'kept whole: it fits',
    );
    const labelFile = await cutFile(label.fingerprint);
    t.regex(labelFile.slice(0, 100), /^--- labels\.team \(1048576 characters\) ---\néé/);
    t.regex(
      labelFile.slice(-200),
      /cut here: \d+ more characters did not fit/,
      'what no event could carry is marked',
    );
    const annotationFile = await cutFile(annotation.fingerprint);
    t.regex(annotationFile.slice(0, 100), /^--- annotations\.notes \(\d+ characters\) ---\nstart-nnn/);
    t.regex(annotationFile.slice(-200), /cut here: \d+ more characters did not fit/);
    t.is(await noDeadLetters(), '');
  },
);

test.serial(
  'limits: a start time no later stage can hold is a 400 up front; Alertmanager-style times go through',
  async (t) => {
    for (const startsAt of [
      '+099999-01-01T00:00:00Z',
      '9999-12-31T23:59:59-01:00',
      'March 7, 2026',
      '2026-02-30T00:00:00Z',
    ]) {
      const res = await webhook([alert({}, {}, { startsAt })]);
      t.is(res.status, 400, startsAt);
      t.regex(
        ((await res.json()) as { error: string }).error,
        /alerts\[0\]\.startsAt: not an RFC 3339 timestamp/,
      );
    }
    const odd = alert({}, {}, { startsAt: '0001-06-01T10:00:00.123456789+02:00' });
    const ok = await webhook([odd]);
    t.is(ok.status, 200);
    await eventually('the root in Slack', () => rootOf(odd.fingerprint), 60_000);
    t.is(await noDeadLetters(), '');
  },
);

test.serial(
  'limits: an alert whose labels cannot fit an issue even cut is a 400 naming it, and nothing is sent',
  async (t) => {
    const annotations = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`a${i}`, 'x'.repeat(4000)]),
    );
    const fine = alert({});
    const res = await webhook([fine, alert({}, annotations)]);
    t.is(res.status, 400);
    t.regex(
      ((await res.json()) as { error: string }).error,
      /^alerts\[1\]: its labels and annotations take \d+ bytes/,
    );
    await new Promise((r) => setTimeout(r, 1000));
    t.is(rootOf(fine.fingerprint), undefined, 'refused before anything went out');
  },
);
