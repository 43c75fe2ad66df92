// The in-process storm flusher: a summary with something left to show is shown as soon as it
// may change, without waiting for the deferred delivery's broker retry, and that delivery then
// finds nothing left to do.
import test from 'ava';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import type { Issue } from '../lib/domain/issue.ts';
import type { DispatchDeps } from '../lib/stages/dispatch/dispatcher.ts';
import { DEFAULT_STORM, type StormOptions } from '../lib/stages/dispatch/storm.ts';
import { createStormFlusher } from '../lib/stages/dispatch/storm-flusher.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { makeIssue } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';

// threshold 0: every new alert of the group folds; a short interval keeps the test quick.
const storm: StormOptions = { ...DEFAULT_STORM, threshold: 0, editIntervalMs: 150, replyLines: 20 };

const alert = (i: number, over: Partial<Parameters<typeof makeIssue>[0]> = {}): Issue =>
  makeIssue({
    fingerprint: `fp-${i}`,
    labels: { alertname: 'KubePodCrashLooping', namespace: 'payments', pod: `checkout-${i}` },
    subject: { kind: 'Pod', name: `checkout-${i}`, namespace: 'payments' },
    startsAt: new Date().toISOString(),
    ...over,
  });

function setup() {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const flusher = createStormFlusher({ store, storm: () => storm, stateTtlSeconds: 3600, lockTtlMs: 5000 });
  const deps: DispatchDeps = {
    store,
    destination,
    storm,
    onStormPending: (labels, inMs) => flusher.schedule(destination, labels, inMs),
  };
  /** Delivers like the broker's first attempt; a deferred delivery is remembered, not retried. */
  const deferred: Issue[] = [];
  const deliver = async (issue: Issue) => {
    try {
      await dispatch(issue, deps);
    } catch (err) {
      if (!(err instanceof ComeBackLater)) throw err;
      deferred.push(issue);
    }
  };
  return { store, destination, flusher, deps, deliver, deferred };
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

const lined = (d: RecordingDestination) =>
  new Set(d.callsOf('postSummaryLines').flatMap((c) => (c.lines ?? []).map((l) => l.fingerprint)));

test('flusher: every folded alert shows in the summary thread with no broker retry, and the final counts are edited in', async (t) => {
  const { destination, flusher, deps, deliver, deferred } = setup();
  for (let i = 0; i < 12; i++) await deliver(alert(i));
  t.true(deferred.length >= 1, 'one delivery was deferred for the summary');
  t.true(lined(destination).size < 12, 'inside the interval not everything is shown yet');

  t.true(await until(() => flusher.size() === 0), 'the flusher finished the group');
  t.deepEqual([...lined(destination)].sort(), Array.from({ length: 12 }, (_, i) => `fp-${i}`).sort());
  const last = destination.calls.filter((c) => c.summary).at(-1);
  t.is(last?.summary?.total, 12, 'the summary shows every alert');
  t.is(destination.callsOf('postSummary').length, 1);

  // The deferred delivery's retry comes back to a summary that shows everything: acknowledged,
  // and Slack sees nothing more.
  const before = destination.calls.length;
  for (const issue of deferred) await dispatch(issue, deps);
  t.is(destination.calls.length, before);
  await flusher.close();
});

test('flusher: the group resolving shows in the summary without any redelivery', async (t) => {
  const { destination, flusher, deliver } = setup();
  const startsAt = new Date().toISOString();
  for (let i = 0; i < 4; i++) await deliver(alert(i, { startsAt }));
  t.true(await until(() => flusher.size() === 0));
  for (let i = 0; i < 4; i++)
    await deliver(alert(i, { status: 'resolved', startsAt, endsAt: new Date().toISOString() }));
  t.true(await until(() => flusher.size() === 0));
  const last = destination.calls.filter((c) => c.summary).at(-1);
  t.is(last?.summary?.status, 'resolved');
  t.is(last?.summary?.resolved, 4);
  await flusher.close();
});

test('flusher: a failing Slack call is tried again later and the summary still completes', async (t) => {
  const { destination, flusher, deliver } = setup();
  await deliver(alert(0));
  for (let i = 1; i < 6; i++) await deliver(alert(i));
  destination.failNext('postSummaryLines');
  t.true(await until(() => flusher.size() === 0, 8000), 'retried after the failure');
  t.is(lined(destination).size, 6);
  await flusher.close();
});

test('flusher: closing stops it; what is left stays recorded for the deferred delivery', async (t) => {
  const { destination, flusher, deps, deliver, deferred } = setup();
  for (let i = 0; i < 6; i++) await deliver(alert(i));
  await flusher.close();
  const shown = lined(destination).size;
  await new Promise((r) => setTimeout(r, 400));
  t.is(lined(destination).size, shown, 'nothing flushed after close');
  t.true(shown < 6);
  // The broker's retry of the deferred delivery finishes the job.
  for (const issue of deferred) await dispatch(issue, deps).catch(() => undefined);
  t.is(lined(destination).size, 6);
});
