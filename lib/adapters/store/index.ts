// Picks the state store: Redis when a URL is configured, else in-memory (local runs only:
// memory state is per process, so scaled-out instances would not share threads).

import type { StateStore } from '../../domain/state-store.ts';
import type { Logger } from '../../platform/logger.ts';
import { MemoryStore } from './memory.ts';
import { RedisStore } from './redis.ts';

export type { Lock, LockAndGet, StateStore } from '../../domain/state-store.ts';
export { type ThreadKeys, threadKeys } from './keys.ts';
export { MemoryStore } from './memory.ts';
export { createRedisStore, RedisStore, type RedisStoreOptions } from './redis.ts';

export interface CreateStoreOptions {
  /** REDIS_URL; empty or unset selects the memory store. */
  redisUrl?: string | undefined;
  commandTimeoutMs?: number;
  keyPrefix?: string;
  log?: Logger;
}

export function createStore(opts: CreateStoreOptions = {}): StateStore {
  if (!opts.redisUrl) {
    opts.log?.warn('REDIS_URL unset: state kept in memory, not shared between instances');
    return new MemoryStore();
  }
  const { redisUrl, ...rest } = opts;
  return new RedisStore(redisUrl, rest);
}
export { threadRepository } from './threads.ts';
