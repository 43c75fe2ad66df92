// Folded repeats (an Event's count, a grouped storm): the one root message is edited to show the
// count and last time seen, at a bounded rate, never re-posted.
import test from 'ava';
import { renderRoot } from '../lib/adapters/slack/render-root.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { at, makeIssue } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';

const repeat = (count: number, minutes: number, objects?: number): Issue =>
  makeIssue({
    id: `event-rv-${count}`,
    fingerprint: 'backoff-checkout',
    occurrences: {
      count,
      lastSeen: at(minutes),
      ...(objects === undefined ? {} : { objects, sample: ['checkout-1', 'checkout-<!here>'] }),
    },
  });

test('dispatch: a growing count edits the root at most once per interval; the newest count is deferred, not lost', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  let clock = at(0);
  const deps = { store, destination, now: () => new Date(clock), minUpdateIntervalMs: 60_000 };
  t.is((await dispatch(repeat(1, 0), deps)).action, 'posted');

  clock = at(0.5);
  const early = await t.throwsAsync(dispatch(repeat(2, 0.5), deps), { instanceOf: ComeBackLater });
  t.is(early?.retryAfter, 30, 'come back when the next edit is allowed');
  clock = at(0.75);
  await t.throwsAsync(dispatch(repeat(3, 0.75), deps), { instanceOf: ComeBackLater });
  t.is((await dispatch(repeat(2, 0.5), deps)).action, 'unchanged', 'count 2 is superseded by the pending 3');

  clock = at(1.1);
  const retried = await dispatch(repeat(3, 0.75), deps);
  t.is(retried.action, 'updated', 'the deferred newest count reaches the root');
  t.is((await dispatch(repeat(3, 0.75), deps)).action, 'unchanged', 'its redelivery changes nothing');
  t.is((await dispatch(repeat(1, 0), deps)).action, 'unchanged', 'an older count never goes back');

  t.is(destination.callsOf('postRoot').length, 1, 'never posted again');
  const updates = destination.callsOf('updateRoot');
  t.is(updates.length, 1);
  t.is(updates[0]?.view?.occurrences?.count, 3);
});

test('dispatch: the root says how often and how many objects, escaped', (t) => {
  const issue = repeat(57, 2, 12);
  const render = renderRoot({
    issue,
    status: 'firing',
    firingSince: issue.startsAt,
    firingCount: 1,
    verdicts: [],
    ...(issue.occurrences ? { occurrences: issue.occurrences } : {}),
  });
  const json = JSON.stringify(render.attachments);
  t.regex(json, /Seen 57 times, last /);
  t.regex(json, /12 objects affected: checkout-1, checkout-&lt;!here&gt; \+10 more/);
  t.false(json.includes('<!here>'));
});

test('dispatch: when a folded repeat posted the root first, the enriched first occurrence still adds its details', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const deps = { store, destination, now: () => new Date(at(1)), minUpdateIntervalMs: 60_000 };
  // The repeat (count 2, straight from ingest) overtakes the first occurrence held up in enrich-pod.
  t.is((await dispatch(repeat(2, 0.5), deps)).action, 'posted');
  const enriched = makeIssue({
    id: 'event-rv-1',
    fingerprint: 'backoff-checkout',
    occurrences: { count: 1, lastSeen: at(0) },
    enrichments: [
      { source: 'enrich-pod', verdict: 'CrashLoopBackOff', blocks: [{ type: 'markdown', text: 'why' }] },
    ],
  });
  await dispatch(enriched, deps);
  t.is(destination.callsOf('postRoot').length, 1, 'no second root');
  t.is(destination.callsOf('postDetails').length, 1, 'the details reached the thread');
  await dispatch(enriched, deps);
  t.is(destination.callsOf('postDetails').length, 1, 'once');
});

test('dispatch: a resolution without a thread marks its root as continuing a lost one only when the alert is old', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const now = new Date(at(60));
  const deps = { store, destination, now: () => now };
  const old = makeIssue({ fingerprint: 'old', status: 'resolved', startsAt: at(0), endsAt: at(59) });
  const recent = makeIssue({ fingerprint: 'recent', status: 'resolved', startsAt: at(58), endsAt: at(59) });
  await dispatch(old, deps);
  await dispatch(recent, deps);
  const roots = destination.callsOf('postRoot');
  t.is(roots[0]?.view?.continuesEarlier, true, 'started an hour ago: its thread state was lost');
  t.is(roots[1]?.view?.continuesEarlier, undefined, 'started two minutes ago: a reordered delivery');
});
