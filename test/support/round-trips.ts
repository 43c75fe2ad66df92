// Counting a store's calls (one round trip each on Redis): the round-trip budget tests and the
// Redis path bench read the same counter. A thread's open is one call of the thread repository
// (one script on Redis) whatever steps it takes inside.
import { threadRepository } from '../../lib/adapters/store/threads.ts';
import type { StateStore } from '../../lib/domain/state-store.ts';
import type { ThreadRepository } from '../../lib/domain/threads.ts';

/** Wraps a store, and the thread repository over it, so every call is named in `calls`, in order. */
export function countRoundTrips(store: StateStore): {
  store: StateStore;
  threads: ThreadRepository;
  count: () => number;
  calls: string[];
} {
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const inner = threadRepository(store);
  const threads: ThreadRepository = {
    open(req) {
      calls.push('openThread');
      return inner.open(req);
    },
  };
  return { store: counted, threads, count: () => calls.length, calls };
}
