// Figures for change tracking (config `changeTracking:`, docs/workloads.md): what a Deployment
// update costs k8s-event-ingest with a real redis-server, tracked (the lock taken with the read,
// the template diff, the writes when it changed, the unlock) against k8s-event-ingest's everyday work, Pod updates of a crash storm
// through the same store (the baseline, same run), and what the store keeps per tracked workload.
import { Redis } from 'ioredis';
import { createStore } from '../../lib/adapters/store/index.ts';
import { ChangeTracking } from '../../lib/domain/config/change-tracking.ts';
import { DEFAULT_REDACT_PATTERNS } from '../../lib/domain/diagnose/redact.ts';
import type { StateStore } from '../../lib/domain/state-store.ts';
import type { Delivery } from '../../lib/stages/ingest/ingest.ts';
import { fixture, settings, T0 } from '../../test/fixtures/apiserversource/load.ts';
import { makeStorm } from '../../test/fixtures/apiserversource/storm.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';
import { ingestRate } from './events.ts';

const CONCURRENCY = 16;
const TRACKED = ChangeTracking.parse({ rules: [{ name: 'all', destination: 'default' }] });
const OFF = ChangeTracking.parse({});

/** Version `gen` of workload `i`: a status change only, or (image) a new image too. */
function version(i: number, gen: number, rv: number, image: boolean): Delivery {
  const e = fixture('deployment-checkout-update');
  const d = e.data;
  d.metadata.uid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  d.metadata.name = `checkout-${i}`;
  d.metadata.generation = gen;
  d.metadata.resourceVersion = String(rv);
  d.status.readyReplicas = rv % 5;
  if (image) d.spec.template.spec.containers[0].image = `registry.example.com/shop/checkout:2.${gen}.0`;
  return { type: e.type, data: d };
}

function rate(deliveries: Delivery[], store: StateStore, tracking: ChangeTracking): Promise<number> {
  const deps = {
    store,
    now: () => new Date(T0),
    settings: settings({ cluster: 'bench' }),
    changes: { tracking, patterns: DEFAULT_REDACT_PATTERNS },
  };
  return ingestRate(deliveries, deps, CONCURRENCY);
}

export async function benchChanges(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const workloads = opts.tiny ? 50 : opts.quick ? 200 : 1000;
  const rounds = opts.tiny ? 2 : 5;
  const redis = await startRedisServer();
  const stores: StateStore[] = [];
  const client = new Redis(redis.url);
  try {
    const store = createStore({ redisUrl: redis.url, keyPrefix: 'bench:' });
    stores.push(store);
    const ids = Array.from({ length: workloads }, (_, i) => i);
    // First sight of every workload, then rounds of status-only updates and of image changes.
    const first = ids.map((i) => version(i, 1, 1000 + i, false));
    // Status updates carry the generation and template of the last change (round r-1's image).
    const status = (r: number) => ids.map((i) => version(i, r + 1, 2000 + r * workloads + i, r > 0));
    const images = (r: number) => ids.map((i) => version(i, 2 + r, 9000 + r * workloads + i, true));
    await rate(first, store, TRACKED);
    const storm = makeStorm({ updates: workloads * rounds, objects: 300, workloads: 20, shuffleSeed: 1 });
    const pods = await rate(storm.deliveries, store, OFF);
    let off = 0;
    let tracked = 0;
    let changed = 0;
    for (let r = 0; r < rounds; r++) {
      off += await rate(status(r), store, OFF);
      tracked += await rate(status(r), store, TRACKED);
      changed += await rate(images(r), store, TRACKED);
    }
    const keys = await client.keys('bench:ki:{wl|*');
    const bytes = await Promise.all(keys.map((k) => client.memory('USAGE', k)));
    const perWorkload = bytes.reduce((a: number, b) => a + Number(b ?? 0), 0) / Math.max(1, keys.length);
    const objectBytes = Buffer.byteLength(JSON.stringify(version(0, 1, 1, false).data));
    const row = (what: string, perSecond: number) => ({
      what,
      'updates/s': Math.round(perSecond),
      'x baseline': Number((perSecond / pods).toFixed(2)),
    });
    return [
      row(`Pod updates of a crash storm, ${workloads * rounds} (baseline)`, pods),
      row(`status-only Deployment update, tracking off, ${workloads} workloads`, off / rounds),
      row('status-only Deployment update, tracked (lock+read, compare, unlock)', tracked / rounds),
      row('new image, tracked (lock+read, compare, 2 writes, unlock, issue)', changed / rounds),
      {
        what: 'Redis bytes kept per tracked workload (MEMORY USAGE), next to its object JSON',
        'updates/s': '',
        'x baseline': '',
        bytes: Math.round(perWorkload),
        'object JSON bytes': objectBytes,
      },
    ];
  } finally {
    client.disconnect();
    await Promise.allSettled(stores.map((s) => s.close()));
    await redis.stop();
  }
}
