// The state contract every stage keeps its small, expiring state in (dedup marks, counters, the
// channel buckets, and under threads.ts the threads): primitives only, each one round trip on
// Redis. Two adapters pass the same contract tests: Redis (production) and memory (local).

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
 * Tokens from a token bucket kept as GCRA (the generic cell rate algorithm): the key holds the
 * time, in epoch ms, at which the bucket is full again. `count` tokens are granted together at
 * the first moment the bucket holds that many, which moves that time `count` intervals later.
 * So `burst` calls may go back to back, then one per interval: in any span of L ms at most
 * burst + L / intervalMs calls, however many replicas share the key. The grant may lie in the
 * future (a reservation: the caller's turn in the queue) but no later than `maxWaitMs` from
 * now; further than that nothing is taken. The key expires once the bucket is full again,
 * which is the same as its absence.
 */
export interface TokenRequest {
  key: string;
  /** Milliseconds between tokens (1000 / calls per second), a positive whole number. */
  intervalMs: number;
  /** Tokens the full bucket holds: calls allowed back to back. A positive whole number. */
  burst: number;
  /**
   * The caller's clock, epoch ms (whole). Replicas' clocks differ by NTP's margin; a stored
   * time further ahead than MAX_TOKEN_HORIZON_MS (a clock far ahead, or a faster rate set
   * since) is taken as that far ahead, so a skewed clock cannot hold a channel back for good.
   */
  nowMs: number;
  /** Tokens wanted together (default 1); more than `burst` are granted as `burst`. */
  count?: number;
  /** How far ahead the grant may lie (default 0: now or never). At most MAX_TOKEN_HORIZON_MS. */
  maxWaitMs?: number;
}

/** The furthest ahead a bucket reserves: a queue of turns longer than this is refused. */
export const MAX_TOKEN_HORIZON_MS = 10 * 60_000;

/**
 * A turn reserved ahead (maxWaitMs > 0) starts on a whole second from now and no sooner than
 * two: its holder comes back through the broker, after a Retry-After counted in whole seconds
 * and no sooner than the broker's first retry (the manifests' exponential PT1S: 2 s). Its calls
 * are then made when the bucket counted them, not later.
 */
export const TURN_STEP_MS = 1000;
export const MIN_TURN_MS = 2000;

/** Refuses a token request that would store nonsense (Redis would take it as given). */
export function assertTokenRequest(req: TokenRequest): void {
  for (const [what, v] of [
    ['bucket intervalMs', req.intervalMs],
    ['bucket burst', req.burst],
    ['bucket nowMs', req.nowMs],
    ['bucket count', req.count ?? 1],
  ] as const)
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new RangeError(`${what} must be a positive integer, got ${v}`);
  const maxWait = req.maxWaitMs ?? 0;
  if (!Number.isSafeInteger(maxWait) || maxWait < 0 || maxWait > MAX_TOKEN_HORIZON_MS)
    throw new RangeError(
      `bucket maxWaitMs must be a whole number in [0, ${MAX_TOKEN_HORIZON_MS}], got ${maxWait}`,
    );
}

/** Whether a token answer (the wait) granted the request: within its maxWaitMs. */
export const granted = (req: Pick<TokenRequest, 'maxWaitMs'>, waitMs: number): boolean =>
  waitMs <= (req.maxWaitMs ?? 0);

/**
 * The GCRA step of TokenRequest over a stored value (null: absent): the wait in ms until the
 * tokens are there (granted when at most maxWaitMs) and, when granted, the value to store and
 * its time to live in ms. The memory store runs this; the Redis scripts run the same steps in
 * Lua (redis.ts).
 */
export function gcraStep(
  stored: string | null,
  req: TokenRequest,
): { waitMs: number; next?: { value: string; ttlMs: number } } {
  const { intervalMs, burst, nowMs } = req;
  const count = Math.min(req.count ?? 1, burst);
  const parsed = stored === null ? Number.NaN : Number(stored);
  let tat = Number.isFinite(parsed) && parsed > nowMs ? parsed : nowMs;
  if (tat > nowMs + MAX_TOKEN_HORIZON_MS) tat = nowMs + MAX_TOKEN_HORIZON_MS;
  // The first moment `count` tokens fit back to back under the bucket's level.
  let waitMs = Math.max(0, tat + (count - burst) * intervalMs - nowMs);
  if (waitMs > 0 && (req.maxWaitMs ?? 0) > 0)
    waitMs = Math.max(MIN_TURN_MS, Math.ceil(waitMs / TURN_STEP_MS) * TURN_STEP_MS);
  const start = nowMs + waitMs;
  if (!granted(req, waitMs)) return { waitMs };
  const next = Math.max(tat, start) + count * intervalMs;
  return { waitMs, next: { value: String(next), ttlMs: next - nowMs + TOKEN_KEY_GRACE_MS } };
}

/** How long a bucket's key outlives the moment it is full again (covers replicas' skew). */
export const TOKEN_KEY_GRACE_MS = 1000;

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
  /**
   * Deletes dataKey and releases the lock, only while the token owns it (false otherwise, and
   * nothing deleted): takes back what a thread's open wrote when nothing was posted.
   */
  dropAndUnlock(lock: Lock, dataKey: string): Promise<boolean>;
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
  /**
   * Tokens (TokenRequest): the ms until they are there, 0 for now. Taken when that is within
   * req.maxWaitMs (see granted()); otherwise nothing is taken.
   */
  takeToken(req: TokenRequest): Promise<number>;
  close(): Promise<void>;
}

/** Rejects a TTL that would store a key forever or not at all (Redis refuses 0 and negatives). */
export function assertTtl(ttl: number, what: string): void {
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new RangeError(`${what} must be a positive integer, got ${ttl}`);
}
