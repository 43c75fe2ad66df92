// Folded repeats (an Event's count, a grouped storm): the one root message is edited to show the
// count and last time seen, at a bounded rate, never re-posted.
import test from 'ava';
import { dispatchIssue } from '../lib/dispatch/dispatcher.ts';
import { RecordingDestination } from '../lib/dispatch/recording-destination.ts';
import type { Issue } from '../lib/issue.ts';
import { renderRoot } from '../lib/slack/render-root.ts';
import { MemoryStore } from '../lib/store/memory.ts';
import { at, makeIssue } from './support/issue-factory.ts';

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

test('dispatch: repeats with a growing count edit the root at most once per interval and never post again', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  let clock = at(0);
  const deps = { store, destination, now: () => new Date(clock), minUpdateIntervalMs: 60_000 };
  t.is((await dispatchIssue(repeat(1, 0), deps)).action, 'posted');
  clock = at(0.5);
  t.is((await dispatchIssue(repeat(2, 0.5), deps)).action, 'unchanged', 'inside the interval: no edit');
  clock = at(1.5);
  t.is(
    (await dispatchIssue(repeat(5, 1.5), deps)).action,
    'updated',
    'after the interval the root shows the count',
  );
  t.is(
    (await dispatchIssue(repeat(5, 1.5), deps)).action,
    'unchanged',
    'the same delivery again changes nothing',
  );
  clock = at(3);
  t.is(
    (await dispatchIssue(repeat(5, 3), deps)).action,
    'unchanged',
    'an unchanged count is no reason to edit',
  );
  t.is(destination.callsOf('postRoot').length, 1);
  const updates = destination.callsOf('updateRoot');
  t.is(updates.length, 1);
  t.is(updates[0]?.view?.occurrences?.count, 5);
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
