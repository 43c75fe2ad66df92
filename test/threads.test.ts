// The thread repository's steps (memory, Redis Cluster): a lock lost between its calls is a
// thread someone else may hold, never a new thread whose root goes out without its attempt.
import test from 'ava';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import type { StateStore } from '../lib/domain/state-store.ts';
import { openInSteps } from '../lib/domain/threads.ts';

test('threads in steps: a lock that expired before the attempt was written is reported as not taken', async (t) => {
  const memory = new MemoryStore();
  // The lock expires between taking it and writing under it, as after a stalled process.
  const stalled: StateStore = new Proxy(memory, {
    get(target, prop) {
      if (prop === 'putLocked') return async () => false;
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const lock = { key: 'ki:{t}:lock', token: 'me', ttlMs: 100 };
  const opened = await openInSteps(stalled).open({
    lock,
    dataKey: 'ki:{t}:thread',
    attempt: { value: '{"kind":"attempt"}', ttlSeconds: 60 },
  });
  t.deepEqual(opened, { locked: false, value: null });
  t.is(await memory.get('ki:{t}:thread'), null);
  const fine = await openInSteps(memory).open({
    lock: { ...lock, key: 'ki:{u}:lock' },
    dataKey: 'ki:{u}:thread',
    attempt: { value: '{"kind":"attempt"}', ttlSeconds: 60 },
  });
  t.deepEqual(fine, { locked: true, value: null, attempted: true });
});
