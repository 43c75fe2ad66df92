// The Kubernetes fixtures must stay shaped like real API objects: each one is validated against
// the upstream OpenAPI schemas (kubernetes-models), so a hand edit cannot drift unnoticed.
import test from 'ava';
import { Event, Node, Pod } from 'kubernetes-models/v1';
import { loadKubeFixtures } from './support/kube-standin.ts';

const fixtures = await loadKubeFixtures();

test('k8s fixtures: every Pod fixture validates against the core/v1 Pod schema', (t) => {
  t.true(fixtures.pods.length >= 4);
  for (const pod of fixtures.pods) {
    t.notThrows(() => new Pod(pod as never).validate(), pod.metadata.name);
    t.is(pod.kind, 'Pod');
    t.truthy(pod.metadata.uid && pod.metadata.resourceVersion && pod.metadata.creationTimestamp);
  }
});

test('k8s fixtures: every Node fixture validates against the core/v1 Node schema', (t) => {
  t.true(fixtures.nodes.length >= 1);
  for (const node of fixtures.nodes)
    t.notThrows(() => new Node(node as never).validate(), node.metadata.name);
});

test('k8s fixtures: every Event fixture validates against the core/v1 Event schema', (t) => {
  t.true(fixtures.events.length >= 3);
  for (const ev of fixtures.events) t.notThrows(() => new Event(ev as never).validate(), ev.metadata.name);
});

test('k8s fixtures: the schema check catches a wrongly typed field', (t) => {
  const pod = structuredClone(fixtures.pods[0]) as {
    status: { containerStatuses: Array<Record<string, unknown>> };
  };
  (pod.status.containerStatuses[0] as Record<string, unknown>).restartCount = 'five';
  t.throws(() => new Pod(pod as never).validate());
});

test('k8s fixtures: the scenarios the enrichers need are present', (t) => {
  const statuses = fixtures.pods.flatMap((p) => p.status.containerStatuses);
  t.true(
    statuses.some(
      (s) => s.state.waiting?.reason === 'CrashLoopBackOff' && s.lastState.terminated?.exitCode === 1,
    ),
  );
  t.true(
    statuses.some(
      (s) => s.lastState.terminated?.reason === 'OOMKilled' && s.lastState.terminated.exitCode === 137,
    ),
  );
  t.true(fixtures.pods.some((p) => (p.spec.initContainers ?? []).length > 0 && p.spec.containers.length > 1));
  t.true(fixtures.events.some((e) => e.type === 'Warning' && e.reason === 'BackOff' && e.count > 1));
  t.true(fixtures.events.some((e) => e.type === 'Normal' && e.reason === 'Pulled'));
  t.truthy(fixtures.logs['payments/api-7d9f8b6c5d-x2x4q/app']?.previous);
});
