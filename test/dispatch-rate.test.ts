// Output shaped to Slack's per-channel rate: a bucket shared through Redis by every replica, and
// Slack's own 429 answered to the broker with its Retry-After instead of sleeping in-process.
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { create } from '../functions/dispatch-slack/index.ts';
import { ChannelBusyError, createChannelBucket } from '../lib/dispatch/channel-bucket.ts';
import { createFunctionServer } from '../lib/runtime/server.ts';
import { SlackDestination } from '../lib/slack/destination.ts';
import { RedisStore } from '../lib/store/redis.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

test('dispatch rate: ten replicas sharing one Redis post at most one burst per window into a channel; the rest are told when to come back', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const stores = Array.from({ length: 10 }, () => new RedisStore(redis.url));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  // A fixed clock inside one window: the outcome cannot depend on when the test runs.
  const now = () => 1_800_000_000_000;
  const replicas = stores.map(
    (store) =>
      new SlackDestination({
        token: slack.token,
        channel: 'C0ALERTS',
        apiUrl: slack.url,
        bucket: createChannelBucket(store, { perSecond: 1, burst: 4 }, now),
      }),
  );
  const results = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => {
      const issue = makeIssue({ fingerprint: `fp-${i}` });
      return (replicas[i % 10] as SlackDestination).postRoot({
        issue,
        status: 'firing',
        firingSince: issue.startsAt,
        firingCount: 1,
        verdicts: [],
      });
    }),
  );
  t.is(results.filter((r) => r.status === 'fulfilled').length, 4, 'one burst for the whole fleet');
  t.is(slack.calls.filter((c) => c.method === 'chat.postMessage').length, 4, 'Slack saw only those');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.is(refused.length, 26);
  for (const r of refused) {
    t.true(r.reason instanceof ChannelBusyError);
    t.is((r.reason as ChannelBusyError).status, 429);
    t.true(((r.reason as ChannelBusyError).retryAfter ?? 0) >= 1);
  }
});

test('dispatch rate: the bucket refills: the next window allows the next burst', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const store = new RedisStore(redis.url);
  t.teardown(() => store.close());
  let clock = 1_800_000_000_000;
  const bucket = createChannelBucket(store, { perSecond: 1, burst: 2 }, () => clock);
  await bucket.take('C1');
  await bucket.take('C1');
  const err = await t.throwsAsync(bucket.take('C1'), { instanceOf: ChannelBusyError });
  t.is(err?.retryAfter, 2, 'the rest of the two-second window');
  await bucket.take('C2');
  clock += 2000;
  await t.notThrowsAsync(bucket.take('C1'));
});

test('dispatch-slack: a 429 from Slack is answered 429 with its Retry-After, and the redelivery posts once', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const fn = create({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'silent',
  });
  const logs = captureLogs();
  const server = createFunctionServer(fn, { name: 'dispatch-slack', log: logs.log });
  t.teardown(async () => {
    await server.drain(100);
    await fn.shutdown?.();
  });
  await fn.init?.();
  const port = await server.listen(0, '127.0.0.1');
  server.setReady(true);
  const msg = HTTP.binary(
    new CloudEvent({ id: 'i-1', type: 'dev.kubeincident.issue.created.v1', source: '/t', data: makeIssue() }),
  );
  const deliver = () =>
    fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: msg.headers as Record<string, string>,
      body: msg.body as string,
    });
  slack.injectFault('chat.postMessage', { status: 429, retryAfter: 7 });
  const limited = await deliver();
  await limited.arrayBuffer();
  t.is(limited.status, 429);
  t.is(limited.headers.get('retry-after'), '7');
  const retried = await deliver();
  await retried.arrayBuffer();
  t.is(retried.status, 200);
  const posted = slack.messages.get('C0ALERTS') ?? [];
  t.is(posted.filter((m) => !m.thread_ts).length, 1, 'one root, posted by the redelivery');
});
