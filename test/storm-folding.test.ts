// Storm folding in dispatch: past N new alerts of a group within the window, alerts become lines
// of one summary (edited at a bounded rate) instead of threads of their own, and none is lost.
import test from 'ava';
import { renderSummary, renderSummaryLines } from '../lib/adapters/slack/render-summary.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import type { SummaryView } from '../lib/domain/destination.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { createChannelBucket } from '../lib/stages/dispatch/channel-bucket.ts';
import type { DispatchDeps } from '../lib/stages/dispatch/dispatcher.ts';
import { DEFAULT_STORM, type StormOptions } from '../lib/stages/dispatch/storm.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { at, makeIssue, T0 } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { messageError } from './support/slack-standin.ts';

const storm: StormOptions = { ...DEFAULT_STORM, threshold: 5, editIntervalMs: 10_000, replyLines: 20 };

const alert = (i: number, over: Partial<Parameters<typeof makeIssue>[0]> = {}): Issue =>
  makeIssue({
    fingerprint: `fp-${i}`,
    labels: { alertname: 'KubePodCrashLooping', namespace: 'payments', pod: `checkout-${i}` },
    subject: { kind: 'Pod', name: `checkout-${i}`, namespace: 'payments' },
    ...over,
  });

function setup(extra: Partial<DispatchDeps> = {}) {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  let clock = Date.parse(T0);
  const deps: DispatchDeps = { store, destination, now: () => new Date(clock), storm, ...extra };
  return {
    store,
    destination,
    deps,
    advance: (seconds: number) => {
      clock += seconds * 1000;
    },
  };
}

/** Fingerprints visible in Slack: own roots, and lines in summary threads. */
function accounted(d: RecordingDestination): Set<string> {
  const seen = new Set<string>();
  for (const c of d.callsOf('postRoot')) if (c.view) seen.add(c.view.issue.fingerprint);
  for (const c of d.callsOf('postSummaryLines')) for (const l of c.lines ?? []) seen.add(l.fingerprint);
  return seen;
}

test('storm: past N new alerts of a group, the rest fold into one summary whose thread lists each of them', async (t) => {
  const { destination, deps, advance } = setup();
  for (let i = 0; i < 5; i++) t.is((await dispatch(alert(i), deps)).action, 'posted');
  const sixth = await dispatch(alert(5), deps);
  t.is(sixth.action, 'replied', 'the sixth is a line of the summary');
  t.is(destination.callsOf('postSummary').length, 1);
  t.is(destination.callsOf('postRoot').length, 5, 'no thread of its own');

  advance(1);
  const seventh = await t.throwsAsync(dispatch(alert(6), deps), { instanceOf: ComeBackLater });
  t.is(seventh?.retryAfter, 9, 'one delivery comes back when the summary may change again');
  const eighth = await dispatch(alert(7), deps);
  t.is(eighth.reason, 'folded into a storm summary', 'the others are acknowledged: already recorded');
  t.is(destination.callsOf('updateSummary').length, 0, 'no edit inside the interval');

  advance(9);
  await dispatch(alert(6), deps);
  const edits = destination.callsOf('updateSummary');
  t.is(edits.length, 1, 'the deferred delivery edits the summary once');
  t.is(edits[0]?.summary?.total, 8, 'the storm counts its first five, posted on their own, too');
  t.is(edits[0]?.summary?.own, 5);
  t.is(edits[0]?.summary?.firing, 3);
  t.regex(renderSummary(edits[0]?.summary as SummaryView).text, /^Storm: 8 alerts /);
  t.deepEqual(
    [...accounted(destination)].sort(),
    Array.from({ length: 8 }, (_, i) => `fp-${i}`).sort(),
    'every alert is a thread or a line',
  );
  t.true(destination.callsOf('postSummaryLines').every((c) => c.ref.ts === sixth.ref?.ts));
});

test('storm: a redelivered folded alert changes nothing and calls Slack for nothing', async (t) => {
  const { destination, deps } = setup();
  for (let i = 0; i < 6; i++) await dispatch(alert(i), deps);
  const before = destination.calls.length;
  const again = await dispatch(alert(5), deps);
  t.is(again.action, 'unchanged');
  t.is(again.reason, 'already in a storm summary');
  t.is(destination.calls.length, before);
});

