// The state contract every stage keeps its small, expiring state in (threads, dedup marks,
// counters). Two adapters pass the same contract tests: Redis (production) and memory (local).

/**
 * A lock owned by one delivery. The token makes release and fenced writes safe: a delivery
 * whose lock expired can never delete or overwrite under the lock that replaced it.
 */
export interface Lock {
  key: string;
  token: string;
  /** The lock frees itself after this long if its holder dies; fenced writes renew it. */
  ttlMs: number;
}

export interface LockAndGet {
  locked: boolean;
  /** The data key's value, read in the same round trip whether or not the lock was taken. */
  value: string | null;
}

/**
 * Every write carries a TTL: nothing the agent stores lives forever. Keys that an operation
 * touches together (a lock and its data) must share a Redis Cluster hash tag: see keys.ts.
 * Failures of the backing store are thrown as UnavailableError (retryable, 503).
 */
export interface StateStore {
  /** Takes the lock if free (SET NX) and reads dataKey: one round trip. */
  lockAndGet(lock: Lock, dataKey: string): Promise<LockAndGet>;
  /**
   * Writes dataKey only while `lock` is still held by its token, and renews the lock's TTL.
   * Returns false (and writes nothing) when the lock was lost.
   */
  putLocked(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Fenced write and release in one round trip; false (nothing written) when the lock was lost. */
  putAndUnlock(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Releases the lock only if the token still owns it; false when it had expired or moved on. */
  unlock(lock: Lock): Promise<boolean>;
  get(key: string): Promise<string | null>;
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** SET NX: true when this call created the key (first sight of a dedup key). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * SET NX that also reads: null when this call created the key, else the value that holds it
   * (one round trip for "claim it, or tell me who has it").
   */
  claim(key: string, value: string, ttlSeconds: number): Promise<string | null>;
  /** Adds 1 and returns the new count; the TTL is set when the key is created (fixed window). */
  increment(key: string, ttlSeconds: number): Promise<number>;
  close(): Promise<void>;
}

/** Rejects a TTL that would store a key forever or not at all (Redis refuses 0 and negatives). */
export function assertTtl(ttl: number, what: string): void {
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new RangeError(`${what} must be a positive integer, got ${ttl}`);
}
