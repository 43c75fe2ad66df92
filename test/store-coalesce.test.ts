// Commands issued in one turn of the event loop leave in writes of up to MAX_BATCH: first on a
// recording stream (what is grouped, in what order), then through the Redis store on real
// servers, counted by Redis itself (INFO stats total_reads_processed: one per read from any
// client socket), on a single server before and after a reconnect, on a cluster's nodes and on
// a Sentinel's master.
import { Writable } from 'node:stream';
import test from 'ava';
import { Redis } from 'ioredis';
import { coalesceWrites, MAX_BATCH } from '../lib/adapters/store/coalesce.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import { startRedisCluster, startRedisSentinel } from './support/redis-cluster.ts';
import { putOnceReconnected, startRedisServer } from './support/redis-server.ts';

/** A stream that records each write it is handed: one entry per _write or _writev. */
class Recorder extends Writable {
  readonly batches: string[][] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.batches.push([chunk.toString()]);
    cb();
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: () => void): void {
    this.batches.push(chunks.map((c) => c.chunk.toString()));
    cb();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('coalesce: writes of one turn, promise continuations included, go out as one batch in order', async (t) => {
  const s = new Recorder();
  coalesceWrites(s);
  s.write('a');
  void Promise.resolve().then(() => s.write('c'));
  s.write('b');
  await turn();
  t.deepEqual(s.batches, [['a', 'b', 'c']]);
  // The next turn's writes are a batch of their own.
  s.write('d');
  s.write('e');
  await turn();
  s.write('f');
  await turn();
  t.deepEqual(s.batches, [['a', 'b', 'c'], ['d', 'e'], ['f']]);
});

test('coalesce: a turn with more writes than a batch holds goes out in full batches, in order', async (t) => {
  const s = new Recorder();
  coalesceWrites(s, 8);
  const sent = Array.from({ length: 20 }, (_, i) => String(i));
  for (const w of sent) s.write(w);
  await turn();
  t.deepEqual(
    s.batches.map((b) => b.length),
    [8, 8, 4],
  );
  t.deepEqual(s.batches.flat(), sent);
  t.is(s.writableCorked, 0);
});

test('coalesce: applying it twice changes nothing (no second cork left unreleased)', async (t) => {
  const s = new Recorder();
  coalesceWrites(s);
  coalesceWrites(s);
  s.write('a');
  s.write('b');
  await turn();
  t.deepEqual(s.batches, [['a', 'b']]);
  t.is(s.writableCorked, 0);
});

test('coalesce: a write made inside the flush of a batch still goes out', async (t) => {
  const s = new Recorder();
  coalesceWrites(s);
  s.write('a');
  process.nextTick(() => process.nextTick(() => s.write('late')));
  await turn();
  t.deepEqual(s.batches.flat(), ['a', 'late']);
  t.is(s.writableCorked, 0);
});

/** INFO stats total_reads_processed of the server on `port`, read over `admin`. */
async function readsOf(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  const m = /total_reads_processed:(\d+)/.exec(info);
  if (!m) throw new Error(`no total_reads_processed in INFO stats:\n${info}`);
  return Number(m[1]);
}

// 100 lookups issued in one turn. Sent one write each, Redis reads them in dozens of reads (95
// to 101 here without coalescing); in batches of MAX_BATCH, in at most one read per batch. The
// second INFO's own read is in the count too.
const LOOKUPS = 100;
const MOST_READS = Math.ceil(LOOKUPS / MAX_BATCH) + 1;

async function lookupsInOneTurn(store: RedisStore, key: string): Promise<void> {
  const got = await Promise.all(Array.from({ length: LOOKUPS }, () => store.get(key)));
  if (!got.every((v) => v === 'v')) throw new Error(`lookups answered ${JSON.stringify(got.slice(0, 3))}`);
}

/** The reads Redis (asked over `admin`) made while the store did LOOKUPS lookups of one key. */
async function readsForLookups(store: RedisStore, admin: Redis): Promise<number> {
  await store.put('k', 'v', 60);
  const before = await readsOf(admin);
  await lookupsInOneTurn(store, 'k');
  return (await readsOf(admin)) - before;
}

test('coalesce: the store sends the commands of one turn to a real Redis together, again after a reconnect', async (t) => {
  const server = await startRedisServer();
  const store = new RedisStore(server.url, { commandTimeoutMs: 2000 });
  let admin = new Redis(server.url);
  t.teardown(async () => {
    admin.disconnect();
    await store.close();
    await server.stop();
  });
  const reads = await readsForLookups(store, admin);
  t.true(reads <= MOST_READS, `${LOOKUPS} lookups took ${reads} reads`);

  // A restart gives the store a new connection: it must coalesce too.
  admin.disconnect();
  await server.restart();
  admin = new Redis(server.url);
  t.true(await putOnceReconnected(store, 'k', 'v'));
  const readsAfter = await readsForLookups(store, admin);
  t.true(readsAfter <= MOST_READS, `after the reconnect, ${LOOKUPS} lookups took ${readsAfter} reads`);
});

test('coalesce: on a cluster, each node gets the commands of one turn together', async (t) => {
  const cluster = await startRedisCluster();
  const store = new RedisStore(cluster.url, { commandTimeoutMs: 2000 });
  const admins = cluster.ports.map((port) => new Redis({ host: '127.0.0.1', port }));
  t.teardown(async () => {
    for (const a of admins) a.disconnect();
    await store.close();
    await cluster.stop();
  });
  // Keys on different slots, so more than one node is asked.
  const keys = ['{a}k', '{b}k', '{c}k', '{d}k'];
  for (const k of keys) await store.put(k, 'v', 60);
  const before = await Promise.all(admins.map(readsOf));
  await Promise.all(keys.map((k) => lookupsInOneTurn(store, k)));
  const after = await Promise.all(admins.map(readsOf));
  const reads = after.reduce((sum, n, i) => sum + n - (before[i] as number), 0);
  // Each key's lookups go to one node; each node's second INFO is one read, and a slot refresh
  // may add one more.
  const most = keys.length * Math.ceil(LOOKUPS / MAX_BATCH) + 2 * admins.length;
  t.true(reads <= most, `${LOOKUPS * keys.length} lookups over ${admins.length} nodes took ${reads} reads`);
});

test('coalesce: through a Sentinel, the master gets the commands of one turn together', async (t) => {
  const sentinel = await startRedisSentinel();
  const store = new RedisStore(sentinel.url, { commandTimeoutMs: 2000 });
  const admin = new Redis(sentinel.master.url);
  t.teardown(async () => {
    admin.disconnect();
    await store.close();
    await sentinel.stop();
  });
  const reads = await readsForLookups(store, admin);
  t.true(reads <= MOST_READS, `${LOOKUPS} lookups took ${reads} reads`);
});