test('storm: resolutions show in the summary, which turns resolved when the whole group is', async (t) => {
  const { destination, deps, advance } = setup({ storm: { ...storm, threshold: 0 } });
  // threshold 0: every new alert of the group folds, so the whole group is one summary.
  for (let i = 0; i < 3; i++) await dispatch(alert(i), deps).catch(() => undefined);
  advance(11);
  for (let i = 0; i < 3; i++) {
    await dispatch(alert(i, { status: 'resolved', endsAt: at(5) }), deps).catch(() => undefined);
  }
  advance(11);
  await dispatch(alert(2, { status: 'resolved', endsAt: at(5) }), deps);
  const last = destination.calls.filter((c) => c.summary).at(-1);
  t.is(last?.summary?.status, 'resolved');
  t.is(last?.summary?.resolved, 3);
  t.is(destination.callsOf('postRoot').length, 0);
  const text = JSON.stringify(renderSummary(last?.summary as NonNullable<typeof last>['summary'] & object));
  t.regex(text, /RESOLVED/);
});

test('storm: a batch longer than the reply limit goes into the thread as a file', async (t) => {
  const { destination, deps, advance } = setup({ storm: { ...storm, threshold: 0, replyLines: 3 } });
  await dispatch(alert(0), deps);
  advance(1);
  for (let i = 1; i <= 6; i++) await dispatch(alert(i), deps).catch(() => undefined);
  advance(10);
  await dispatch(alert(1), deps);
  const batches = destination.callsOf('postSummaryLines');
  t.deepEqual(
    batches.map((b) => [b.lines?.length, b.asFile]),
    [
      [1, false],
      [6, true],
    ],
  );
  t.is(accounted(destination).size, 7);
});

test('storm: a new alert meeting its channel at its rate waits for its turn and is posted whole, not folded', async (t) => {
  const store = new MemoryStore();
  let clock = Date.parse(T0);
  const destination = new RecordingDestination();
  destination.bucket = createChannelBucket(store, { perSecond: 1, burst: 1 }, () => clock);
  const deps: DispatchDeps = {
    store,
    destination,
    now: () => new Date(clock),
    storm: { ...storm, threshold: 100 },
  };
  t.is((await dispatch(alert(0), deps)).action, 'posted');
  const err = await t.throwsAsync(dispatch(alert(1), deps), { instanceOf: ComeBackLater });
  t.is(err?.retryAfter, 2, "told to come back at its turn, no sooner than the broker's first retry");
  t.regex(err?.message ?? '', /turn in the channel/);
  const third = await t.throwsAsync(dispatch(alert(2), deps), { instanceOf: ComeBackLater });
  t.is(third?.retryAfter, 3, 'the next one queues behind it');
  clock += 2000;
  t.is((await dispatch(alert(1), deps)).action, 'posted');
  clock += 1000;
  t.is((await dispatch(alert(2), deps)).action, 'posted');
  t.is(destination.callsOf('postRoot').length, 3);
  t.is(destination.callsOf('postSummary').length, 0, 'no summary');
});

test('storm: summary and thread batches stay within Slack limits and escape what alerts carry', (t) => {
  const lines = Array.from({ length: 20 }, (_, i) => ({
    object: `pod-<!channel>-${i}-${'x'.repeat(200)}`,
    severity: 'HIGH' as const,
    status: 'firing' as const,
    since: T0,
    title: `<@U123> & ${'y'.repeat(300)}`,
    fingerprint: `f${i}`,
  }));
  const view: SummaryView = {
    kind: 'storm',
    own: 0,
    sample: [],
    labels: { alertname: '<!here>', namespace: 'payments' },
    status: 'firing' as const,
    severity: 'HIGH' as const,
    total: 500,
    firing: 400,
    resolved: 100,
    firstSeen: T0,
    lastSeen: at(1),
    byObject: Array.from({ length: 300 }, (_, i): [string, number, number] => [`pod-${i}`, 1, 0]),
    bySeverity: [['HIGH', 500]] as Array<['HIGH', number]>,
    title: 'crash <!everyone>',
  };
  const root = renderSummary(view);
  t.is(messageError({ text: root.text, attachments: root.attachments }), undefined);
  const reply = renderSummaryLines(lines);
  t.is(messageError({ text: reply.text, blocks: reply.blocks }), undefined);
  const all = JSON.stringify([root, reply]);
  t.false(/<!(channel|here|everyone)>|<@U/.test(all), 'no mention survives');
  t.regex(JSON.stringify(root), /285 more objects/);
});
