// One contract, two adapters: every test here runs against the memory store and against a real
// redis-server, so the memory store cannot drift from what production does.
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import { threadRepository as threads } from '../lib/adapters/store/threads.ts';
import { type Lock, MAX_TOKEN_HORIZON_MS, type StateStore } from '../lib/domain/state-store.ts';
import { DependencyError } from '../lib/platform/errors.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

interface Backend {
  name: string;
  /** A store whose keys cannot collide with another test's (tests run concurrently). */
  open(): Promise<{ store: StateStore; ttlMs(key: string): Promise<number | null> }>;
}

let server: RedisServer;
let raw: Redis;
const stores: StateStore[] = [];

test.before(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
});

test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  raw?.disconnect();
  await server?.stop();
});

const backends: Backend[] = [
  {
    name: 'memory',
    async open() {
      const store = new MemoryStore();
      stores.push(store);
      return { store, ttlMs: async (key) => store.ttlMs(key) };
    },
  },
  {
    name: 'redis',
    async open() {
      const keyPrefix = `t${randomUUID().slice(0, 8)}:`;
      const store = new RedisStore(server.url, { keyPrefix, commandTimeoutMs: 2000 });
      stores.push(store);
      // PTTL straight from the server: the TTL Redis really applied, not what the adapter meant to.
      const ttlMs = async (key: string) => {
        const ms = await raw.pttl(keyPrefix + key);
        return ms < 0 ? null : ms;
      };
      return { store, ttlMs };
    },
  },
];

/** A fixed clock for the token buckets: outcomes cannot depend on when the test runs. */
const T0 = 1_800_000_000_000;
const lock = (key: string, ttlMs = 30_000): Lock => ({ key, token: randomUUID(), ttlMs });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function within(t: ExecutionContext, actual: number | null, min: number, max: number): void {
  t.true(actual !== null && actual > min && actual <= max, `TTL ${actual} not in (${min}, ${max}]`);
}

