// The ingest logic over real-shaped ApiServerSource deliveries (Events and Pods, added, updated,
// deleted): what becomes an issue, how repeats fold, how pods recover. In-memory store.
import test from 'ava';
import { Issue } from '../lib/domain/issue.ts';
import type { StateStore } from '../lib/domain/state-store.ts';
import { filterFromSettings } from '../lib/stages/ingest/filter.ts';
import { type IngestDeps, type IngestResult, ingest } from '../lib/stages/ingest/ingest.ts';
import { workloadOfObject } from '../lib/stages/ingest/workload.ts';
import {
  at,
  fixture,
  memoryStore,
  repeatOf,
  type SourceEvent,
  settings,
} from './fixtures/apiserversource/load.ts';

function deps(store: StateStore, seconds: number, over: Partial<IngestDeps['settings']> = {}): IngestDeps {
  return { store, now: () => at(seconds), settings: settings(over) };
}

async function run(e: SourceEvent, d: IngestDeps): Promise<IngestResult> {
  return ingest({ type: e.type, data: structuredClone(e.data) }, d);
}

function issueOf(r: IngestResult) {
  if (!r.issue) throw new Error(`no issue: ${r.skipped}`);
  // Whatever goes out must pass the schema every later stage parses with.
  return Issue.parse(r.issue);
}

test('events: a BackOff Event becomes a crash-loop issue about its Deployment, subject the pod, first occurrence enriched', async (t) => {
  const issue = issueOf(await run(fixture('event-backoff-add'), deps(memoryStore(), 0)));
  t.is(issue.title, 'CrashLoopBackOff: Deployment shop/checkout');
  t.is(issue.severity, 'HIGH');
  t.is(issue.source, 'kubernetes');
  t.is(issue.type, 'event');
  t.is(issue.cluster, 'prod-eu');
  t.deepEqual(issue.subject, {
    kind: 'Pod',
    name: 'checkout-7d9f8b6c5-x2k4q',
    namespace: 'shop',
    node: 'worker-2',
    container: 'api',
  });
  t.like(issue.labels, {
    reason: 'CrashLoopBackOff',
    k8sreason: 'BackOff',
    deployment: 'checkout',
    namespace: 'shop',
  });
  t.deepEqual(issue.plan, ['enrichpod', 'dispatch']);
  t.deepEqual(issue.occurrences, { count: 1, lastSeen: '2026-03-01T09:59:31.000Z' });
  t.is(issue.startsAt, '2026-03-01T09:59:31.000Z');
  t.regex(issue.description ?? '', /Back-off restarting failed container api/);
});

test('events: count increments of one Event fold into the same issue; a redelivery rebuilds the same issue', async (t) => {
  const store = memoryStore();
  const add = fixture('event-backoff-add');
  const first = issueOf(await run(add, deps(store, 0)));
  const update = fixture('event-backoff-update');
  const second = issueOf(await run(update, deps(store, 5)));
  t.is(second.fingerprint, first.fingerprint, 'one thread');
  t.is(second.startsAt, first.startsAt, 'one period: dispatch edits, never re-posts');
  t.not(second.id, first.id);
  t.is(second.occurrences?.count, 2);
  t.is(second.occurrences?.lastSeen, '2026-03-01T10:00:00.000Z');
  t.deepEqual(second.plan, ['dispatch'], 'repeats skip the enrichers');
  // The source sends the same object version again under a new CloudEvent id: nothing new.
  const again = await run({ ...update, id: 'another-ce-id' }, deps(store, 9));
  t.deepEqual(issueOf(again), second, 'the same issue again (its first reply may have been lost)');
  t.is('fresh' in again && again.fresh, false, 'counted once');
  const third = issueOf(await run(repeatOf(update, 6, 52200, '2026-03-01T10:00:10Z'), deps(store, 10)));
  t.is(third.occurrences?.count, 3, 'each new resourceVersion counts once');
});

test('events: an events.k8s.io/v1 FailedScheduling Event uses regarding, note and series, grouped by StatefulSet', async (t) => {
  const issue = issueOf(await run(fixture('event-failedscheduling-eventsv1'), deps(memoryStore(), 0)));
  t.is(issue.title, 'FailedScheduling: StatefulSet search/search');
  t.is(issue.severity, 'LOW');
  t.is(issue.subject.name, 'search-0');
  t.regex(issue.description ?? '', /Insufficient memory/);
  t.is(issue.occurrences?.lastSeen, '2026-03-01T09:59:40.118Z');
  t.is(issue.labels.statefulset, 'search');
});

