// The dispatcher under at-least-once delivery, against the memory store and a real redis-server:
// concurrent deliveries, failures part-way through, lost locks, TTLs, round trips.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { Redis } from 'ioredis';
import { threadKeys } from '../lib/adapters/store/keys.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import { threadRepository } from '../lib/adapters/store/threads.ts';
import type { StateStore } from '../lib/domain/state-store.ts';
import { DependencyError, UnavailableError } from '../lib/platform/errors.ts';
import { createChannelBucket } from '../lib/stages/dispatch/channel-bucket.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { at, makeIssue, oomEnrichment, resolvedOf } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';
import { countRoundTrips } from './support/round-trips.ts';

let server: RedisServer;
let raw: Redis;
const opened: StateStore[] = [];

test.before(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
});
test.after.always(async () => {
  await Promise.all(opened.map((s) => s.close()));
  raw?.disconnect();
  await server?.stop();
});

interface Opened {
  store: StateStore;
  /** Remaining TTL of a key as the store applied it (PTTL on Redis), null when absent. */
  ttlMs(key: string): Promise<number | null>;
}

const backends: Array<{ name: string; open(): Opened }> = [
  {
    name: 'memory',
    open() {
      const store = new MemoryStore();
      return { store, ttlMs: async (k) => store.ttlMs(k) };
    },
  },
  {
    name: 'redis',
    open() {
      const prefix = `t${randomUUID().slice(0, 8)}:`;
      const store = new RedisStore(server.url, { keyPrefix: prefix });
      return {
        store,
        ttlMs: async (k) => {
          const ms = await raw.pttl(prefix + k);
          return ms < 0 ? null : ms;
        },
      };
    },
  },
];

function setup(open: () => Opened) {
  const o = open();
  opened.push(o.store);
  const destination = new RecordingDestination();
  return { ...o, destination, deps: { store: o.store, destination } };
}

/** setup() with a clock the test moves by hand, which the dispatcher reads. */
function setupWithClock(open: () => Opened) {
  const clock = manualClock();
  const o = setup(open);
  return { ...o, clock, deps: { ...o.deps, now: clock.now } };
}

