// The Redis store against a real 3-master Redis Cluster and a real Sentinel: the thread scripts
// run with keys spread over every shard, every key carries a TTL, and REDIS_URL's forms parse.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { threadKeys } from '../lib/adapters/store/keys.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import { parseRedisUrl } from '../lib/adapters/store/redis-url.ts';
import { threadRepository } from '../lib/adapters/store/threads.ts';
import type { Lock, StateStore } from '../lib/domain/state-store.ts';
import { DependencyError } from '../lib/platform/errors.ts';
import {
  type RedisCluster,
  type RedisSentinel,
  startRedisCluster,
  startRedisSentinel,
} from './support/redis-cluster.ts';

const PASSWORD = 'cluster-pass-7f3a';

test('redis url: single, cluster and sentinel forms parse, with credentials and TLS', (t) => {
  t.deepEqual(parseRedisUrl('redis://:pw@10.0.0.1:6379/2'), {
    mode: 'single',
    url: 'redis://:pw@10.0.0.1:6379/2',
    tls: false,
  });
  t.deepEqual(parseRedisUrl('rediss+cluster://app:p%40ss@r1:7000,r2:7001,[::1]'), {
    mode: 'cluster',
    nodes: [
      { host: 'r1', port: 7000 },
      { host: 'r2', port: 7001 },
      { host: '::1', port: 6379 },
    ],
    username: 'app',
    password: 'p@ss',
    tls: true,
  });
  t.deepEqual(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380/mymaster?sentinelPassword=sp'), {
    mode: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ],
    masterName: 'mymaster',
    password: 'pw',
    sentinelPassword: 'sp',
    tls: false,
  });
});

test('redis url: malformed forms are refused at start without echoing the password', (t) => {
  for (const bad of [
    'http://:hunter2@127.0.0.1:6379',
    'redis+sentinel://:hunter2@s1:26379',
    'redis+cluster://:hunter2@',
    'redis+cluster://:hunter2@r1:7000/3',
    'redis+cluster://:hunter2@r1:99999',
    'redis+mesh://:hunter2@r1',
  ]) {
    const err = t.throws(() => parseRedisUrl(bad), { instanceOf: RangeError }, bad);
    t.false(err?.message.includes('hunter2'), `no password in "${err?.message}"`);
  }
  t.throws(() => new RedisStore('redis://127.0.0.1:1', { keyPrefix: 'a{b}:' }), { instanceOf: RangeError });
});

const lock = (key: string): Lock => ({ key, token: randomUUID(), ttlMs: 30_000 });
const ATTEMPT = JSON.stringify({ kind: 'attempt', by: 'occurrence-1', at: 1_800_000_010_000 });

/** A thread's whole life through the store, as dispatch-slack runs it. */
async function threadLifecycle(store: StateStore, fingerprint: string): Promise<void> {
  const keys = threadKeys('slack:C0ALERTS', fingerprint);
  const l = lock(keys.lock);
  // A new thread's extras live under other hash tags, on other shards: counted all the same.
  const first = await threadRepository(store).open({
    lock: l,
    dataKey: keys.data,
    storm: { key: `ki:{storm|${fingerprint}}:count`, ttlSeconds: 60, threshold: 5 },
    claim: { key: `ki:{corr|${fingerprint}}:thread`, value: fingerprint, ttlSeconds: 60 },
    // A slow bucket: its key lives an interval, and must still be there when keys are counted.
    bucket: { key: `ki:{bucket|${fingerprint}}:tat`, intervalMs: 600_000, burst: 3, nowMs: Date.now() },
    attempt: { value: ATTEMPT, ttlSeconds: 3600 },
  });
  if (!first.locked || first.value !== null) throw new Error('fresh thread should lock and be empty');
  if (first.stormCount !== 1 || first.claimHolder !== null || first.bucketWaitMs !== 0 || !first.attempted)
    throw new Error(`new thread extras not applied: ${JSON.stringify(first)}`);
  if ((await store.get(keys.data)) !== ATTEMPT) throw new Error('attempt not written');
  if (!(await store.putLocked(l, keys.data, '{"steps":["root"]}', 3600))) throw new Error('putLocked lost');
  if ((await store.lockAndGet(lock(keys.lock), keys.data)).locked) throw new Error('second lock taken');
  if (!(await store.putAndUnlock(l, keys.data, '{"steps":["root","details"]}', 3600)))
    throw new Error('put lost');
  const again = lock(keys.lock);
  if (!(await store.lockAndGet(again, keys.data)).locked) throw new Error('lock not released');
  // Taking an attempt back: the key (here a scratch one of the same tag) and the lock go together.
  await store.put(`ki:${keys.tag}:scratch`, 'attempt', 60);
  if (!(await store.dropAndUnlock(again, `ki:${keys.tag}:scratch`))) throw new Error('drop failed');
  if ((await store.get(`ki:${keys.tag}:scratch`)) !== null) throw new Error('attempt not dropped');
  if ((await store.lockAndGet(again, keys.data)).locked !== true)
    throw new Error('lock not released by drop');
  if (!(await store.unlock(again))) throw new Error('unlock failed');
  await store.put(`ki:${keys.tag}:edit`, '1', 60);
  await store.setIfAbsent(`ki:${keys.tag}:dedup`, '1', 60);
  await store.increment(`ki:${keys.tag}:count`, 60);
}

