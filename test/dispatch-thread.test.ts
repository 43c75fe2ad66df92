// The dispatcher's thread state machine, run against the memory store and a real redis-server:
// one thread per alert, repeats silent, resolution and re-fire in place, reordering tolerated.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import type { StateStore } from '../lib/domain/state-store.ts';
import { ThreadState } from '../lib/stages/dispatch/thread-state.ts';
import { dispatch } from './support/dispatch.ts';
import { at, makeIssue, oomEnrichment, resolvedOf, T0 } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

let server: RedisServer;
const opened: StateStore[] = [];

test.before(async () => {
  server = await startRedisServer();
});
test.after.always(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
});

const backends: Array<{ name: string; open(): StateStore }> = [
  { name: 'memory', open: () => new MemoryStore() },
  { name: 'redis', open: () => new RedisStore(server.url, { keyPrefix: `t${randomUUID().slice(0, 8)}:` }) },
];

/** A fresh store and destination per test, with a clock fixed a day after T0. */
function setup(open: () => StateStore) {
  const store = open();
  opened.push(store);
  const destination = new RecordingDestination();
  const deps = { store, destination, now: () => new Date(at(24 * 60)) };
  const readState = async (fingerprint: string) => {
    const raw = await store.get(`ki:{${destination.id}|${fingerprint}}:thread`);
    return raw === null ? null : ThreadState.parse(JSON.parse(raw));
  };
  return { store, destination, deps, readState };
}

const enriched = (over: Parameters<typeof makeIssue>[0] = {}) =>
  makeIssue({ enrichments: [oomEnrichment()], ...over });

