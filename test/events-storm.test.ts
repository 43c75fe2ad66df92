// Storm control end to end in-process: Event updates through the ingest logic and dispatchIssue
// (RecordingDestination) with a real redis-server, the broker's retries of deferred deliveries
// simulated on a fake clock. One root per workload and reason, exact counts, nothing dropped.
import test from 'ava';
import { createStore, type StateStore } from '../lib/adapters/store/index.ts';
import { finalRoots, makeStorm, runThroughBroker } from './fixtures/apiserversource/storm.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { startRedisServer } from './support/redis-server.ts';

async function redisStore(t: import('ava').ExecutionContext, keyPrefix: string): Promise<StateStore> {
  const servers: Array<{ stop(): Promise<void> }> = [];
  const stores: StateStore[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close();
    for (const s of servers) await s.stop();
  });
  const server = await startRedisServer();
  servers.push(server);
  const store = createStore({ redisUrl: server.url, keyPrefix });
  stores.push(store);
  return store;
}

const messages = (d: RecordingDestination) =>
  d.calls.filter((c) => ['postRoot', 'updateRoot', 'postStatusReply', 'postDetails'].includes(c.method))
    .length;

test('storm: 10,000 updates over 300 pods of 20 workloads make one root per workload, exact counts, nothing dropped', async (t) => {
  const store = await redisStore(t, 'storm:');
  const destination = new RecordingDestination();
  const storm = makeStorm({ updates: 10_000, objects: 300, workloads: 20, shuffleSeed: 7 });
  const run = await runThroughBroker(storm.deliveries, { store, destination });

  t.is(run.deadLettered, 0, 'every delivery eventually succeeded');
  t.is(run.issues, 10_000, 'every update became (a fold into) an issue');
  t.is(destination.callsOf('postRoot').length, 20, 'one root per workload and reason');
  const roots = finalRoots(destination);
  t.is(roots.size, 20);
  let total = 0;
  for (const view of roots.values()) {
    const workload = view.issue.labels.deployment ?? '';
    t.is(view.issue.title, `CrashLoopBackOff: Deployment storm/${workload}`);
    t.is(view.occurrences?.count, storm.perWorkload.get(workload), `${workload}: every update counted once`);
    t.is(view.occurrences?.objects, storm.podsPerWorkload.get(workload)?.size, `${workload}: distinct pods`);
    t.is(view.occurrences?.sample?.length, 5);
    total += view.occurrences?.count ?? 0;
  }
  t.is(total, 10_000);
  // Root posts plus at most a couple of rate-bounded edits per thread, instead of 10,000 posts.
  t.true(messages(destination) <= 60, `${messages(destination)} Slack messages`);
  t.log(`Slack messages for 10,000 events: ${messages(destination)}; broker retries: ${run.retries}`);
});

test('replay: the same stream delivered again, out of order, changes nothing visible', async (t) => {
  const store = await redisStore(t, 'replay:');
  const destination = new RecordingDestination();
  const storm = makeStorm({ updates: 1_200, objects: 60, workloads: 4 });
  await runThroughBroker(storm.deliveries, { store, destination });
  const before = structuredClone(destination.calls);
  t.is(destination.callsOf('postRoot').length, 4);

  const replay = makeStorm({ updates: 1_200, objects: 60, workloads: 4, shuffleSeed: 99 });
  const again = await runThroughBroker(replay.deliveries, { store, destination, startSeconds: 120 });
  t.is(again.deadLettered, 0);
  t.deepEqual(destination.calls, before, 'no post, edit or reply from the replay');

  // Delivered out of order the first time, the same stream shows the same final figures.
  const other = await redisStore(t, 'shuffled:');
  const shuffledDest = new RecordingDestination();
  await runThroughBroker(replay.deliveries, { store: other, destination: shuffledDest });
  const figures = (d: RecordingDestination) =>
    [...finalRoots(d).values()]
      .map((v) => [v.issue.fingerprint, v.occurrences?.count, v.occurrences?.objects])
      .sort();
  t.deepEqual(figures(shuffledDest), figures(destination));
});
