// The thread repository: opening a thread takes its lock and reads what its key holds, and for a
// brand-new thread does in the same round trip what it needs besides (its storm count, its
// workload claim, its channel turn, the record that its root is about to be posted). On a
// single Redis server that is one script (adapters/store/threads.ts); anywhere else the same
// steps, one store call each (openInSteps). Built on the state store's primitives.
import type { Lock, LockAndGet, StateStore, TokenRequest } from './state-store.ts';

export interface ThreadOpenRequest {
  lock: Lock;
  dataKey: string;
  /**
   * For a known thread: give the lock back at once when the stored thread is settled (its
   * `settled` flag, written by the dispatcher) at this status and firing period, the likely
   * duplicate, so the caller needs no second round trip to unlock. The caller re-opens if it
   * finds work after all.
   */
  peek?: { status: string; firingSince: string } | undefined;
  /** A new thread's storm group counter for the current window; past `threshold` the rest is skipped. */
  storm?: { key: string; ttlSeconds: number; threshold: number } | undefined;
  /** A new thread's workload claim for cross-source threading (StateStore.claim). */
  claim?: { key: string; value: string; ttlSeconds: number } | undefined;
  /**
   * Written to a new thread's data key, as given, after the storm count unless that is past its
   * threshold: who is about to post the root. The caller overwrites it with the thread, or takes
   * it back (StateStore.dropAndUnlock) when nothing was posted.
   */
  attempt?: { value: string; ttlSeconds: number } | undefined;
  /** A new thread's channel turn (StateStore.takeToken). */
  bucket?: TokenRequest | undefined;
}

export interface ThreadOpen extends LockAndGet {
  /** The lock was taken and already given back: the thread was settled (peek). */
  released?: boolean;
  /** Only when locked, the data key was empty and the request asked for them: */
  stormCount?: number;
  /** null: this call claimed the workload; otherwise the holder's value. */
  claimHolder?: string | null;
  /** The bucket's answer (StateStore.takeToken): the wait, granted when within its maxWaitMs. */
  bucketWaitMs?: number;
  /** The attempt was written: the data key holds it now. */
  attempted?: true;
}

export interface ThreadRepository {
  open(req: ThreadOpenRequest): Promise<ThreadOpen>;
}

/**
 * Whether a stored thread is settled at this status and firing period. The flag is the
 * dispatcher's one rule (every step done), written with the thread; the Redis script reads the
 * same flag.
 */
export function settledAt(raw: string, peek: { status: string; firingSince: string }): boolean {
  try {
    const s = JSON.parse(raw) as { settled?: unknown; status?: unknown; firingSince?: unknown };
    return s.settled === true && s.status === peek.status && s.firingSince === peek.firingSince;
  } catch {
    return false;
  }
}

/** The repository for stores without one script that spans keys (memory, Redis Cluster). */
export function openInSteps(store: StateStore): ThreadRepository {
  return {
    async open(req) {
      const { lock, dataKey } = req;
      const got = await store.lockAndGet(lock, dataKey);
      if (got.locked && got.value !== null && req.peek && settledAt(got.value, req.peek)) {
        await store.unlock(lock);
        return { ...got, released: true };
      }
      if (!got.locked || got.value !== null) return got;
      const out: ThreadOpen = { ...got };
      if (req.storm) {
        out.stormCount = await store.increment(req.storm.key, req.storm.ttlSeconds);
        if (out.stormCount > req.storm.threshold) return out;
      }
      if (req.attempt) {
        // A lock that expired between these calls (a stalled process, a very short lock) is lost:
        // a root must never be posted without its attempt recorded first.
        if (!(await store.putLocked(lock, dataKey, req.attempt.value, req.attempt.ttlSeconds)))
          return { locked: false, value: null };
        out.attempted = true;
      }
      if (req.claim)
        out.claimHolder = await store.claim(req.claim.key, req.claim.value, req.claim.ttlSeconds);
      if (req.bucket) out.bucketWaitMs = await store.takeToken(req.bucket);
      return out;
    },
  };
}
