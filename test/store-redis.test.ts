// Redis-only behaviour: outages fail in bounded time as retryable errors, the client heals when
// Redis returns, and server-side refusals (OOM, wrong type) are told apart.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { Redis } from 'ioredis';
import { createStore, MemoryStore, RedisStore } from '../lib/adapters/store/index.ts';
import { DependencyError, UnavailableError } from '../lib/platform/errors.ts';
import { putOnceReconnected, startRedisServer } from './support/redis-server.ts';

// A guard against hanging, not a latency assertion: a store that never answers fails here
// with a clear message instead of at ava's global timeout.
async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms}ms`)), ms);
  });
  const settled = Promise.allSettled([p]).then(([r]) => r as PromiseSettledResult<T>);
  try {
    return await Promise.race([settled, hang]);
  } finally {
    clearTimeout(timer);
  }
}

test('store (redis): a stopped Redis fails operations with UnavailableError, and they work again after a restart', async (t) => {
  const server = await startRedisServer();
  const store = new RedisStore(server.url, { commandTimeoutMs: 300, connectTimeoutMs: 300 });
  t.teardown(async () => {
    await store.close();
    await server.stop();
  });
  await store.put('k', 'before', 60);
  t.is(await store.get('k'), 'before');

  await server.stop();
  const ops: Array<() => Promise<unknown>> = [
    () => store.get('k'),
    () => store.lockAndGet({ key: 'ki:{x}:lock', token: 't', ttlMs: 1000 }, 'ki:{x}:thread'),
    () => store.putAndUnlock({ key: 'ki:{x}:lock', token: 't', ttlMs: 1000 }, 'ki:{x}:thread', 'v', 60),
    () => store.setIfAbsent('d', 'v', 60),
  ];
  for (const op of ops) {
    const r = await settlesWithin(op(), 5_000);
    t.is(r.status, 'rejected');
    if (r.status === 'rejected') {
      t.true(r.reason instanceof UnavailableError, String(r.reason));
      t.true((r.reason as UnavailableError).retryable);
      t.is((r.reason as UnavailableError).status, 503);
    }
  }

  await server.restart();
  t.true(await putOnceReconnected(store, 'k', 'after'), 'store works again after Redis came back');
  t.is(await store.get('k'), 'after');
});

test('store (redis): a store created while Redis is starting waits for the connection instead of failing', async (t) => {
  const server = await startRedisServer();
  const store = new RedisStore(server.url, { commandTimeoutMs: 2000 });
  t.teardown(async () => {
    await store.close();
    await server.stop();
  });
  // The very first command races the connect: the offline queue is off, so this proves #ready.
  t.is(await store.get('nothing'), null);
});

test('store (redis): Redis out of memory answers with a retryable UnavailableError carrying the cause', async (t) => {
  const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
  const admin = new Redis(server.url);
  const store = new RedisStore(server.url, { commandTimeoutMs: 2000 });
  t.teardown(async () => {
    await store.close();
    admin.disconnect();
    await server.stop();
  });
  await store.put('k', 'v', 60);
  await admin.config('SET', 'maxmemory', '1');
  const lockOp = store.lockAndGet({ key: 'ki:{o}:lock', token: randomUUID(), ttlMs: 1000 }, 'ki:{o}:thread');
  for (const p of [store.put('k2', 'v', 60), lockOp, store.setIfAbsent('k3', 'v', 60)]) {
    const err = await t.throwsAsync(p, { instanceOf: UnavailableError });
    t.regex(String((err?.cause as Error | undefined)?.message), /OOM/);
  }
  t.is(await store.get('k'), 'v', 'reads still work under memory pressure');
  await admin.config('SET', 'maxmemory', '0');
  await store.put('k2', 'v', 60);
  t.is(await store.get('k2'), 'v');
});

test('store (redis): a refusal a retry cannot fix is a DependencyError, and the key prefix is applied', async (t) => {
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const store = new RedisStore(server.url, { keyPrefix: 'env1:' });
  t.teardown(async () => {
    await store.close();
    admin.disconnect();
    await server.stop();
  });
  await store.put('counter', 'not-a-number', 60);
  t.is(await admin.get('env1:counter'), 'not-a-number');
  t.is(await admin.get('counter'), null);
  const err = await t.throwsAsync(store.increment('counter', 60), { instanceOf: DependencyError });
  t.false(err?.retryable);
});

test('store: createStore picks memory without REDIS_URL and Redis with one; bad URLs are refused', async (t) => {
  const memory = createStore({});
  t.true(memory instanceof MemoryStore);
  await memory.close();
  const redis = createStore({ redisUrl: 'redis://127.0.0.1:1' });
  t.true(redis instanceof RedisStore);
  await redis.close();
  t.throws(() => createStore({ redisUrl: 'http://127.0.0.1:6379' }), { instanceOf: RangeError });
});
