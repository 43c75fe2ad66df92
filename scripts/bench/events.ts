// Figures for k8s-event-ingest: ingest throughput with a real redis-server next to the same events
// through the in-memory store (same run, same machine), and the Slack messages a 10,000-event
// storm costs next to one message per event.

import { createStore } from '../../lib/adapters/store/index.ts';
import { MemoryStore } from '../../lib/adapters/store/memory.ts';
import type { StateStore } from '../../lib/domain/state-store.ts';
import { type Delivery, ingest } from '../../lib/stages/ingest/ingest.ts';
import { settings, T0 } from '../../test/fixtures/apiserversource/load.ts';
import { makeStorm, runThroughBroker } from '../../test/fixtures/apiserversource/storm.ts';
import { RecordingDestination } from '../../test/support/recording-destination.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';

const CONCURRENCY = 32;

/** Deliveries per second through the ingest logic with these deps, `concurrency` in flight. */
export async function ingestRate(
  deliveries: Delivery[],
  deps: Parameters<typeof ingest>[1],
  concurrency: number,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < deliveries.length) {
        const d = deliveries[next++] as Delivery;
        // A concurrent duplicate claim answers 503 in production; here the worker simply retries.
        for (;;) {
          try {
            await ingest(d, deps);
            break;
          } catch (err) {
            if ((err as { status?: number }).status !== 503) throw err;
          }
        }
      }
    }),
  );
  return deliveries.length / ((performance.now() - started) / 1000);
}

/** Events per second through the ingest logic, CONCURRENCY deliveries in flight. */
function throughput(deliveries: Delivery[], store: StateStore): Promise<number> {
  return ingestRate(
    deliveries,
    { store, now: () => new Date(T0), settings: settings({ cluster: 'bench' }) },
    CONCURRENCY,
  );
}

export async function benchEvents(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const updates = opts.tiny ? 300 : opts.quick ? 3_000 : 10_000;
  const stormEvents = opts.tiny ? 500 : 10_000;
  const redis = await startRedisServer();
  const stores: StateStore[] = [];
  try {
    const rows: Array<Record<string, string | number>> = [];
    const storm = makeStorm({ updates, objects: 300, workloads: 20, shuffleSeed: 1 });
    // Warm-up (JIT, connection) on a separate key space, then the measured runs.
    const warm = createStore({ redisUrl: redis.url, keyPrefix: 'warm:' });
    stores.push(warm);
    await throughput(storm.deliveries.slice(0, 500), warm);
    const memory = new MemoryStore();
    stores.push(memory);
    const memRate = await throughput(storm.deliveries, memory);
    const redisStore = createStore({ redisUrl: redis.url, keyPrefix: 'bench:' });
    stores.push(redisStore);
    const redisRate = await throughput(storm.deliveries, redisStore);
    rows.push({
      what: `k8s-event-ingest logic, ${updates} storm events`,
      'Redis events/s': Math.round(redisRate),
      'memory store events/s': Math.round(memRate),
      ratio: Number((redisRate / memRate).toFixed(2)),
    });

    const full = makeStorm({ updates: stormEvents, objects: 300, workloads: 20, shuffleSeed: 2 });
    const slackStore = createStore({ redisUrl: redis.url, keyPrefix: 'slack:' });
    stores.push(slackStore);
    const destination = new RecordingDestination();
    const run = await runThroughBroker(full.deliveries, { store: slackStore, destination });
    const sent = destination.calls.filter((c) => c.method !== 'uploadFiles').length;
    rows.push({
      what: `Slack messages for a ${stormEvents.toLocaleString('en')}-event storm (300 pods, 20 workloads)`,
      'root posts': destination.callsOf('postRoot').length,
      'root edits': destination.callsOf('updateRoot').length,
      replies: destination.callsOf('postStatusReply').length + destination.callsOf('postDetails').length,
      total: sent,
      'one per event': stormEvents,
      ratio: Number((sent / stormEvents).toFixed(4)),
      'dead-lettered': run.deadLettered,
    });
    return rows;
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    await redis.stop();
  }
}
