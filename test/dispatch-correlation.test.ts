// Cross-source threading: an alert and a Kubernetes Event about the same workload end up in one
// Slack thread; issues of the same source keep their own threads.
import test from 'ava';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { correlationKey } from '../lib/stages/dispatch/correlation.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { at, makeIssue } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const alert = (pod: string, over: Partial<Issue> = {}) =>
  makeIssue({
    fingerprint: `alert-${pod}`,
    source: 'prometheus',
    type: 'alert',
    cluster: 'prod',
    subject: { kind: 'Pod', name: pod, namespace: 'shop' },
    startsAt: at(0),
    ...over,
  });
const event = (pod: string, over: Partial<Issue> = {}) =>
  makeIssue({
    id: `event-${pod}`,
    fingerprint: `event-${pod}`,
    source: 'kubernetes',
    type: 'event',
    cluster: 'prod',
    title: `BackOff: Pod shop/${pod}`,
    subject: { kind: 'Pod', name: pod, namespace: 'shop' },
    startsAt: at(1),
    ...over,
  });

test('correlation: pods of one Deployment share a key; other workloads and clusters do not', (t) => {
  const k = correlationKey(alert('checkout-7d9c8b6f5-x2x9k'));
  t.is(k, correlationKey(event('checkout-7d9c8b6f5-k7wzp')));
  t.is(
    k,
    correlationKey(
      makeIssue({ cluster: 'prod', subject: { kind: 'Deployment', name: 'checkout', namespace: 'shop' } }),
    ),
  );
  t.not(k, correlationKey(event('cart-5f6d7c8b9-zz9zz')));
  t.not(k, correlationKey(alert('checkout-7d9c8b6f5-x2x9k', { cluster: 'staging' })));
  t.is(correlationKey(makeIssue({ subject: { kind: 'Node', name: 'n1' } })), undefined);
});

test('correlation: an Event about the workload of a firing alert joins its thread; its resolution edits its own reply', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const deps = { store, destination, now: () => new Date(at(2)) };
  const a = await dispatch(alert('checkout-7d9c8b6f5-x2x9k'), deps);
  t.is(a.action, 'posted');
  const e = await dispatch(event('checkout-7d9c8b6f5-k7wzp'), deps);
  t.is(e.action, 'posted');
  t.is(destination.callsOf('postRoot').length, 1, 'one root for the workload');
  const linked = destination.callsOf('postLinked')[0];
  t.is(linked?.ref.threadTs, a.ref?.ts, 'the event posted its message in the alert thread');
  t.true(linked?.view?.linked);
  t.is(
    (await dispatch(event('checkout-7d9c8b6f5-k7wzp'), deps)).action,
    'unchanged',
    'a repeat adds nothing',
  );

  const resolved = event('checkout-7d9c8b6f5-k7wzp', {
    id: 'event-resolved',
    status: 'resolved',
    endsAt: at(3),
  });
  await dispatch(resolved, deps);
  const update = destination.callsOf('updateRoot').at(-1);
  t.is(update?.ref.ts, linked?.ref.ts, 'the resolution edits the event’s own message, not the alert’s root');
  const reply = destination.callsOf('postStatusReply').at(-1);
  t.is(reply?.ref.threadTs, a.ref?.ts, 'and replies in the shared thread');
});

test('correlation: two alerts about one workload keep their own threads; a resolved thread is not joined', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const deps = { store, destination, now: () => new Date(at(2)) };
  await dispatch(alert('checkout-7d9c8b6f5-x2x9k'), deps);
  await dispatch(
    alert('checkout-7d9c8b6f5-x2x9k', { id: 'other', fingerprint: 'alert-notready', title: 'NotReady' }),
    deps,
  );
  t.is(destination.callsOf('postRoot').length, 2, 'same source: separate messages');
  await dispatch(alert('checkout-7d9c8b6f5-x2x9k', { id: 'r1', status: 'resolved', endsAt: at(2) }), deps);
  await dispatch(
    alert('checkout-7d9c8b6f5-x2x9k', {
      id: 'r2',
      fingerprint: 'alert-notready',
      status: 'resolved',
      endsAt: at(2),
    }),
    deps,
  );
  await dispatch(event('checkout-7d9c8b6f5-k7wzp'), deps);
  t.is(
    destination.callsOf('postLinked').length,
    0,
    'the workload thread was resolved: the event opens its own',
  );
  t.is(destination.callsOf('postRoot').length, 3);
});

test('correlation: while the other source is opening the workload thread, a delivery is retried instead of racing it', async (t) => {
  const store = new MemoryStore();
  const destination = new RecordingDestination();
  const hold = destination.hold('postRoot');
  const deps = { store, destination, now: () => new Date(at(2)) };
  const first = dispatch(alert('checkout-7d9c8b6f5-x2x9k'), deps);
  await hold.reached;
  await t.throwsAsync(dispatch(event('checkout-7d9c8b6f5-k7wzp'), deps), {
    instanceOf: ComeBackLater,
  });
  hold.release();
  await first;
  await dispatch(event('checkout-7d9c8b6f5-k7wzp'), deps);
  t.is(destination.callsOf('postRoot').length, 1);
  t.is(destination.callsOf('postLinked').length, 1);
});

test('correlation: through the Slack Web API the event message, its details and its resolution stay in the alert thread', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const destination = new SlackDestination({ token: slack.token, channel: 'C0ALERTS', apiUrl: slack.url });
  const deps = { store: new MemoryStore(), destination, now: () => new Date(at(2)) };
  const a = await dispatch(alert('checkout-7d9c8b6f5-x2x9k'), deps);
  const withDetails = event('checkout-7d9c8b6f5-k7wzp', {
    enrichments: [
      { source: 'enrich-pod', verdict: 'CrashLoopBackOff', blocks: [{ type: 'markdown', text: 'exit 1' }] },
    ],
  });
  await dispatch(withDetails, deps);
  await dispatch(
    event('checkout-7d9c8b6f5-k7wzp', { id: 'event-resolved', status: 'resolved', endsAt: at(3) }),
    deps,
  );
  const messages = slack.messages.get('C0ALERTS') ?? [];
  t.is(messages.filter((m) => !m.thread_ts).length, 1, 'one root');
  const thread = slack.replies('C0ALERTS', a.ref?.ts ?? '');
  t.true(thread.length >= 3, 'event message, its details and its resolution reply are all in the thread');
  const own = thread[0];
  t.regex(JSON.stringify(own?.attachments), /RESOLVED/, 'the event message itself was edited to resolved');
  t.regex(JSON.stringify(own?.attachments), /Same workload as this thread/);
});
