// The round-trip budget the Redis path is benchmarked against: a new alert costs two store calls
// (openThread with its storm count, workload claim and channel token; then the write that
// releases the lock), a duplicate one (openThread gives the lock back at once). A resolution
// makes two Slack calls: one channel turn for both, and a recorded step for each.
import test from 'ava';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { createChannelBucket } from '../lib/stages/dispatch/channel-bucket.ts';
import { DEFAULT_STORM } from '../lib/stages/dispatch/storm.ts';
import { dispatch } from './support/dispatch.ts';
import { makeIssue } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { countRoundTrips } from './support/round-trips.ts';

test('bench: a new alert costs two store round trips, a duplicate one, with storm folding, the workload claim and the channel bucket on', async (t) => {
  const { store, threads, count } = countRoundTrips(new MemoryStore());
  const destination = new RecordingDestination();
  destination.bucket = createChannelBucket(store, { perSecond: 100, burst: 100 });
  const deps = { store, threads, destination, storm: DEFAULT_STORM };
  const issue = makeIssue();
  await dispatch(issue, deps);
  t.is(count(), 2, 'openThread, putAndUnlock');
  await dispatch(issue, deps);
  t.is(count() - 2, 1, 'openThread (the settled thread gives its lock back at once)');
  t.is(destination.calls.length, 1, 'one root, and the duplicate called Slack for nothing');
  const resolved = makeIssue({ status: 'resolved', endsAt: new Date().toISOString() });
  await dispatch(resolved, deps);
  t.is(
    count() - 3,
    4,
    'a resolution: openThread keeps the lock (status changed), one turn for its two Slack calls, then a write per call (root edit, reply)',
  );
});