/** `inner` whose next call of `op` fails with `err` without reaching it. */
function failingOnce(inner: StateStore, op: keyof StateStore, err: Error): StateStore {
  let armed = true;
  return new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (armed && prop === op) {
          armed = false;
          return Promise.reject(err);
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A clock the test moves by hand: `now` for the dispatcher, `ms` for a bucket. */
function manualClock() {
  let ms = Date.now();
  return {
    now: () => new Date(ms),
    ms: () => ms,
    advance(by: number) {
      ms += by;
    },
  };
}

/** A firing's root adopted by its resolution, which edits it and replies; then the firing's details. */
const ADOPTED_BY_RESOLUTION = [
  ['postRoot', undefined],
  ['updateRoot', undefined],
  ['postStatusReply', 'resolved'],
  ['postDetails', undefined],
  ['uploadFiles', undefined],
];

const enriched = (over: Parameters<typeof makeIssue>[0] = {}) =>
  makeIssue({ enrichments: [oomEnrichment()], ...over });

for (const b of backends) {
  const name = (s: string) => `dispatch (${b.name} store): ${s}`;

  test(name('a delivery that finds the thread busy is told at once to come back later'), async (t) => {
    const { destination, deps } = setup(b.open);
    const issue = enriched();
    const held = destination.hold('postRoot');
    const first = dispatch(issue, deps);
    await held.reached;

    const err = await t.throwsAsync(dispatch(issue, deps), { instanceOf: ComeBackLater });
    t.is(err?.message, 'thread busy with another delivery');
    t.is(err?.retryAfter, 1);

    held.release();
    t.is((await first).action, 'posted');
    t.is((await dispatch(issue, deps)).action, 'unchanged', 'the retry sees the finished thread');
    t.is(destination.callsOf('postRoot').length, 1);
  });

  test(name('simultaneous deliveries of a new alert post exactly one root'), async (t) => {
    const { destination, deps } = setup(b.open);
    const results = await Promise.allSettled([1, 2, 3].map(() => dispatch(enriched(), deps)));
    const posted = results.filter((r) => r.status === 'fulfilled' && r.value.action === 'posted');
    const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof ComeBackLater);
    t.is(posted.length, 1);
    t.is(posted.length + busy.length, 3);
    t.is(destination.callsOf('postRoot').length, 1);
    t.is((await dispatch(enriched(), deps)).action, 'unchanged');
  });

  test(
    name('uploadFiles failing after the root was posted: the redelivery uploads without a second root'),
    async (t) => {
      const { destination, deps } = setup(b.open);
      const issue = enriched();
      destination.failNext('uploadFiles');
      await t.throwsAsync(dispatch(issue, deps), { instanceOf: UnavailableError });
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails'],
      );

      const r = await dispatch(issue, deps);
      t.is(r.action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails', 'uploadFiles'],
      );
      t.is(destination.callsOf('uploadFiles')[0]?.ref.ts, destination.callsOf('postRoot')[0]?.ref.ts);
      t.is((await dispatch(issue, deps)).action, 'unchanged');
    },
  );

  test(name('postRoot failing records nothing, so the redelivery posts the thread whole'), async (t) => {
    const { store, destination, deps } = setup(b.open);
    destination.failNext('postRoot');
    await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: UnavailableError });
    t.is(destination.calls.length, 0);
    const keys = threadKeys(destination.id, enriched().fingerprint);
    t.is(await store.get(keys.data), null, 'no marker of an attempt that certainly posted nothing');
    t.is(await store.get(keys.lock), null);
    t.is((await dispatch(enriched(), deps)).action, 'posted');
    t.deepEqual(
      destination.calls.map((c) => c.method),
      ['postRoot', 'postDetails', 'uploadFiles'],
    );
  });

  test(
    name('a root Slack posted but whose answer was lost is found and adopted, never posted twice'),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      destination.failAfterNext('postRoot');
      await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: UnavailableError });
      t.is(destination.callsOf('postRoot').length, 1, 'Slack has the root');
      const early = await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: ComeBackLater });
      t.true(
        (early?.retryAfter ?? 0) >= 9,
        'a retry at once is told to come back when a slow post has landed',
      );
      clock.advance(10_000);
      const again = await dispatch(enriched(), deps);
      t.is(destination.callsOf('postRoot').length, 1, 'no second root');
      t.is(again.ref?.ts, destination.callsOf('postRoot')[0]?.ref.ts, 'the thread is the one Slack has');
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails', 'uploadFiles'],
        'adopted as planned, and the rest of the thread follows',
      );
      t.is((await dispatch(resolvedOf(enriched()), deps)).action, 'updated');
      t.is(destination.callsOf('postRoot').length, 1);
    },
  );

  test(
    name(
      'a resolution that adopts a lost firing root edits it and replies; the firing then adds its details',
    ),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      const firing = enriched();
      destination.failAfterNext('postRoot');
      await t.throwsAsync(dispatch(firing, deps), { instanceOf: UnavailableError });
      clock.advance(10_000);
      t.is((await dispatch(resolvedOf(firing), deps)).action, 'updated');
      t.is((await dispatch(firing, deps)).action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => [c.method, c.kind]),
        ADOPTED_BY_RESOLUTION,
      );
    },
  );

  test(
    name('a root waiting for its turn leaves its turn, not an attempt: its retry posts at once at that turn'),
    async (t) => {
      const { store, destination, deps, clock } = setupWithClock(b.open);
      destination.bucket = createChannelBucket(store, { perSecond: 1, burst: 1 }, clock.ms);
      t.is((await dispatch(makeIssue({ fingerprint: 'fp-first' }), deps)).action, 'posted');
      const held = makeIssue({ fingerprint: 'fp-held' });
      const err = await t.throwsAsync(dispatch(held, deps), { instanceOf: ComeBackLater });
      t.is(err?.retryAfter, 2);
      const keys = threadKeys(destination.id, held.fingerprint);
      const kept = JSON.parse((await store.get(keys.data)) ?? 'null');
      t.deepEqual(kept.queued, { at: clock.ms() + 2000, tokens: 1 }, 'its turn is kept');
      t.is(kept.rootAttempt, undefined, 'no attempt left for a root never sent');
      t.is(await store.get(keys.lock), null);
      clock.advance(2000);
      t.is((await dispatch(held, deps)).action, 'posted', 'no wait to look for an earlier root');
      t.is(destination.callsOf('postRoot').length, 2);
    },
  );

  test(
    name(
      'a root posted whose record the store refused (Redis full): the redelivery adopts it, no second root',
    ),
    async (t) => {
      const { store: inner, destination } = setup(b.open);
      const clock = manualClock();
      // The first write after the post fails as Redis answers when it is past maxmemory.
      const store = failingOnce(inner, 'putLocked', new UnavailableError('OOM command not allowed (test)'));
      const deps = { store, threads: threadRepository(inner), destination, now: clock.now };
      await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: UnavailableError, message: /OOM/ });
      t.is(destination.callsOf('postRoot').length, 1, 'Slack has the root');
      await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: ComeBackLater });
      clock.advance(10_000);
      const again = await dispatch(enriched(), deps);
      t.is(destination.callsOf('postRoot').length, 1, 'no second root');
      t.is(again.ref?.ts, destination.callsOf('postRoot')[0]?.ref.ts);
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails', 'uploadFiles'],
      );
      t.is((await dispatch(enriched(), deps)).action, 'unchanged');
    },
  );

  test(
    name(
      'a delivery that died after posting its root: once its lock expires the redelivery adopts that root',
    ),
    async (t) => {
      const { store: inner, destination } = setup(b.open);
      const clock = manualClock();
      // Dead: neither the record nor the unlock reaches the store; only the lock's TTL frees it.
      const dead = new UnavailableError('connection closed (test)');
      const store = failingOnce(failingOnce(inner, 'putLocked', dead), 'unlock', dead);
      const deps = { store, threads: threadRepository(inner), destination, now: clock.now };
      const firing = enriched();
      // Its lock is short so the test need not wait long for it to expire; the redeliveries' are not.
      await t.throwsAsync(dispatch(firing, { ...deps, lockTtlMs: 500 }), { instanceOf: UnavailableError });
      const resolution = resolvedOf(firing);
      await t.throwsAsync(dispatch(resolution, deps), { instanceOf: ComeBackLater }, 'still locked');
      await new Promise((r) => setTimeout(r, 600));
      clock.advance(10_000);
      // The resolution comes first: it adopts the root the dead delivery posted, edits it and
      // replies; the firing's redelivery then adds its details to that thread.
      t.is((await dispatch(resolution, deps)).action, 'updated');
      t.is((await dispatch(firing, deps)).action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => [c.method, c.kind]),
        ADOPTED_BY_RESOLUTION,
      );
      t.is(destination.callsOf('uploadFiles')[0]?.ref.ts, destination.callsOf('postRoot')[0]?.ref.ts);
    },
  );

  test(
    name('a lost answer where Slack posted nothing: the retry looks, finds nothing and posts once'),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      destination.failNext('postRoot', new UnavailableError('timeout (test)', { maybeApplied: true }));
      await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: UnavailableError });
      t.is(destination.calls.length, 0);
      clock.advance(10_000);
      t.is((await dispatch(enriched(), deps)).action, 'posted');
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails', 'uploadFiles'],
      );
    },
  );

  test(
    name('the resolved reply failing: the redelivery replies without editing the root again'),
    async (t) => {
      const { destination, deps } = setup(b.open);
      const firing = enriched();
      await dispatch(firing, deps);
      destination.failNext('postStatusReply');
      await t.throwsAsync(dispatch(resolvedOf(firing), deps), { instanceOf: UnavailableError });
      t.is(destination.callsOf('updateRoot').length, 1);

      t.is((await dispatch(resolvedOf(firing), deps)).action, 'replied');
      t.is(destination.callsOf('updateRoot').length, 1);
      t.deepEqual(
        destination.callsOf('postStatusReply').map((c) => c.kind),
        ['resolved'],
      );
    },
  );

  test(
    name('details of a firing that failed are still posted when its redelivery comes after the resolution'),
    async (t) => {
      const { destination, deps } = setup(b.open);
      const firing = enriched();
      destination.failNext('postDetails');
      await t.throwsAsync(dispatch(firing, deps));
      await dispatch(resolvedOf(firing), deps);

      t.is((await dispatch(firing, deps)).action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'updateRoot', 'postStatusReply', 'postDetails', 'uploadFiles'],
      );
    },
  );

  test(
    name(
      'a resolved reply Slack took whose record the store refused (Redis full): the redelivery finds it, no second reply',
    ),
    async (t) => {
      const { store: inner, destination } = setup(b.open);
      const clock = manualClock();
      const firing = makeIssue();
      await dispatch(firing, { store: inner, destination, now: clock.now });
      // Edit, then reply: the write recording the reply is refused as past maxmemory.
      const store = failingOnce(
        inner,
        'putAndUnlock',
        new UnavailableError('OOM command not allowed (test)'),
      );
      const deps = { store, threads: threadRepository(inner), destination, now: clock.now };
      await t.throwsAsync(dispatch(resolvedOf(firing), deps), { message: /OOM/ });
      t.is(destination.callsOf('postStatusReply').length, 1, 'Slack has the reply');
      await t.throwsAsync(
        dispatch(resolvedOf(firing), deps),
        { instanceOf: ComeBackLater },
        'a slow reply may still be landing',
      );
      clock.advance(10_000);
      t.is((await dispatch(resolvedOf(firing), deps)).action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => [c.method, c.kind]),
        [
          ['postRoot', undefined],
          ['updateRoot', undefined],
          ['postStatusReply', 'resolved'],
        ],
        'one edit, one reply',
      );
      t.is((await dispatch(resolvedOf(firing), deps)).action, 'unchanged');
      const state = JSON.parse(
        (await inner.get(threadKeys(destination.id, firing.fingerprint).data)) ?? '{}',
      );
      t.true(
        state.steps.every((s: { done: boolean; tried?: number }) => s.done && s.tried === undefined),
        'done steps keep no try',
      );
    },
  );

  test(
    name('details whose answer was lost: the redelivery finds them in the thread and goes on to the files'),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      destination.failAfterNext('postDetails');
      await t.throwsAsync(dispatch(enriched(), deps), { instanceOf: UnavailableError });
      clock.advance(10_000);
      t.is((await dispatch(enriched(), deps)).action, 'replied');
      t.deepEqual(
        destination.calls.map((c) => c.method),
        ['postRoot', 'postDetails', 'uploadFiles'],
      );
      t.is(destination.callsOf('postDetails')[0]?.step, `details:${enriched().id}`);
    },
  );

  test(
    name(
      'a reply tried but never sent (killed, lost answer): the retry looks, finds nothing and posts it once',
    ),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      const firing = makeIssue();
      await dispatch(firing, deps);
      destination.failNext('postStatusReply', new UnavailableError('timeout (test)', { maybeApplied: true }));
      await t.throwsAsync(dispatch(resolvedOf(firing), deps), { instanceOf: UnavailableError });
      t.is(destination.callsOf('postStatusReply').length, 0);
      clock.advance(10_000);
      t.is((await dispatch(resolvedOf(firing), deps)).action, 'replied');
      t.is(destination.callsOf('postStatusReply').length, 1);
      t.is(destination.callsOf('updateRoot').length, 1);
    },
  );

  test(
    name('a destination that cannot look (no history scope) posts the tried reply, as before'),
    async (t) => {
      const { destination, deps, clock } = setupWithClock(b.open);
      const firing = makeIssue();
      await dispatch(firing, deps);
      destination.failAfterNext('postStatusReply');
      await t.throwsAsync(dispatch(resolvedOf(firing), deps), { instanceOf: UnavailableError });
      destination.findReply = async () => {
        throw new DependencyError('slack conversations.replies: missing_scope (test)');
      };
      clock.advance(10_000);
      t.is((await dispatch(resolvedOf(firing), deps)).action, 'replied');
      t.is(destination.callsOf('postStatusReply').length, 2, 'posted again: it could not look');
    },
  );

  test(
    name(
      'a delivery whose lock expired mid-post: the next holder waits for that post, the late one never overwrites',
    ),
    async (t) => {
      const { store, destination, deps, clock } = setupWithClock(b.open);
      const held = destination.hold('postRoot');
      const first = dispatch(makeIssue(), { ...deps, lockTtlMs: 500 });
      await held.reached;
      await new Promise((r) => setTimeout(r, 600));
      await t.throwsAsync(
        dispatch(makeIssue(), deps),
        { instanceOf: ComeBackLater },
        'the first post may still land',
      );
      // Past the time a post takes to land, the next holder looks, finds none and posts.
      clock.advance(10_000);
      const second = await dispatch(makeIssue(), deps);
      held.release();
      await t.throwsAsync(first, { instanceOf: UnavailableError, message: /lost the thread lock/ });

      const keys = threadKeys(destination.id, makeIssue().fingerprint);
      const state = JSON.parse((await store.get(keys.data)) ?? 'null');
      t.is(state.ts, second.ref?.ts, 'the state is the one written by the lock holder');
    },
  );

  test(name('an unreadable state starts a new root that says it continues an earlier one'), async (t) => {
    const { store, destination, deps } = setup(b.open);
    const keys = threadKeys(destination.id, makeIssue().fingerprint);
    await store.put(keys.data, '{"v":0,"garbage":true', 60);
    t.is((await dispatch(makeIssue(), deps)).action, 'posted');
    t.true(destination.calls[0]?.view?.continuesEarlier);
  });

  test(
    name('thread state carries the configured TTL and the lock is gone after each delivery'),
    async (t) => {
      const { ttlMs, destination, deps } = setup(b.open);
      const issue = enriched();
      const keys = threadKeys(destination.id, issue.fingerprint);

      const held = destination.hold('uploadFiles');
      const pending = dispatch(issue, { ...deps, lockTtlMs: 20_000 });
      await held.reached;
      const lockTtl = await ttlMs(keys.lock);
      t.true(lockTtl !== null && lockTtl > 0 && lockTtl <= 20_000, `lock TTL ${lockTtl}`);
      held.release();
      await pending;

      const fourteenDays = 14 * 24 * 3600 * 1000;
      const stateTtl = await ttlMs(keys.data);
      t.true(
        stateTtl !== null && stateTtl > fourteenDays - 60_000 && stateTtl <= fourteenDays,
        `TTL ${stateTtl}`,
      );
      t.is(await ttlMs(keys.lock), null);

      await dispatch(resolvedOf(issue), { ...deps, stateTtlSeconds: 3600 });
      const refreshed = await ttlMs(keys.data);
      t.true(refreshed !== null && refreshed > 3_500_000 && refreshed <= 3_600_000, `TTL ${refreshed}`);
      t.is(await ttlMs(keys.lock), null);
    },
  );

  test(
    name('a new thread costs one store round trip before its writes, a duplicate one in all'),
    async (t) => {
      const { store: inner, destination } = setup(b.open);
      const { store, threads, calls } = countRoundTrips(inner);
      await dispatch(enriched(), { store, threads, destination });
      // A new thread's workload claim rides with its lock; each later step is one fenced write.
      t.deepEqual(calls, ['openThread', 'putLocked', 'putLocked', 'putAndUnlock']);
      calls.length = 0;
      await dispatch(enriched(), { store, threads, destination });
      t.deepEqual(calls, ['openThread'], 'a settled thread gives its lock back in the same call');
    },
  );
}

test('dispatch (redis store): thread keys share one hash tag and carry TTLs on the server', async (t) => {
  const store = new RedisStore(server.url);
  opened.push(store);
  const destination = new RecordingDestination('C0TAGS');
  const issue = makeIssue({ fingerprint: `fp-${randomUUID()}`, startsAt: at(1) });
  await dispatch(issue, { store, destination, stateTtlSeconds: 7200 });
  const keys = await raw.keys(`ki:*${issue.fingerprint}*`);
  t.deepEqual(keys, [`ki:{${destination.id}|${issue.fingerprint}}:thread`]);
  const ttl = await raw.ttl(keys[0] ?? '');
  t.true(ttl > 7100 && ttl <= 7200, `TTL ${ttl}`);
  const tags = Object.values(threadKeys(destination.id, issue.fingerprint))
    .filter((k) => k.startsWith('ki:'))
    .map((k) => /\{[^}]*\}/.exec(k)?.[0]);
  t.is(new Set(tags).size, 1);
});
