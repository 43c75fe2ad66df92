// The Kubernetes fixtures must stay shaped like real API objects: each one is validated against
// the upstream OpenAPI schemas (kubernetes-models), so a hand edit cannot drift unnoticed.
import test from 'ava';
import {
  ControllerRevision,
  DaemonSet,
  Deployment,
  ReplicaSet,
  StatefulSet,
} from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Event, Node, PersistentVolumeClaim, Pod, Secret } from 'kubernetes-models/v1';
import { loadKubeFixtures } from './support/kube-standin.ts';

const fixtures = await loadKubeFixtures();

const WORKLOAD_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  DaemonSet,
  ReplicaSet,
  Job,
  CronJob,
};

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

test('k8s fixtures: every workload and PVC fixture validates against its apps/batch/core schema', (t) => {
  t.deepEqual([...new Set(fixtures.workloads.map((w) => w.kind))].sort(), [
    'CronJob',
    'DaemonSet',
    'Deployment',
    'Job',
    'ReplicaSet',
    'StatefulSet',
  ]);
  for (const w of fixtures.workloads) {
    const Model = WORKLOAD_MODELS[w.kind];
    if (!Model) return t.fail(`no schema for ${w.kind}`);
    t.notThrows(() => new Model(w as never).validate(), `${w.kind}/${w.metadata.name}`);
    t.truthy(w.metadata.uid && (w.spec.selector ?? w.spec.jobTemplate));
  }
  t.true(fixtures.persistentVolumeClaims.length >= 1);
  for (const pvc of fixtures.persistentVolumeClaims)
    t.notThrows(() => new PersistentVolumeClaim(pvc as never).validate(), pvc.metadata.name);
});

test('k8s fixtures: ControllerRevisions, ConfigMaps and Secrets validate against their schemas', (t) => {
  const revisions = fixtures.controllerRevisions ?? [];
  t.true(revisions.length >= 2);
  for (const cr of revisions) {
    t.notThrows(() => new ControllerRevision(cr as never).validate(), cr.metadata.name);
    t.true(Number.isInteger(cr.revision) && cr.data?.spec?.template?.$patch === 'replace', cr.metadata.name);
  }
  const configs = fixtures.configs ?? [];
  t.deepEqual([...new Set(configs.map((c) => c.kind))].sort(), ['ConfigMap', 'Secret']);
  for (const c of configs) {
    const Model = c.kind === 'Secret' ? Secret : ConfigMap;
    t.notThrows(() => new Model(c as never).validate(), c.metadata.name);
  }
  // Every Deployment revision carries the annotation the Deployment controller writes.
  for (const rs of fixtures.workloads.filter(
    (w) => w.kind === 'ReplicaSet' && w.metadata.namespace === 'orders',
  )) {
    t.regex(rs.metadata.annotations['deployment.kubernetes.io/revision'], /^\d+$/);
    t.is(rs.metadata.labels['pod-template-hash'], rs.metadata.name.split('-').at(-1));
  }
});

test('k8s fixtures: every pod owned by a workload fixture carries the labels its selector matches', (t) => {
  for (const w of fixtures.workloads) {
    const owned = fixtures.pods.filter((p) =>
      (p.metadata.ownerReferences ?? []).some(
        (r: { kind: string; name: string }) =>
          (r.kind === w.kind && r.name === w.metadata.name) ||
          (w.kind === 'Deployment' && r.kind === 'ReplicaSet' && r.name.startsWith(`${w.metadata.name}-`)),
      ),
    );
    for (const p of owned) {
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels ?? {}))
        t.is(p.metadata.labels[k], v, `${p.metadata.name} ${k}`);
    }
  }
});

test('k8s fixtures: the schema check catches a wrongly typed field', (t) => {
  const pod = structuredClone(fixtures.pods[0]) as {
    status: { containerStatuses: Array<Record<string, unknown>> };
  };
  (pod.status.containerStatuses[0] as Record<string, unknown>).restartCount = 'five';
  t.throws(() => new Pod(pod as never).validate());
  const job = structuredClone(fixtures.workloads.find((w) => w.kind === 'Job')) as {
    spec: Record<string, unknown>;
  };
  job.spec.backoffLimit = 'two';
  t.throws(() => new Job(job as never).validate());
});

test('k8s fixtures: the scenarios the enrichers need are present', (t) => {
  const statuses = fixtures.pods.flatMap((p) => [
    ...(p.status.containerStatuses ?? []),
    ...(p.status.initContainerStatuses ?? []),
  ]);
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
  t.true(statuses.some((s) => s.state.waiting?.reason === 'ImagePullBackOff'));
  t.true(fixtures.pods.some((p) => p.status.reason === 'Evicted'));
  t.true(
    fixtures.pods.some((p) =>
      p.status.conditions?.some((c: { reason?: string }) => c.reason === 'Unschedulable'),
    ),
  );
  t.true(fixtures.events.some((e) => e.type === 'Warning' && e.reason === 'BackOff' && e.count > 1));
  t.true(fixtures.events.some((e) => e.type === 'Normal' && e.reason === 'Pulled'));
  t.true(fixtures.events.some((e) => e.reason === 'FailedScheduling'));
  t.true(fixtures.events.some((e) => e.reason === 'Unhealthy' && /^Liveness/.test(e.message)));
  t.true(fixtures.nodes.some((n) => n.status.nodeInfo.containerRuntimeVersion.startsWith('docker://')));
  t.truthy(fixtures.logs['payments/api-7d9f8b6c5d-x2x4q/app']?.previous);
});