async function keysWithoutTtl(
  cluster: RedisCluster,
): Promise<{ total: number; perNode: number[]; noTtl: string[] }> {
  const perNode: number[] = [];
  const noTtl: string[] = [];
  for (const port of cluster.ports) {
    const keys = (await cluster.cli(['--scan', '--pattern', 'ki:*'], port)).split('\n').filter(Boolean);
    perNode.push(keys.length);
    for (const key of keys) {
      const ttl = Number((await cluster.cli(['PTTL', key], port)).trim());
      if (!(ttl > 0)) noTtl.push(`${key} (${ttl})`);
    }
  }
  return { total: perNode.reduce((a, b) => a + b, 0), perNode, noTtl };
}

test('redis cluster: threads on every shard lock, write and release through the scripts; every key has a TTL', async (t) => {
  let cluster: RedisCluster | undefined;
  let store: RedisStore | undefined;
  t.teardown(async () => {
    await store?.close();
    await cluster?.stop();
  });
  cluster = await startRedisCluster({ password: PASSWORD });
  store = new RedisStore(cluster.url, { commandTimeoutMs: 3000 });
  const fingerprints = Array.from({ length: 60 }, (_, i) => `fp${i.toString(16).padStart(14, '0')}`);
  await Promise.all(fingerprints.map((fp) => threadLifecycle(store as RedisStore, fp)));

  const { total, perNode, noTtl } = await keysWithoutTtl(cluster);
  t.is(
    total,
    fingerprints.length * 7,
    'data, edit, dedup, count, storm count, claim and bucket keys per thread (locks released)',
  );
  t.true(
    perNode.every((n) => n > 0),
    `keys on every master: ${perNode.join(', ')}`,
  );
  t.deepEqual(noTtl, [], 'every key expires');
  const data = threadKeys('slack:C0ALERTS', fingerprints[0] as string).data;
  t.is(await store.get(data), '{"steps":["root","details"]}');
});

test('redis cluster: a script given keys of two different tags is refused (the cluster really checks slots)', async (t) => {
  let cluster: RedisCluster | undefined;
  let store: RedisStore | undefined;
  t.teardown(async () => {
    await store?.close();
    await cluster?.stop();
  });
  cluster = await startRedisCluster();
  store = new RedisStore(cluster.url, { commandTimeoutMs: 3000 });
  // Find two fingerprints whose tags hash to different slots.
  const a = threadKeys('slack:C1', 'aaaa');
  const slotA = (await cluster.cli(['CLUSTER', 'KEYSLOT', a.lock])).trim();
  let b = threadKeys('slack:C1', 'bbbb');
  for (let i = 0; (await cluster.cli(['CLUSTER', 'KEYSLOT', b.data])).trim() === slotA; i++)
    b = threadKeys('slack:C1', `b${i}`);
  const err = await t.throwsAsync(store.lockAndGet(lock(a.lock), b.data), { instanceOf: DependencyError });
  t.regex(String((err?.cause as Error | undefined)?.message), /CROSSSLOT/);
  // The same call with one thread's own keys works.
  t.true((await store.lockAndGet(lock(a.lock), a.data)).locked);
});

test('redis sentinel: the store finds the master through the sentinel and keeps the thread contract', async (t) => {
  let sentinel: RedisSentinel | undefined;
  let store: RedisStore | undefined;
  t.teardown(async () => {
    await store?.close();
    await sentinel?.stop();
  });
  sentinel = await startRedisSentinel();
  store = new RedisStore(sentinel.url, { commandTimeoutMs: 3000 });
  await threadLifecycle(store, 'f00dfeed12345678');
  const keys = threadKeys('slack:C0ALERTS', 'f00dfeed12345678');
  t.is(await store.get(keys.data), '{"steps":["root","details"]}');
  // It really went to the master the sentinel names.
  const direct = new RedisStore(sentinel.master.url);
  t.teardown(() => direct.close());
  t.is(await direct.get(keys.data), '{"steps":["root","details"]}');
});