test('events: a node going NotReady (a Normal Event) is a HIGH node issue for enrich-node', async (t) => {
  const issue = issueOf(await run(fixture('event-nodenotready'), deps(memoryStore(), 0)));
  t.is(issue.title, 'NodeNotReady: Node worker-3');
  t.is(issue.severity, 'HIGH');
  t.deepEqual(issue.subject, { kind: 'Node', name: 'worker-3', node: 'worker-3' });
  t.deepEqual(issue.plan, ['enrichnode', 'dispatch']);
});

test('events: Normal Events, excluded reasons, deletions and old Events make no issue', async (t) => {
  const store = memoryStore();
  t.is((await run(fixture('event-normal-pulled'), deps(store, 0))).skipped, 'filtered out by type');
  t.is((await run(fixture('event-dnsconfigforming'), deps(store, 0))).skipped, 'filtered out by reason');
  t.is((await run(fixture('event-backoff-delete'), deps(store, 0))).skipped, 'Event deleted');
  // A restarted source (or a late redelivery) brings an Event last seen 11 minutes ago.
  t.is(
    (await run(fixture('event-backoff-update'), deps(store, 660))).skipped,
    'older than MAX_EVENT_AGE_SECONDS',
  );
  const other = await ingest(
    { type: 'dev.knative.apiserver.resource.update', data: { kind: 'ConfigMap' } },
    deps(store, 0),
  );
  t.is(other.skipped, 'kind ConfigMap not handled');
});

test('events: include and exclude by namespace (with prefixes), kind and reason', async (t) => {
  const backoff = fixture('event-backoff-add');
  const with_ = (env: Record<string, string>) =>
    deps(memoryStore(), 0, {
      filter: filterFromSettings({ EVENT_TYPES: 'Warning', EVENT_REASONS_EXCLUDE: '', ...env }),
    });
  t.is(
    (await run(backoff, with_({ EVENT_NAMESPACES_EXCLUDE: 'kube-*,sh*' }))).skipped,
    'filtered out by namespace',
  );
  t.truthy((await run(backoff, with_({ EVENT_NAMESPACES_INCLUDE: 'shop' }))).issue);
  t.is(
    (await run(backoff, with_({ EVENT_NAMESPACES_INCLUDE: 'payments' }))).skipped,
    'filtered out by namespace',
  );
  t.truthy(
    (await run(fixture('event-nodenotready'), with_({ EVENT_NAMESPACES_INCLUDE: 'payments' }))).issue,
    'nodes have no namespace: namespace rules leave them alone',
  );
  t.is(
    (await run(fixture('event-nodenotready'), with_({ EVENT_KINDS_EXCLUDE: 'Node' }))).skipped,
    'filtered out by kind',
  );
  t.is(
    (await run(backoff, with_({ EVENT_REASONS_EXCLUDE: 'BackOff' }))).skipped,
    'filtered out by reason',
    'raw reason',
  );
  t.is(
    (await run(backoff, with_({ EVENT_REASONS_EXCLUDE: 'CrashLoopBackOff' }))).skipped,
    'filtered out by reason',
    'canonical reason',
  );
  t.truthy((await run(fixture('event-normal-pulled'), with_({ EVENT_TYPES: 'Warning,Normal' }))).issue);
});

test('pods: a new crash from Pod state folds into the same thread as the BackOff Event about it; ordinary updates never re-report', async (t) => {
  const store = memoryStore();
  const fromEvent = issueOf(await run(fixture('event-backoff-add'), deps(store, 0)));
  const crash = fixture('pod-crashloop-update');
  const fromPod = issueOf(await run(crash, deps(store, 1)));
  t.is(fromPod.fingerprint, fromEvent.fingerprint);
  t.is(fromPod.startsAt, fromEvent.startsAt);
  t.is(fromPod.occurrences?.count, 2);
  t.regex(fromPod.description ?? '', /crash-looping \(last exit: Error, exit code 1\); 3 restarts/);
  // The same state in a later object version (a condition changed): no new crash, no issue.
  const ordinary = structuredClone(crash);
  ordinary.data.metadata.resourceVersion = '52130';
  ordinary.data.status.conditions[0].lastTransitionTime = '2026-03-01T10:00:02Z';
  t.is((await run(ordinary, deps(store, 2))).skipped, 'already reported');
  // The next restart is a new crash.
  const next = structuredClone(crash);
  next.data.metadata.resourceVersion = '52300';
  next.data.status.containerStatuses[0].restartCount = 4;
  next.data.status.containerStatuses[0].lastState.terminated.finishedAt = '2026-03-01T10:00:20Z';
  t.is(issueOf(await run(next, deps(store, 21))).occurrences?.count, 3);
});

