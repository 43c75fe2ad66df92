// Output shaped to Slack's per-channel rate: a bucket shared through Redis by every replica, and
// Slack's own 429 answered to the broker with its Retry-After instead of sleeping in-process.
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { create } from '../functions/dispatch-slack/index.ts';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import type { TokenRequest } from '../lib/domain/state-store.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { ChannelBusyError, createChannelBucket } from '../lib/stages/dispatch/channel-bucket.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const T0 = 1_800_000_000_000;

test('dispatch rate: ten replicas sharing one Redis post one burst into a channel at once; the rest are told when to come back', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const stores = Array.from({ length: 10 }, () => new RedisStore(redis.url));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  // A fixed clock: the outcome cannot depend on how long the calls take.
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
    t.is((r.reason as ChannelBusyError).retryAfter, 1, 'the next token, one second away');
  }
});

test('dispatch rate: the bucket refills one token per interval, and a full one after a pause', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const store = new RedisStore(redis.url);
  t.teardown(() => store.close());
  let clock = 1_800_000_000_000;
  const bucket = createChannelBucket(store, { perSecond: 0.5, burst: 2 }, () => clock);
  await bucket.take('C1');
  await bucket.take('C1');
  const err = await t.throwsAsync(bucket.take('C1'), { instanceOf: ChannelBusyError });
  t.is(err?.retryAfter, 2, 'one token every two seconds');
  await bucket.take('C2');
  clock += 1500;
  t.is((await t.throwsAsync(bucket.take('C1'), { instanceOf: ChannelBusyError }))?.retryAfter, 1);
  clock += 500;
  await t.notThrowsAsync(bucket.take('C1'));
  await t.throwsAsync(bucket.take('C1'), { instanceOf: ChannelBusyError }, 'one token, not a burst');
  clock += 60_000;
  await bucket.take('C1');
  await t.notThrowsAsync(bucket.take('C1'), 'a pause refills the burst');
});

// The bound Slack's rate needs, for any schedule and any mix of replicas: in every span of
// L ms the channel gets at most burst + L / interval calls, so adjacent seconds cannot add up
// to two bursts. Turns reserved ahead (several tokens, a wait allowed) count at the moment they
// were granted for. The Lua script and the memory store's TypeScript must agree call for call.
test('dispatch rate: any schedule of calls and reserved turns keeps the bound, the Redis and memory buckets answer alike, and a refusal names the exact wait', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const redisStore = new RedisStore(redis.url);
  const memory = new MemoryStore();
  t.teardown(() => Promise.all([redisStore.close(), memory.close()]));
  let run = 0;
  const step = fc.record({
    gap: fc.integer({ min: 0, max: 2500 }),
    count: fc.integer({ min: 1, max: 4 }),
    maxWaitMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10_000 })),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 3000 }),
      fc.array(step, { minLength: 1, maxLength: 60 }),
      async (burst, intervalMs, steps) => {
        const key = `ki:{bucket|p${run++}}:tat`;
        let nowMs = T0;
        const granted: number[] = [];
        const ask = async (req: TokenRequest): Promise<number | undefined> => {
          const [onRedis, inMemory] = [await redisStore.takeToken(req), await memory.takeToken(req)];
          if (onRedis === inMemory) return onRedis;
          t.fail(`redis ${onRedis} vs memory ${inMemory} at ${req.nowMs - T0}`);
          return undefined;
        };
        const grant = (at: number, count: number) => {
          for (let i = 0; i < Math.min(count, burst); i++) granted.push(at);
        };
        for (const { gap, count, maxWaitMs } of steps) {
          nowMs += gap;
          const req = { key, intervalMs, burst, nowMs, count, maxWaitMs };
          const wait = await ask(req);
          if (wait === undefined) return false;
          if (wait <= maxWaitMs) {
            grant(nowMs + wait, count);
            continue;
          }
          // Refused: at the wait granted; with no wait allowed the wait is exact, so one ms
          // before it is still refused (nothing was taken).
          const now = { ...req, maxWaitMs: 0 };
          if (maxWaitMs === 0 && wait > 1 && (await ask({ ...now, nowMs: nowMs + wait - 1 })) !== 1)
            return t.fail('a token before the named wait');
          nowMs += wait;
          if ((await ask({ ...now, nowMs })) !== 0) return t.fail('no token at the named wait');
          grant(nowMs, count);
        }
        granted.sort((a, b) => a - b);
        for (let i = 0; i < granted.length; i++)
          for (let j = i; j < granted.length; j++) {
            const span = (granted[j] as number) - (granted[i] as number);
            if (j - i + 1 > burst + Math.floor(span / intervalMs))
              return t.fail(`${j - i + 1} calls in ${span} ms (burst ${burst}, every ${intervalMs} ms)`);
          }
        return true;
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
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

test('dispatch-slack: a new alert waiting for its turn in the channel is answered 429 with Retry-After, logged as a deferral with its reason', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const fn = create({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    REDIS_URL: redis.url,
    SLACK_CHANNEL_RATE: '1',
    SLACK_CHANNEL_BURST: '1',
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
  const deliver = async (i: number) => {
    const issue = makeIssue({ fingerprint: `fp-turn-${i}`, labels: { alertname: `Turn${i}` } });
    const msg = HTTP.binary(
      new CloudEvent({ id: `i-${i}`, type: 'dev.kubeincident.issue.created.v1', source: '/t', data: issue }),
    );
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: msg.headers as Record<string, string>,
      body: msg.body as string,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  t.is((await deliver(1)).status, 200);
  const waiting = await deliver(2);
  t.is(waiting.status, 429);
  t.is(waiting.retryAfter, '2', 'its turn, on a whole second and no sooner than the broker retries');
  t.regex(waiting.body, /waiting 2s for its turn in the channel/);
  const line = logs.lines.find((l) => l.msg === 'retry later');
  t.is(line?.level, 'info', 'logged at info, not as an error');
  t.regex(String(line?.reason), /for its turn in the channel/);
  t.is((slack.messages.get('C0ALERTS') ?? []).length, 1, 'nothing posted for the waiting alert yet');
});
