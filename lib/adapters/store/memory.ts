// In-process StateStore for local runs and tests without Redis (REDIS_URL unset). Same contract
// as the Redis adapter, TTLs included; state dies with the process and is not shared.

import {
  assertTokenRequest,
  assertTtl,
  gcraStep,
  type Lock,
  type LockAndGet,
  type StateStore,
  type TokenRequest,
} from '../../domain/state-store.ts';
import { DependencyError } from '../../platform/errors.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** How often expired keys are swept; lookups also expire lazily, so this only bounds memory. */
  sweepIntervalMs?: number;
  now?: () => number;
}

export class MemoryStore implements StateStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(opts: MemoryStoreOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => this.#sweep(), opts.sweepIntervalMs ?? 60_000);
    // A sweep timer must never be what keeps a function's process alive.
    this.#timer.unref();
  }

  async lockAndGet(lock: Lock, dataKey: string): Promise<LockAndGet> {
    assertTtl(lock.ttlMs, 'lock ttlMs');
    const locked = this.#read(lock.key) === null;
    if (locked) this.#write(lock.key, lock.token, lock.ttlMs);
    return { locked, value: this.#read(dataKey) };
  }

  async putLocked(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    if (this.#read(lock.key) !== lock.token) return false;
    this.#write(dataKey, value, ttlSeconds * 1000);
    this.#write(lock.key, lock.token, lock.ttlMs);
    return true;
  }

  async putAndUnlock(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    if (this.#read(lock.key) !== lock.token) return false;
    this.#write(dataKey, value, ttlSeconds * 1000);
    this.#entries.delete(lock.key);
    return true;
  }

  async unlock(lock: Lock): Promise<boolean> {
    if (this.#read(lock.key) !== lock.token) return false;
    this.#entries.delete(lock.key);
    return true;
  }

  async dropAndUnlock(lock: Lock, dataKey: string): Promise<boolean> {
    if (this.#read(lock.key) !== lock.token) return false;
    this.#entries.delete(dataKey);
    this.#entries.delete(lock.key);
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.#read(key);
  }

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    this.#write(key, value, ttlSeconds * 1000);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    if (this.#read(key) !== null) return false;
    this.#write(key, value, ttlSeconds * 1000);
    return true;
  }

  async claim(key: string, value: string, ttlSeconds: number): Promise<string | null> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    const held = this.#read(key);
    if (held !== null) return held;
    this.#write(key, value, ttlSeconds * 1000);
    return null;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    const entry = this.#live(key);
    if (!entry) {
      this.#write(key, '1', ttlSeconds * 1000);
      return 1;
    }
    const n = Number.parseInt(entry.value, 10) + 1;
    // Same class as the Redis adapter's answer to INCR on a non-integer.
    if (Number.isNaN(n)) throw new DependencyError(`state store rejected increment of ${key}`);
    entry.value = String(n);
    return n;
  }

  async takeToken(req: TokenRequest): Promise<number> {
    assertTokenRequest(req);
    const { waitMs, next } = gcraStep(this.#read(req.key), req);
    if (next) this.#write(req.key, next.value, next.ttlMs);
    return waitMs;
  }

  /** Milliseconds left before `key` expires, or null when absent: lets tests check TTLs as on Redis. */
  ttlMs(key: string): number | null {
    const entry = this.#live(key);
    return entry ? entry.expiresAt - this.#now() : null;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#entries.clear();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #read(key: string): string | null {
    return this.#live(key)?.value ?? null;
  }

  #write(key: string, value: string, ttlMs: number): void {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}