test('pods: an OOM kill is reported once per killed container, with its exit code', async (t) => {
  const store = memoryStore();
  const oom = fixture('pod-oomkilled-update');
  const issue = issueOf(await run(oom, deps(store, 0)));
  t.is(issue.title, 'OOMKilled: Deployment shop/checkout');
  t.is(issue.severity, 'HIGH');
  t.regex(issue.description ?? '', /OOMKilled, exit code 137/);
  const later = structuredClone(oom);
  later.data.metadata.resourceVersion = '52199';
  later.data.status.containerStatuses[0].ready = true;
  t.is((await run(later, deps(store, 30))).skipped, 'already reported');
  t.is(
    (await run(oom, deps(memoryStore(), 700))).skipped,
    'no failure transition',
    'an old kill is old news',
  );
});

test('pods: an image pull is reported only once it has failed past the grace period', async (t) => {
  const pull = fixture('pod-imagepull-update');
  // Started 09:50 and never ran: pulling for 10 minutes by 10:00.
  const issue = issueOf(await run(pull, deps(memoryStore(), 0)));
  t.is(issue.title, 'ImagePullBackOff: Deployment shop/ledger');
  t.regex(issue.description ?? '', /cannot pull registry\.example\.com\/shop\/ledger:3\.0\.0-rc1/);
  t.is(
    (await run(pull, deps(memoryStore(), -500))).skipped,
    'no failure transition',
    '100 s in: within grace',
  );

  // A container that ran before: the pull started when we first saw it waiting.
  const store = memoryStore();
  const rerun = structuredClone(pull);
  rerun.data.status.containerStatuses[0].restartCount = 1;
  t.truthy((await run(rerun, deps(store, 0))).skipped);
  rerun.data.metadata.resourceVersion = '52400';
  t.truthy((await run(rerun, deps(store, 120))).skipped, 'still within grace');
  rerun.data.metadata.resourceVersion = '52500';
  t.is(issueOf(await run(rerun, deps(store, 181))).labels.reason, 'ImagePullBackOff');
});

test('pods: an evicted pod is a HIGH issue with the kubelet’s reason', async (t) => {
  const issue = issueOf(await run(fixture('pod-evicted-update'), deps(memoryStore(), 0)));
  t.is(issue.title, 'Evicted: Deployment shop/reports');
  t.is(issue.severity, 'HIGH');
  t.regex(issue.description ?? '', /low on resource: memory/);
  t.deepEqual(issue.plan, ['enrichpod', 'dispatch']);
});

test('pods: a crash-looping pod that stays Ready again resolves its issue; the broker is the timer', async (t) => {
  const store = memoryStore();
  const firing = issueOf(await run(fixture('pod-crashloop-update'), deps(store, 0)));
  const ready = fixture('pod-ready-update');
  // Ready at 10:00:30: too early to call it recovered; come back when 300 s have passed.
  const early = await run(ready, deps(store, 41));
  t.deepEqual(early, {
    retryLater: { afterMs: 289_000, reason: 'pod Ready again: waiting to see it stay Ready' },
  });
  const resolved = issueOf(await run(ready, deps(store, 331)));
  t.is(resolved.status, 'resolved');
  t.is(resolved.fingerprint, firing.fingerprint);
  t.is(resolved.startsAt, firing.startsAt, 'resolves the period it fired in');
  t.is(resolved.endsAt, '2026-03-01T10:00:30.000Z');
  t.regex(resolved.description ?? '', /Pod checkout-7d9f8b6c5-x2k4q recovered: Ready again/);
  t.deepEqual(issueOf(await run(ready, deps(store, 400))), resolved, 'a redelivery says the same');

  // Crashing again later starts a new period in the same thread (a re-fire).
  const again = fixture('pod-crashloop-update');
  again.data.metadata.resourceVersion = '53000';
  again.data.status.containerStatuses[0].restartCount = 5;
  again.data.status.containerStatuses[0].lastState.terminated.finishedAt = '2026-03-01T10:06:00Z';
  const refire = issueOf(await run(again, deps(store, 361)));
  t.is(refire.fingerprint, firing.fingerprint);
  t.is(refire.startsAt, '2026-03-01T10:06:00.000Z');
  t.is(refire.occurrences?.count, 1);
});