for (const b of backends) {
  const name = (s: string) => `dispatch (${b.name} store): ${s}`;

  test(name('a first firing posts the root, then details and files in its thread, once'), async (t) => {
    const { destination, deps, readState } = setup(b.open);
    const issue = enriched();
    const r = await dispatch(issue, deps);

    t.is(r.action, 'posted');
    t.is(r.status, 'firing');
    t.deepEqual(
      destination.calls.map((c) => c.method),
      ['postRoot', 'postDetails', 'uploadFiles'],
    );
    const root = destination.callsOf('postRoot')[0];
    t.like(root?.view, { status: 'firing', firingSince: T0, firingCount: 1 });
    t.deepEqual(root?.view?.verdicts, [oomEnrichment().verdict]);
    t.is(root?.view?.continuesEarlier, undefined);
    for (const c of destination.calls) t.deepEqual(c.ref, r.ref);

    const state = await readState(issue.fingerprint);
    t.like(state, {
      channel: r.ref?.channel,
      ts: r.ref?.ts,
      status: 'firing',
      firingSince: T0,
      firingCount: 1,
    });
    t.true(state?.steps.every((s) => s.done));
  });

  test(name('a firing without enrichments posts only the root'), async (t) => {
    const { destination, deps } = setup(b.open);
    t.is((await dispatch(makeIssue(), deps)).action, 'posted');
    t.deepEqual(
      destination.calls.map((c) => c.method),
      ['postRoot'],
    );
  });

  test(name('repeats of the same firing (repeat_interval, HA twin, redelivery) post nothing'), async (t) => {
    const { destination, deps } = setup(b.open);
    const issue = enriched();
    const first = await dispatch(issue, deps);
    for (let i = 0; i < 5; i++) {
      const r = await dispatch(enriched(), deps);
      t.is(r.action, 'unchanged');
      t.deepEqual(r.ref, first.ref);
    }
    // An HA twin whose id differs but whose firing period is the same.
    t.is((await dispatch(enriched({ id: 'ha-twin-occurrence' }), deps)).action, 'unchanged');
    // The same instant written differently (another sender's formatting) is the same period.
    const sameInstant = new Date(T0).toISOString().replace('Z', '+00:00');
    t.not(sameInstant, T0);
    t.is((await dispatch(enriched({ startsAt: sameInstant }), deps)).action, 'unchanged');
    t.is(destination.calls.length, 3);
  });

  test(name('a resolved alert updates its root to resolved and replies once in its thread'), async (t) => {
    const { destination, deps, readState } = setup(b.open);
    const firing = enriched();
    const posted = await dispatch(firing, deps);
    const resolved = resolvedOf(firing, at(14));

    const r = await dispatch(resolved, deps);
    t.is(r.action, 'updated');
    t.is(r.status, 'resolved');
    t.deepEqual(r.ref, posted.ref);
    const update = destination.callsOf('updateRoot');
    t.is(update.length, 1);
    t.like(update[0]?.view, { status: 'resolved', resolvedAt: at(14), firingSince: T0, firingCount: 1 });
    t.deepEqual(update[0]?.view?.verdicts, [oomEnrichment().verdict], 'the firing verdicts stay on the root');
    const replies = destination.callsOf('postStatusReply');
    t.deepEqual(
      replies.map((c) => [c.kind, c.ref]),
      [['resolved', posted.ref]],
    );

    for (let i = 0; i < 3; i++) t.is((await dispatch(resolvedOf(firing, at(14)), deps)).action, 'unchanged');
    t.is(destination.calls.length, 5);
    t.like(await readState(firing.fingerprint), { status: 'resolved', resolvedAt: at(14) });
  });

  test(
    name('firing again after resolution updates the root and replies in the same thread, count 2'),
    async (t) => {
      const { destination, deps, readState } = setup(b.open);
      const first = enriched();
      const posted = await dispatch(first, deps);
      await dispatch(resolvedOf(first, at(10)), deps);
      const calls = destination.calls.length;

      const again = enriched({
        startsAt: at(30),
        enrichments: [oomEnrichment({ verdict: 'OOMKilled again' })],
      });
      const r = await dispatch(again, deps);
      t.is(r.action, 'updated');
      t.is(r.status, 'firing');
      t.deepEqual(r.ref, posted.ref);
      const added = destination.calls.slice(calls);
      t.deepEqual(
        added.map((c) => c.method),
        ['updateRoot', 'postStatusReply', 'postDetails', 'uploadFiles'],
      );
      t.true(added.every((c) => c.ref.ts === posted.ref?.ts));
      t.like(added[0]?.view, { status: 'firing', firingSince: at(30), firingCount: 2 });
      t.is(added[0]?.view?.resolvedAt, undefined);
      t.deepEqual(added[0]?.view?.verdicts, ['OOMKilled again']);
      t.is(added[1]?.kind, 'refired');
      t.is(destination.callsOf('postRoot').length, 1);

      t.is((await dispatch(again, deps)).action, 'unchanged');
      const state = await readState(first.fingerprint);
      t.like(state, { firingCount: 2, status: 'firing', firingSince: at(30) });
      t.true((state?.steps.length ?? 99) <= 4, 'only the current period steps are kept');

      await dispatch(resolvedOf(again, at(40)), deps);
      t.like(destination.callsOf('updateRoot').at(-1)?.view, { status: 'resolved', firingCount: 2 });
    },
  );

  test(name('a resolution delivered before its firing posts a root that is already resolved'), async (t) => {
    const { destination, deps } = setup(b.open);
    const firing = enriched();
    const r = await dispatch(resolvedOf(firing, at(5)), deps);
    t.is(r.action, 'posted');
    t.is(r.status, 'resolved');
    t.deepEqual(
      destination.calls.map((c) => c.method),
      ['postRoot'],
    );
    t.like(destination.calls[0]?.view, {
      status: 'resolved',
      resolvedAt: at(5),
      firingSince: T0,
      firingCount: 1,
    });

    const late = await dispatch(firing, deps);
    t.is(late.action, 'unchanged');
    t.is(late.status, 'resolved');
    t.is(destination.calls.length, 1);
  });

  test(name('a stale firing (not after the recorded resolution) is ignored'), async (t) => {
    const { destination, deps, readState } = setup(b.open);
    const second = enriched({ startsAt: at(30) });
    await dispatch(second, deps);
    await dispatch(resolvedOf(second, at(40)), deps);
    const calls = destination.calls.length;

    t.is((await dispatch(enriched({ startsAt: T0 }), deps)).action, 'unchanged', 'an older period');
    t.is((await dispatch(enriched({ startsAt: at(35) }), deps)).action, 'unchanged', 'before the resolution');
    t.is((await dispatch(resolvedOf(enriched({ startsAt: T0 }), at(20)), deps)).action, 'unchanged');
    t.is(destination.calls.length, calls);
    t.like(await readState(second.fingerprint), { status: 'resolved', firingCount: 1 });
  });

  test(name('a firing whose resolution was never delivered is treated as a re-fire'), async (t) => {
    const { destination, deps } = setup(b.open);
    const posted = await dispatch(makeIssue(), deps);
    const r = await dispatch(makeIssue({ startsAt: at(60) }), deps);
    t.is(r.action, 'updated');
    t.deepEqual(r.ref, posted.ref);
    t.like(destination.callsOf('updateRoot')[0]?.view, {
      status: 'firing',
      firingCount: 2,
      firingSince: at(60),
    });
    t.is(destination.callsOf('postStatusReply')[0]?.kind, 'refired');
  });

  test(
    name('a firing older than the state TTL posts a root that says it continues an earlier one'),
    async (t) => {
      const { destination, deps } = setup(b.open);
      const r = await dispatch(makeIssue({ startsAt: at(-3 * 24 * 60) }), {
        ...deps,
        stateTtlSeconds: 86_400,
      });
      t.is(r.action, 'posted');
      t.true(destination.calls[0]?.view?.continuesEarlier);
    },
  );

  test(name('different alerts and different destinations get their own threads'), async (t) => {
    const { store, destination, deps } = setup(b.open);
    const a = await dispatch(makeIssue({ fingerprint: 'fp-a' }), deps);
    const bb = await dispatch(makeIssue({ fingerprint: 'fp-b' }), deps);
    const other = new RecordingDestination('C0OTHER');
    const c = await dispatch(makeIssue({ fingerprint: 'fp-a' }), { store, destination: other });
    t.deepEqual([a.action, bb.action, c.action], ['posted', 'posted', 'posted']);
    t.not(a.ref?.ts, bb.ref?.ts);
    t.is(destination.callsOf('postRoot').length, 2);
    t.is(other.callsOf('postRoot').length, 1);
  });
}
