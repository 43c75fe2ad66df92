// Secrets never reach the logs: the Slack token, Authorization headers, webhook credentials and
// a Redis password, on the error paths where a careless log line would carry them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import { redactSecrets } from '../lib/platform/logger.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const SLACK_TOKEN = 'xoxb-4242-4343-SECRETslacktokenVALUE';
const WEBHOOK_TOKEN = 'webhook-SECRET-bearer-0f9e8d7c';
const BAD_BEARER = 'guessed-SECRET-bearer-1a2b3c';
const REDIS_PASSWORD = 'redis-SECRET-pass-5e6f';

function assertClean(t: import('ava').ExecutionContext, text: string, secrets: string[]): void {
  for (const s of secrets) t.false(text.includes(s), `a secret (${s.slice(0, 8)}…) is in the logs`);
}

test('secrets: Slack answering invalid_auth is logged and thrown without the token', async (t) => {
  const slack = await startSlackStandin({ token: SLACK_TOKEN });
  t.teardown(() => slack.close());
  const { log, text } = captureLogs('dispatch-slack');
  const dest = new SlackDestination({
    token: 'xoxb-0000-0000-WRONGtokenSECRET',
    channel: 'C0ALERTS',
    apiUrl: slack.url,
    log,
  });
  const issue = makeIssue();
  const err = await t.throwsAsync(
    dest.postRoot({ issue, status: 'firing', firingSince: issue.startsAt, firingCount: 1, verdicts: [] }),
  );
  // What the runtime does with a failed delivery: log the error object itself.
  log.error({ err, headers: { authorization: 'Bearer xoxb-0000-0000-WRONGtokenSECRET' } }, 'request failed');
  t.true(slack.calls.length > 0, 'Slack was called');
  t.regex(text(), /invalid_auth|not_authed|auth/i, 'the failure is logged');
  assertClean(t, text() + String(err?.message) + JSON.stringify(err), ['WRONGtokenSECRET', SLACK_TOKEN]);
});

test('secrets: a Redis URL with a password never shows in connection-error logs or store errors', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const admin = new Redis(server.url);
  await admin.config('SET', 'requirepass', REDIS_PASSWORD);
  admin.disconnect();
  const { log, text } = captureLogs('dispatch-slack');
  const wrong = new RedisStore(`redis://:wrong-${REDIS_PASSWORD}@127.0.0.1:${server.port}`, {
    log,
    commandTimeoutMs: 500,
  });
  t.teardown(() => wrong.close());
  const err = await t.throwsAsync(wrong.get('ki:{x}:thread'));
  log.error({ err }, 'request failed');
  await eventually(
    'the connection error logged',
    () => (/redis connection error/.test(text()) ? true : undefined),
    5000,
  );
  assertClean(t, text() + JSON.stringify(err) + String(err?.message), [REDIS_PASSWORD]);

  // The right password works, and nothing logs it either.
  const right = new RedisStore(`redis://:${REDIS_PASSWORD}@127.0.0.1:${server.port}`, { log });
  t.teardown(() => right.close());
  await right.put('ki:{x}:thread', 'v', 60);
  t.is(await right.get('ki:{x}:thread'), 'v');
  assertClean(t, text(), [REDIS_PASSWORD]);
});

test('secrets: free text with a Slack token or a bearer credential is redacted', (t) => {
  const out = redactSecrets(
    `failed: Authorization: Bearer ${WEBHOOK_TOKEN} token=${SLACK_TOKEN} Basic dXNlcjpwYXNz`,
  );
  assertClean(t, out, [WEBHOOK_TOKEN, SLACK_TOKEN, 'dXNlcjpwYXNz']);
});

test('secrets: the pipeline logs neither the Slack token, the webhook token, a rejected bearer nor the Redis password, also when Slack refuses the token', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const started: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(started.map((stop) => stop()));
  });
  const redis = await startRedisServer();
  started.push(() => redis.stop());
  const admin = new Redis(redis.url);
  await admin.config('SET', 'requirepass', REDIS_PASSWORD);
  admin.disconnect();
  // The stand-in knows a different token: every Slack call is answered invalid_auth.
  const slack = await startSlackStandin({ token: 'xoxb-1-2-theRIGHTone', channels: ['C0ALERTS'] });
  started.push(() => slack.close());
  const work = await mkdtemp(join(tmpdir(), 'secrets-'));
  started.push(() => rm(work, { recursive: true, force: true }));
  try {
    pipeline = await startPipeline({
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
      SLACK_BOT_TOKEN: SLACK_TOKEN,
      SLACK_CHANNEL: 'C0ALERTS',
      SLACK_API_URL: slack.url,
      WEBHOOK_BEARER_TOKEN: WEBHOOK_TOKEN,
      LOG_LEVEL: 'debug',
      DEAD_LETTER_FILE: join(work, 'dead-letters.jsonl'),
    });
    const alert = {
      version: '4',
      alerts: [
        {
          status: 'firing',
          startsAt: new Date().toISOString(),
          labels: { alertname: 'SecretsTest', severity: 'critical' },
        },
      ],
    };
    const post = (authorization: string) =>
      fetch(pipeline?.webhook ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(alert),
      });
    t.is((await post(`Bearer ${BAD_BEARER}`)).status, 401);
    t.is((await post(`Basic ${Buffer.from(`am:${BAD_BEARER}`).toString('base64')}`)).status, 401);
    t.is((await post(`Bearer ${WEBHOOK_TOKEN}`)).status, 200);
    await eventually('Slack refused the token', () =>
      slack.calls.some((c) => c.method === 'chat.postMessage') ? true : undefined,
    );
    await eventually('the refusal logged', () =>
      /invalid_auth|rejected|failed/.test(pipeline?.output() ?? '') ? true : undefined,
    );
    const out = pipeline.output();
    assertClean(t, out, [
      SLACK_TOKEN,
      WEBHOOK_TOKEN,
      BAD_BEARER,
      Buffer.from(`am:${BAD_BEARER}`).toString('base64'),
      REDIS_PASSWORD,
    ]);
    t.true(out.length > 0);
  } catch (err) {
    t.log(pipeline?.output().slice(-3000));
    throw err;
  }
});
