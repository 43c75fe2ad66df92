// Counting a store's calls (one round trip each on Redis): the round-trip budget tests and the
// Redis path bench read the same counter.
import type { StateStore } from '../../lib/domain/state-store.ts';

/** Wraps a store so every call (one round trip on Redis) is named in `calls`, in order. */
export function countRoundTrips(store: StateStore): {
  store: StateStore;
  count: () => number;
  calls: string[];
} {
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: counted, count: () => calls.length, calls };
}