test('pods: Ready for a moment and crashing again is not a recovery', async (t) => {
  const store = memoryStore();
  await run(fixture('pod-crashloop-update'), deps(store, 0));
  const crashAfterStart = fixture('pod-crashloop-update');
  crashAfterStart.data.metadata.resourceVersion = '52500';
  crashAfterStart.data.status.containerStatuses[0].restartCount = 4;
  crashAfterStart.data.status.containerStatuses[0].lastState.terminated.finishedAt = '2026-03-01T10:01:00Z';
  await run(crashAfterStart, deps(store, 61));
  // The Ready update from 10:00:30, redelivered by the broker after the wait: it crashed since.
  t.is((await run(fixture('pod-ready-update'), deps(store, 331))).skipped, 'no failure transition');
});

test('pods: when every affected pod is back or deleted, the workload’s issue resolves', async (t) => {
  const store = memoryStore();
  await run(fixture('pod-crashloop-update'), deps(store, 0));
  const other = fixture('pod-crashloop-update');
  other.data.metadata.name = 'checkout-7d9f8b6c5-b8zlp';
  other.data.metadata.uid = '0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a';
  const second = issueOf(await run(other, deps(store, 1)));
  t.like(second.occurrences, {
    count: 2,
    objects: 2,
    sample: ['checkout-7d9f8b6c5-x2k4q', 'checkout-7d9f8b6c5-b8zlp'],
  });
  t.is(issueOf(await run(other, deps(store, 2))).id, second.id);
  t.is(
    (await run(fixture('pod-ready-update'), deps(store, 331))).skipped,
    'no failure transition',
    'one of two back',
  );
  const deleted = structuredClone(other);
  deleted.type = 'dev.knative.apiserver.resource.delete';
  deleted.data.metadata.deletionTimestamp = '2026-03-01T10:07:00Z';
  const resolved = issueOf(await run(deleted, deps(store, 430)));
  t.is(resolved.status, 'resolved');
  t.is(resolved.endsAt, '2026-03-01T10:07:00.000Z');
  t.regex(
    resolved.description ?? '',
    /All 2 affected pods recovered: the last one, checkout-7d9f8b6c5-b8zlp, was deleted/,
  );
  t.is(
    (await run(fixture('pod-delete'), deps(memoryStore(), 0))).skipped,
    'Pod deleted',
    'a healthy pod leaving is nothing',
  );
});

test('workloads: generated pod and ReplicaSet names lead to their Deployment, StatefulSet or CronJob', (t) => {
  t.deepEqual(workloadOfObject('Pod', 'checkout-7d9f8b6c5-x2k4q', 'shop'), {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
  });
  t.deepEqual(workloadOfObject('ReplicaSet', 'checkout-7d9f8b6c5', 'shop'), {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
  });
  t.deepEqual(workloadOfObject('Pod', 'search-12', 'search'), {
    kind: 'StatefulSet',
    name: 'search',
    namespace: 'search',
  });
  t.deepEqual(workloadOfObject('Pod', 'nightly-29530140-x7kq2', 'batch'), {
    kind: 'CronJob',
    name: 'nightly',
    namespace: 'batch',
  });
  t.deepEqual(workloadOfObject('Job', 'nightly-29530140', 'batch'), {
    kind: 'CronJob',
    name: 'nightly',
    namespace: 'batch',
  });
  t.deepEqual(workloadOfObject('Pod', 'fluent-bit-x7kq2', 'logging'), {
    kind: 'Workload',
    name: 'fluent-bit',
    namespace: 'logging',
  });
  t.deepEqual(workloadOfObject('Pod', 'debug', 'shop'), { kind: 'Pod', name: 'debug', namespace: 'shop' });
});
