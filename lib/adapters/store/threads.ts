// The thread repository over a state store: on a single Redis server (or a Sentinel's master)
// one script per open (thread-script.ts); on Redis Cluster, where a new thread's keys live on
// other shards, and in memory, the same steps one store call each (domain/threads.ts).
import { assertTokenRequest, assertTtl, type StateStore } from '../../domain/state-store.ts';
import {
  openInSteps,
  type ThreadOpen,
  type ThreadOpenRequest,
  type ThreadRepository,
} from '../../domain/threads.ts';
import { RedisStore } from './redis.ts';
import type { ThreadScriptArg } from './thread-script.ts';

export function threadRepository(store: StateStore): ThreadRepository {
  return store instanceof RedisStore && !store.sharded ? redisThreads(store) : openInSteps(store);
}

function redisThreads(store: RedisStore): ThreadRepository {
  return {
    async open(req) {
      const { lock, dataKey, storm, claim, bucket } = req;
      const r = await store.openThreadScript(
        // Absent keys are passed as the data key, which the script never touches for them.
        [lock.key, dataKey, storm?.key ?? dataKey, claim?.key ?? dataKey, bucket?.key ?? dataKey],
        JSON.stringify(scriptArg(req)),
      );
      const out: ThreadOpen = { locked: r[0] >= 1, value: r[1] ?? null };
      if (r[0] === 2) out.released = true;
      if (!out.locked || out.value !== null) return out;
      if (storm) out.stormCount = Number(r[2]);
      if (r[3] === 1) out.claimHolder = null;
      else if (r[3] === 2) out.claimHolder = r[4] ?? '';
      if (bucket && Number(r[5]) >= 0) out.bucketWaitMs = Number(r[5]);
      if (r[6] === 1) out.attempted = true;
      return out;
    },
  };
}

/** The request as the script reads it, checked as the store checks each primitive. */
function scriptArg(req: ThreadOpenRequest): ThreadScriptArg {
  const { lock, peek, storm, attempt, claim, bucket } = req;
  assertTtl(lock.ttlMs, 'lock ttlMs');
  const arg: ThreadScriptArg = { token: lock.token, lockTtlMs: lock.ttlMs };
  if (peek) arg.peek = { status: peek.status, firingSince: peek.firingSince };
  if (storm) {
    assertTtl(storm.ttlSeconds, 'storm ttlSeconds');
    arg.storm = { ttlSeconds: storm.ttlSeconds, threshold: storm.threshold };
  }
  if (attempt) {
    assertTtl(attempt.ttlSeconds, 'attempt ttlSeconds');
    arg.attempt = attempt;
  }
  if (claim) {
    assertTtl(claim.ttlSeconds, 'claim ttlSeconds');
    arg.claim = { value: claim.value, ttlSeconds: claim.ttlSeconds };
  }
  if (bucket) {
    assertTokenRequest(bucket);
    const { intervalMs, burst, nowMs } = bucket;
    arg.bucket = { intervalMs, burst, nowMs, count: bucket.count ?? 1, maxWaitMs: bucket.maxWaitMs ?? 0 };
  }
  return arg;
}
