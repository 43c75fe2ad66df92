// Redis memory per 10,000 tracked alert threads: realistic thread states written through the
// store (as dispatch-slack leaves them, with their TTLs), measured as INFO used_memory growth on
// a real redis-server, and on a real 3-master cluster (summed over the masters).
import { randomUUID } from 'node:crypto';
import { threadKeys } from '../../lib/adapters/store/keys.ts';
import { RedisStore } from '../../lib/adapters/store/redis.ts';
import type { StateStore } from '../../lib/domain/state-store.ts';
import { startRedisCluster } from '../../test/support/redis-cluster.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';

const TTL_SECONDS = 14 * 24 * 3600;

/** A resolved thread after root, details, files, the edit and the resolved reply. */
function threadState(i: number): string {
  const since = new Date(Date.UTC(2026, 2, 1, 10, 0, 0) + i * 1000).toISOString();
  const resolved = new Date(Date.parse(since) + 14 * 60_000).toISOString();
  const id = (n: string) => `${n}-${i.toString(16).padStart(12, '0')}`;
  return JSON.stringify({
    v: 1,
    channel: 'C0ALERTS01',
    ts: `1732242${String(i).padStart(3, '0')}.${String(i * 7)
      .padStart(6, '0')
      .slice(-6)}`,
    status: 'resolved',
    firingSince: since,
    resolvedAt: resolved,
    firingCount: 1,
    verdicts: ['OOMKilled: container api reached its 256Mi memory limit (3 restarts in 10m)'],
    steps: [
      { id: 'root', kind: 'root', by: id('fire'), done: true },
      { id: `details:${id('fire')}`, kind: 'details', by: id('fire'), done: true },
      { id: `files:${id('fire')}`, kind: 'files', by: id('fire'), done: true },
      { id: `resolve:${resolved}`, kind: 'update', by: id('res'), done: true },
      { id: `reply:${resolved}`, kind: 'reply-resolved', by: id('res'), done: true },
    ],
  });
}

async function writeThreads(store: StateStore, n: number): Promise<void> {
  const batch = 200;
  for (let start = 0; start < n; start += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - start) }, async (_, j) => {
        const i = start + j;
        const keys = threadKeys('slack:C0ALERTS01', i.toString(16).padStart(16, '0'));
        const lock = { key: keys.lock, token: randomUUID(), ttlMs: 30_000 };
        await store.lockAndGet(lock, keys.data);
        await store.putAndUnlock(lock, keys.data, threadState(i), TTL_SECONDS);
      }),
    );
  }
}

const usedMemory = (info: string): number => Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);

export async function benchRedisMemory(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const threads = opts.tiny ? 100 : opts.quick ? 2_000 : 10_000;
  const per10k = (bytes: number) => Math.round((((bytes / threads) * 10_000) / 1024 / 1024) * 100) / 100;
  const rows: Array<Record<string, string | number>> = [];

  const server = await startRedisServer();
  const store = new RedisStore(server.url, { commandTimeoutMs: 5000 });
  try {
    const { Redis } = await import('ioredis');
    const admin = new Redis(server.url);
    try {
      const before = usedMemory(await admin.info('memory'));
      await writeThreads(store, threads);
      const after = usedMemory(await admin.info('memory'));
      rows.push({
        what: 'redis memory, single server',
        threads,
        'bytes/thread': Math.round((after - before) / threads),
        'MiB per 10k threads': per10k(after - before),
      });
    } finally {
      admin.disconnect();
    }
  } finally {
    await store.close();
    await server.stop();
  }

  const cluster = await startRedisCluster();
  const cstore = new RedisStore(cluster.url, { commandTimeoutMs: 5000 });
  try {
    const total = async () => {
      let sum = 0;
      for (const port of cluster.ports) sum += usedMemory(await cluster.cli(['INFO', 'memory'], port));
      return sum;
    };
    const before = await total();
    await writeThreads(cstore, threads);
    const after = await total();
    rows.push({
      what: 'redis memory, 3-master cluster (sum)',
      threads,
      'bytes/thread': Math.round((after - before) / threads),
      'MiB per 10k threads': per10k(after - before),
    });
  } finally {
    await cstore.close();
    await cluster.stop();
  }
  return rows;
}

if (import.meta.main) console.table(await benchRedisMemory({ quick: process.argv.includes('--quick') }));