for (const b of backends) {
  const name = (s: string) => `store (${b.name}): ${s}`;

  test(name('only one holder gets the lock, and both read the data in the same call'), async (t) => {
    const { store } = await b.open();
    await store.put('ki:{a}:thread', 'state-1', 60);
    const first = lock('ki:{a}:lock');
    const second = lock('ki:{a}:lock');
    t.deepEqual(await store.lockAndGet(first, 'ki:{a}:thread'), { locked: true, value: 'state-1' });
    t.deepEqual(await store.lockAndGet(second, 'ki:{a}:thread'), { locked: false, value: 'state-1' });
    t.deepEqual(await store.lockAndGet(lock('ki:{b}:lock'), 'ki:{b}:thread'), { locked: true, value: null });
  });

  test(name('unlock with a foreign token keeps the lock; the owner releases it'), async (t) => {
    const { store } = await b.open();
    const owner = lock('ki:{a}:lock');
    const other = lock('ki:{a}:lock');
    t.true((await store.lockAndGet(owner, 'ki:{a}:thread')).locked);
    t.false(await store.unlock(other));
    t.false((await store.lockAndGet(other, 'ki:{a}:thread')).locked);
    t.true(await store.unlock(owner));
    t.false(await store.unlock(owner), 'a second release finds nothing to release');
    t.true((await store.lockAndGet(other, 'ki:{a}:thread')).locked);
  });

  test(
    name('dropAndUnlock with a foreign token deletes nothing; the owner deletes data and lock'),
    async (t) => {
      const { store } = await b.open();
      const owner = lock('ki:{d}:lock');
      const other = lock('ki:{d}:lock');
      await store.put('ki:{d}:thread', 'attempt', 60);
      t.true((await store.lockAndGet(owner, 'ki:{d}:thread')).locked);
      t.false(await store.dropAndUnlock(other, 'ki:{d}:thread'));
      t.is(await store.get('ki:{d}:thread'), 'attempt');
      t.true(await store.dropAndUnlock(owner, 'ki:{d}:thread'));
      t.is(await store.get('ki:{d}:thread'), null);
      t.deepEqual(await store.lockAndGet(other, 'ki:{d}:thread'), { locked: true, value: null });
    },
  );

  test(name('fenced writes succeed only for the lock owner and renew the lock'), async (t) => {
    const { store, ttlMs } = await b.open();
    const owner = lock('ki:{a}:lock', 5_000);
    const other = lock('ki:{a}:lock', 5_000);
    await store.lockAndGet(owner, 'ki:{a}:thread');
    t.false(await store.putLocked(other, 'ki:{a}:thread', 'intruder', 60));
    t.false(await store.putAndUnlock(other, 'ki:{a}:thread', 'intruder', 60));
    t.is(await store.get('ki:{a}:thread'), null);

    const renewed = { ...owner, ttlMs: 20_000 };
    t.true(await store.putLocked(renewed, 'ki:{a}:thread', 'step-1', 60));
    t.is(await store.get('ki:{a}:thread'), 'step-1');
    within(t, await ttlMs('ki:{a}:lock'), 15_000, 20_000);

    t.true(await store.putAndUnlock(owner, 'ki:{a}:thread', 'final', 60));
    t.is(await store.get('ki:{a}:thread'), 'final');
    t.is(await ttlMs('ki:{a}:lock'), null, 'putAndUnlock released the lock');
  });

  test(name('every write applies its TTL'), async (t) => {
    const { store, ttlMs } = await b.open();
    await store.put('k:put', 'v', 600);
    within(t, await ttlMs('k:put'), 590_000, 600_000);

    await store.lockAndGet(lock('ki:{a}:lock', 30_000), 'ki:{a}:thread');
    within(t, await ttlMs('ki:{a}:lock'), 25_000, 30_000);

    const l = lock('ki:{b}:lock');
    await store.lockAndGet(l, 'ki:{b}:thread');
    await store.putLocked(l, 'ki:{b}:thread', 'x', 1_209_600);
    within(t, await ttlMs('ki:{b}:thread'), 1_209_000_000, 1_209_600_000);
    await store.putAndUnlock(l, 'ki:{b}:thread', 'y', 300);
    within(t, await ttlMs('ki:{b}:thread'), 290_000, 300_000);

    await store.setIfAbsent('k:once', 'v', 120);
    within(t, await ttlMs('k:once'), 110_000, 120_000);

    await store.increment('k:count', 90);
    await store.increment('k:count', 90);
    within(t, await ttlMs('k:count'), 80_000, 90_000);
  });

  test(name('a lock whose holder vanished expires and can be taken again'), async (t) => {
    const { store } = await b.open();
    t.true((await store.lockAndGet(lock('ki:{a}:lock', 100), 'ki:{a}:thread')).locked);
    const late = lock('ki:{a}:lock');
    t.false((await store.lockAndGet(late, 'ki:{a}:thread')).locked);
    await sleep(250);
    t.true((await store.lockAndGet(late, 'ki:{a}:thread')).locked);
  });

  test(name('data expires after its TTL'), async (t) => {
    const { store } = await b.open();
    await store.put('k:short', 'v', 1);
    t.is(await store.get('k:short'), 'v');
    await sleep(1_200);
    t.is(await store.get('k:short'), null);
    t.true(await store.setIfAbsent('k:short', 'again', 60), 'an expired key counts as absent');
  });

  test(name('setIfAbsent creates once and never overwrites'), async (t) => {
    const { store } = await b.open();
    t.true(await store.setIfAbsent('dedup:1', 'first', 60));
    t.false(await store.setIfAbsent('dedup:1', 'second', 60));
    t.is(await store.get('dedup:1'), 'first');
  });

  test(
    name(
      'threads: opening a new thread adds its storm count, claim and token to its lock, and nothing for a known one',
    ),
    async (t) => {
      const { store } = await b.open();
      const extras = {
        storm: { key: 'ki:{g}:count', ttlSeconds: 60, threshold: 1 },
        claim: { key: 'ki:{w}:claim', value: 'fp-1', ttlSeconds: 60 },
        bucket: { key: 'ki:{c}:bucket', intervalMs: 1000, burst: 10, nowMs: T0 },
      };
      const first = lock('ki:{n}:lock');
      t.deepEqual(await threads(store).open({ lock: first, dataKey: 'ki:{n}:thread', ...extras }), {
        locked: true,
        value: null,
        stormCount: 1,
        claimHolder: null,
        bucketWaitMs: 0,
      });
      t.is(await store.get('ki:{c}:bucket'), String(T0 + 1000), 'one token: one interval later');
      t.is(await store.get('ki:{w}:claim'), 'fp-1');
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{n}:lock'), dataKey: 'ki:{n}:thread', ...extras }),
        { locked: false, value: null },
        'locked by another delivery: nothing counted',
      );
      t.true(await store.unlock(first));
      t.deepEqual(
        await threads(store).open({
          lock: lock('ki:{n}:lock'),
          dataKey: 'ki:{n}:thread',
          ...extras,
          claim: { ...extras.claim, value: 'fp-2' },
        }),
        { locked: true, value: null, stormCount: 2 },
        'past the storm threshold: no claim and no token',
      );
      await store.put('ki:{k}:thread', 'state', 60);
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{k}:lock'), dataKey: 'ki:{k}:thread', ...extras }),
        {
          locked: true,
          value: 'state',
        },
      );
      t.is(await store.get('ki:{c}:bucket'), String(T0 + 1000), 'only the first open took a token');
      t.is(await store.increment('ki:{g}:count', 60), 3, 'the known thread was not counted');
      const noStorm = { claim: { ...extras.claim, value: 'fp-3' }, bucket: extras.bucket };
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{m}:lock'), dataKey: 'ki:{m}:thread', ...noStorm }),
        {
          locked: true,
          value: null,
          claimHolder: 'fp-1',
          bucketWaitMs: 0,
        },
      );
      t.is(await store.get('ki:{c}:bucket'), String(T0 + 2000));
      const full = { ...extras.bucket, burst: 2 };
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{f}:lock'), dataKey: 'ki:{f}:thread', bucket: full }),
        { locked: true, value: null, bucketWaitMs: 1000 },
        'an empty bucket: the wait, and no token taken',
      );
      t.is(await store.get('ki:{c}:bucket'), String(T0 + 2000));
      t.deepEqual(await threads(store).open({ lock: lock('ki:{e}:lock'), dataKey: 'ki:{e}:thread' }), {
        locked: true,
        value: null,
      });
    },
  );

  test(
    name(
      'threads: opening a new thread writes its attempt as given, with its TTL; not for a known thread, a locked one or past the storm threshold',
    ),
    async (t) => {
      const { store, ttlMs } = await b.open();
      // A value that needs escaping on its way through the script's JSON argument.
      const attempt = { value: JSON.stringify({ kind: 'attempt', by: 'id "1" \\ é/\n' }), ttlSeconds: 600 };
      const peek = { status: 'firing', firingSince: '2027-01-15T08:00:00.000Z' };
      const storm = { key: 'ki:{g}:count', ttlSeconds: 60, threshold: 1 };
      t.deepEqual(
        await threads(store).open({
          lock: lock('ki:{n}:lock'),
          dataKey: 'ki:{n}:thread',
          storm,
          attempt,
          peek,
        }),
        {
          locked: true,
          value: null,
          stormCount: 1,
          attempted: true,
        },
      );
      const stored = (await store.get('ki:{n}:thread')) ?? '';
      t.is(stored, attempt.value, 'written exactly as given');
      within(t, await ttlMs('ki:{n}:thread'), 590_000, 600_000);
      t.deepEqual(
        await threads(store).open({
          lock: lock('ki:{n}:lock'),
          dataKey: 'ki:{n}:thread',
          attempt: { ...attempt, value: 'other' },
        }),
        { locked: false, value: stored },
        'locked by another delivery: nothing written',
      );
      await store.put('ki:{k}:thread', 'state', 60);
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{k}:lock'), dataKey: 'ki:{k}:thread', attempt }),
        {
          locked: true,
          value: 'state',
        },
      );
      t.is(await store.get('ki:{k}:thread'), 'state', 'a known thread keeps its state');
      t.deepEqual(
        await threads(store).open({ lock: lock('ki:{m}:lock'), dataKey: 'ki:{m}:thread', storm, attempt }),
        { locked: true, value: null, stormCount: 2 },
        'past the storm threshold the alert folds: nothing is attempted',
      );
      t.is(await store.get('ki:{m}:thread'), null);
    },
  );

  test(
    name(
      'threads: an open with peek gives the lock back at once only for a thread flagged settled at that status and period',
    ),
    async (t) => {
      const { store } = await b.open();
      const settled = JSON.stringify({
        kind: 'thread',
        settled: true,
        status: 'firing',
        firingSince: 'T1',
        steps: [{ id: 'root', done: true }],
      });
      const open = JSON.stringify({
        kind: 'thread',
        settled: false,
        status: 'firing',
        firingSince: 'T1',
        steps: [{ id: 'root', done: true }],
      });
      await store.put('ki:{s}:thread', settled, 60);
      await store.put('ki:{o}:thread', open, 60);
      const peek = { status: 'firing', firingSince: 'T1' };
      const a = await threads(store).open({ lock: lock('ki:{s}:lock'), dataKey: 'ki:{s}:thread', peek });
      t.deepEqual(a, { locked: true, value: settled, released: true });
      t.true((await store.lockAndGet(lock('ki:{s}:lock'), 'ki:{s}:thread')).locked, 'the lock is free again');
      const b2 = await threads(store).open({ lock: lock('ki:{o}:lock'), dataKey: 'ki:{o}:thread', peek });
      t.deepEqual(
        b2,
        { locked: true, value: open },
        'not flagged settled: the flag is the one rule, not the steps',
      );
      await store.put('ki:{r}:thread', settled, 60);
      for (const other of [
        { status: 'resolved', firingSince: 'T1' },
        { status: 'firing', firingSince: 'T2' },
      ]) {
        const l = lock('ki:{r}:lock');
        t.deepEqual(await threads(store).open({ lock: l, dataKey: 'ki:{r}:thread', peek: other }), {
          locked: true,
          value: settled,
        });
        t.true(await store.unlock(l));
      }
      await store.put('ki:{x}:thread', '{"folded":"storm","status":"firing","firingSince":"T1"}', 60);
      const m = await threads(store).open({ lock: lock('ki:{x}:lock'), dataKey: 'ki:{x}:thread', peek });
      t.false(m.released === true, 'a folded marker (no steps) keeps the lock');
    },
  );

  test(name('claim creates once, then answers with the holder and never overwrites'), async (t) => {
    const { store } = await b.open();
    t.is(await store.claim('claim:1', 'first', 60), null, 'created by this call');
    t.is(await store.claim('claim:1', 'second', 60), 'first', 'held: the holder is returned');
    t.is(await store.get('claim:1'), 'first');
    await store.put('claim:short', 'old', 1);
    await sleep(1_200);
    t.is(await store.claim('claim:short', 'new', 60), null, 'an expired claim counts as absent');
    t.is(await store.get('claim:short'), 'new');
  });

  test(name('takeToken: a burst back to back, then one per interval; a refusal takes nothing'), async (t) => {
    const { store } = await b.open();
    const at = (nowMs: number) => ({ key: 'ki:{ch}:tat', intervalMs: 1000, burst: 3, nowMs });
    t.deepEqual(
      [await store.takeToken(at(T0)), await store.takeToken(at(T0)), await store.takeToken(at(T0))],
      [0, 0, 0],
    );
    t.is(await store.takeToken(at(T0)), 1000, 'empty: a token in one interval');
    t.is(await store.takeToken(at(T0 + 400)), 600, 'the refusal took nothing');
    t.is(await store.takeToken(at(T0 + 999)), 1);
    t.is(await store.takeToken(at(T0 + 1000)), 0);
    t.is(await store.takeToken(at(T0 + 1000)), 1000, 'one token per interval once the burst is spent');
    t.is(await store.takeToken({ ...at(T0 + 1000), key: 'ki:{other}:tat' }), 0, 'buckets are per key');
    // Long idle refills the whole burst, and no more.
    t.deepEqual(await Promise.all([0, 1, 2, 3].map(() => store.takeToken(at(T0 + 60_000)))), [0, 0, 0, 1000]);
  });

  test(
    name(
      'takeToken: the key lives until the bucket is full again; a clock far ahead holds it back no further than the horizon',
    ),
    async (t) => {
      const { store, ttlMs } = await b.open();
      const req = { key: 'ki:{ch}:tat', intervalMs: 500, burst: 4, nowMs: Date.now() };
      await store.takeToken(req);
      await store.takeToken(req);
      // Full again two intervals from now; the key outlives that by a second (replicas' skew).
      within(t, await ttlMs(req.key), 1000 + 1000 - 200, 1000 + 1000);
      // A replica whose clock ran an hour ahead stored a time far past any queue of turns.
      await store.put(req.key, String(req.nowMs + 3_600_000), 7200);
      t.is(
        await store.takeToken(req),
        MAX_TOKEN_HORIZON_MS - 3 * 500,
        'taken as the horizon ahead: the wait for a token then',
      );
      await store.put(req.key, 'not a time', 60);
      t.is(await store.takeToken(req), 0, 'an unreadable value counts as a full bucket');
      t.is(await store.get(req.key), String(req.nowMs + 500));
      for (const bad of [
        { ...req, intervalMs: 0 },
        { ...req, burst: 1.5 },
        { ...req, nowMs: -1 },
        { ...req, intervalMs: Number.NaN },
        { ...req, count: 0 },
        { ...req, maxWaitMs: -1 },
        { ...req, maxWaitMs: MAX_TOKEN_HORIZON_MS + 1 },
      ])
        await t.throwsAsync(store.takeToken(bad), { instanceOf: RangeError });
    },
  );

  test(
    name('takeToken reserves: several tokens at the first moment they fit, a turn no further than maxWaitMs'),
    async (t) => {
      const { store } = await b.open();
      const at = (nowMs: number, count = 1, maxWaitMs = 0) => ({
        key: 'ki:{ch}:tat',
        intervalMs: 1000,
        burst: 3,
        nowMs,
        count,
        maxWaitMs,
      });
      t.is(await store.takeToken(at(T0, 2)), 0, 'two of the three at once');
      t.is(
        await store.takeToken(at(T0, 2)),
        1000,
        'the third is there, two are not: refused without a wait allowed',
      );
      t.is(
        await store.takeToken(at(T0, 2, 60_000)),
        2000,
        'reserved: two fit back to back in 1 s, a turn starts on a whole second and no sooner than 2 s',
      );
      t.is(await store.takeToken(at(T0 + 1, 1, 60_000)), 2000, 'a wait of 1.999 s is a turn in 2 s');
      await store.put('ki:{ch}:tat', String(T0 + 4000), 60);
      t.is(await store.takeToken(at(T0, 1, 60_000)), 2000, 'the next turn queues behind it');
      t.is(await store.takeToken(at(T0, 3, 2500)), 5000, 'past maxWaitMs: refused');
      t.is(await store.takeToken(at(T0, 1, 60_000)), 3000, 'the refusal took nothing');
      t.is(await store.takeToken(at(T0, 5, 60_000)), 6000, 'more than the burst is granted as the burst');
      t.is(await store.takeToken(at(T0 + 9000)), 0, 'the queue drained: one free again at its time');
    },
  );

  test(name('increment counts up from 1 per key'), async (t) => {
    const { store } = await b.open();
    t.is(await store.increment('c:a', 60), 1);
    t.is(await store.increment('c:a', 60), 2);
    t.is(await store.increment('c:b', 60), 1);
    t.is(await store.increment('c:a', 60), 3);
    await store.put('c:text', 'not-a-number', 60);
    const err = await t.throwsAsync(store.increment('c:text', 60), { instanceOf: DependencyError });
    t.false(err?.retryable, 'a retry cannot fix a wrong value');
  });

  test(name('values round-trip byte for byte'), async (t) => {
    const { store } = await b.open();
    const values = [
      '',
      JSON.stringify({ channel: 'C0123', ts: '1700000000.000100', verdicts: ['OOMKilled: 256Mi'] }),
      'ünïcødé ✓ 日本語 \u0000 nul and\r\nnewlines',
      'x'.repeat(200_000),
    ];
    for (const [i, v] of values.entries()) {
      await store.put(`v:${i}`, v, 60);
      t.is(await store.get(`v:${i}`), v);
    }
    t.is(await store.get('v:missing'), null);
  });

  test(name('a write without a positive whole-second TTL is refused'), async (t) => {
    const { store } = await b.open();
    await t.throwsAsync(() => store.put('k', 'v', 0), { instanceOf: RangeError });
    await t.throwsAsync(() => store.setIfAbsent('k', 'v', 1.5), { instanceOf: RangeError });
    t.is(await store.get('k'), null);
  });
}
