// The demo's recorded cluster (scripts/demo/cluster/) stays shaped like real API objects: each one
// is validated against the upstream OpenAPI schemas (kubernetes-models), it holds every trouble
// the demo shows, and the alerts and Events the demo fires name objects that exist in it.
import test from 'ava';
import { Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { Event, Node, PersistentVolumeClaim, Pod } from 'kubernetes-models/v1';
import { CLUSTER_DIR, loadDemoCluster, RECORDED_AT, shiftTimes } from '../scripts/demo/cluster.ts';
import { DEMO_ALERTS, DEMO_EVENTS, sourceEventFor, webhookFor } from '../scripts/demo/fire.ts';
import type { Obj } from '../scripts/kube-standin/api.ts';
import { loadKubeFixtures } from '../scripts/kube-standin/server.ts';

const recorded = await loadKubeFixtures(CLUSTER_DIR);

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  ReplicaSet,
  StatefulSet,
};

test('demo cluster: every object validates against its Kubernetes schema', (t) => {
  const check = (o: Obj, Model: new (data: never) => { validate(): void }) =>
    t.notThrows(() => new Model(o as never).validate(), `${o.kind}/${o.metadata?.name}`);
  for (const p of recorded.pods) check(p, Pod);
  for (const n of recorded.nodes) check(n, Node);
  for (const e of recorded.events) check(e, Event);
  for (const pvc of recorded.persistentVolumeClaims) check(pvc, PersistentVolumeClaim);
  for (const w of recorded.workloads) {
    const Model = MODELS[w.kind];
    if (!Model) return t.fail(`no schema for ${w.kind}`);
    check(w, Model);
  }
  // The check is real: a wrongly typed field fails it.
  const pod = structuredClone(recorded.pods[0]) as Obj;
  pod.status.containerStatuses[0].restartCount = 'five';
  t.throws(() => new Pod(pod as never).validate());
});

test('demo cluster: it holds each trouble the demo shows', (t) => {
  const pod = (name: string) => recorded.pods.find((p) => p.metadata.name === name) as Obj;
  const statuses = (p: Obj) => [
    ...(p.status.containerStatuses ?? []),
    ...(p.status.initContainerStatuses ?? []),
  ];
  // A crash loop with the previous instance's log.
  const api = statuses(pod('api-7d9f8b6c5d-x2x4q'))[0];
  t.is(api.state.waiting?.reason, 'CrashLoopBackOff');
  t.regex(recorded.logs['payments/api-7d9f8b6c5d-x2x4q/app']?.previous ?? '', /FATAL could not connect/);
  // An OOM kill.
  t.is(statuses(pod('worker-5c8d7f9b4-k7wzp'))[0].lastState.terminated?.reason, 'OOMKilled');
  // An image that does not exist.
  t.true(
    statuses(pod('cart-5d4c8b7f6-qz8mn')).some((s: Obj) => s.state.waiting?.reason === 'ImagePullBackOff'),
  );
  t.true(recorded.events.some((e) => /busybox:1\.99.*not found/.test(e.message)));
  // A pod that cannot be scheduled.
  t.true(pod('search-2').status.conditions.some((c: Obj) => c.reason === 'Unschedulable'));
  // A NotReady node.
  const worker2 = recorded.nodes.find((n) => n.metadata.name === 'worker-2') as Obj;
  t.not(worker2.status.conditions.find((c: Obj) => c.type === 'Ready').status, 'True');
  // A rollout that broke things: two ReplicaSets of one Deployment, the new one's pods failing.
  const dep = recorded.workloads.find(
    (w) => w.kind === 'Deployment' && w.metadata.name === 'checkout',
  ) as Obj;
  t.is(dep.status.conditions.find((c: Obj) => c.type === 'Progressing').reason, 'ProgressDeadlineExceeded');
  const sets = recorded.workloads.filter(
    (w) =>
      w.kind === 'ReplicaSet' && w.metadata.ownerReferences?.some((r: Obj) => r.uid === dep.metadata.uid),
  );
  t.deepEqual(sets.map((s) => s.metadata.annotations['deployment.kubernetes.io/revision']).sort(), [
    '6',
    '7',
  ]);
  for (const s of sets) {
    const owned = recorded.pods.filter((p) =>
      p.metadata.ownerReferences?.some((r: Obj) => r.uid === s.metadata.uid),
    );
    t.is(owned.length, s.spec.replicas, s.metadata.name);
    for (const p of owned)
      t.is(p.metadata.labels['pod-template-hash'], s.spec.selector.matchLabels['pod-template-hash']);
  }
});

test('demo cluster: the alerts and Events the demo fires name objects of the cluster', (t) => {
  const now = new Date();
  for (const a of DEMO_ALERTS) {
    const body = webhookFor(a, now);
    t.is(body.version, '4');
    t.is(body.alerts[0].endsAt, '0001-01-01T00:00:00Z');
    const { pod, node, deployment, namespace } = a.labels;
    if (pod)
      t.truthy(
        recorded.pods.find((p) => p.metadata.name === pod && p.metadata.namespace === namespace),
        pod,
      );
    if (node)
      t.truthy(
        recorded.nodes.find((n) => n.metadata.name === node),
        node,
      );
    if (deployment)
      t.truthy(recorded.workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === deployment));
  }
  for (const name of DEMO_EVENTS) {
    const e = recorded.events.find((x) => x.metadata.name === name) as Obj;
    t.truthy(e, name);
    const ce = sourceEventFor(e, now);
    t.is(ce.type, 'dev.knative.apiserver.resource.update');
    t.notThrows(() => new Event(ce.data as never).validate());
    t.is((ce.data as Obj).count, e.count + 1);
  }
});

test('demo cluster: timestamps move so the recording moment is now; everything else is untouched', async (t) => {
  const now = new Date('2027-01-01T00:00:00Z');
  const shifted = await loadDemoCluster(now);
  const ms = now.getTime() - Date.parse(RECORDED_AT);
  const api = shifted.pods.find((p) => p.metadata.name === 'api-7d9f8b6c5d-x2x4q') as Obj;
  const orig = recorded.pods.find((p) => p.metadata.name === 'api-7d9f8b6c5d-x2x4q') as Obj;
  t.is(Date.parse(api.metadata.creationTimestamp), Date.parse(orig.metadata.creationTimestamp) + ms);
  t.regex(api.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'whole seconds stay whole');
  t.deepEqual(shiftTimes({ a: ['2026-03-10T11:00:00.123456Z', 'not a time', 3] }, 1000), {
    a: ['2026-03-10T11:00:01.123456Z', 'not a time', 3],
  });
  t.is(shiftTimes('2026-03-10T11:00:00.500Z', 1000), '2026-03-10T11:00:01.500Z');
  t.is(api.metadata.name, orig.metadata.name);
  t.deepEqual(shifted.logs, recorded.logs);
});
