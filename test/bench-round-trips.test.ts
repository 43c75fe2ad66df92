// The round-trip budget the Redis path is benchmarked against: a duplicate alert costs two
// store calls (lockAndGet, unlock); a new one four (its workload claim and the channel bucket).
import test from 'ava';
import { createChannelBucket } from '../lib/dispatch/channel-bucket.ts';
import { dispatchIssue } from '../lib/dispatch/dispatcher.ts';
import { RecordingDestination } from '../lib/dispatch/recording-destination.ts';
import { MemoryStore } from '../lib/store/memory.ts';
import { countRoundTrips } from '../scripts/bench/redis-path.ts';
import { makeIssue } from './support/issue-factory.ts';

test('bench: a duplicate alert costs two store round trips, a new one four with the workload claim and the channel bucket', async (t) => {
  const { store, count } = countRoundTrips(new MemoryStore());
  const destination = new RecordingDestination();
  destination.bucket = createChannelBucket(store, { perSecond: 100, burst: 100 });
  const issue = makeIssue();
  await dispatchIssue(issue, { store, destination });
  t.is(count(), 4, 'lockAndGet, the workload claim, the bucket, putAndUnlock');
  await dispatchIssue(issue, { store, destination });
  t.is(count() - 4, 2, 'lockAndGet, unlock');
  t.is(destination.calls.length, 1);
});
