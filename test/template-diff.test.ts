// The pod template diff and the rollout judgement as pure functions: what each kind of change reads
// like, that Secret-sourced values are only named and literals pass the redaction patterns, and
// when a rollout is (and is not) blamed for a failure.
import test from 'ava';
import { DEFAULT_REDACT_PATTERNS } from '../lib/domain/diagnose/redact.ts';
import { controllerRevisions, deploymentRevisions, revisionOfPod } from '../lib/domain/diagnose/revisions.ts';
import { CHANGE_CAP, configMapChange, rolloutStatus, viewRollout } from '../lib/domain/diagnose/rollout.ts';
import { claimNames, viewStatefulSet } from '../lib/domain/diagnose/statefulset.ts';
import {
  configMapRefs,
  describeEnv,
  describeImageChange,
  diffTemplates,
} from '../lib/domain/diagnose/template-diff.ts';
import type {
  V1ControllerRevision,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
  Workload,
} from '../lib/domain/kube.ts';
import { parseEnv } from '../lib/platform/env.ts';
import { EnricherEnv } from '../lib/stages/env.ts';
import { loadKubeFixtures } from './support/kube-standin.ts';

const P = DEFAULT_REDACT_PATTERNS;
const f = await loadKubeFixtures();
const deployment = f.workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === 'api') as Workload;
const replicaSets = f.workloads.filter((w) => w.kind === 'ReplicaSet') as V1ReplicaSet[];
const orderPods = f.pods.filter((p) => p.metadata.namespace === 'orders') as V1Pod[];
const apiPods = orderPods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/name'] === 'api');
const NOW = Date.parse('2026-03-10T12:00:00Z');

const tpl = (container: Record<string, unknown>, volumes: unknown[] = []): V1PodTemplateSpec =>
  ({
    spec: { containers: [{ name: 'app', image: 'r.example/app:1', ...container }], volumes },
  }) as V1PodTemplateSpec;

test('template diff: image, env, resources, command, args, probes and volumes each read as one change', (t) => {
  const before = tpl(
    {
      env: [
        { name: 'KEEP', value: 'x' },
        { name: 'GONE', value: 'y' },
        { name: 'LEVEL', value: 'info' },
      ],
      resources: { limits: { memory: '256Mi' } },
      command: ['/app'],
      args: ['--port=80'],
      livenessProbe: { httpGet: { path: '/live', port: 80 }, periodSeconds: 10 },
    },
    [
      { name: 'cfg', configMap: { name: 'app-v1' } },
      { name: 'tmp', emptyDir: {} },
    ],
  );
  const after = tpl(
    {
      image: 'r.example/app:2',
      env: [
        { name: 'KEEP', value: 'x' },
        { name: 'LEVEL', value: 'debug' },
        { name: 'NEW', value: 'z' },
      ],
      resources: { limits: { memory: '512Mi', cpu: '1' } },
      command: ['/app', 'serve'],
      args: ['--port=8080'],
      livenessProbe: { httpGet: { path: '/healthz', port: 80 }, periodSeconds: 10, initialDelaySeconds: 30 },
    },
    [
      { name: 'cfg', configMap: { name: 'app-v2' } },
      { name: 'cache', emptyDir: {} },
    ],
  );
  const changes = diffTemplates(before, after, P);
  t.deepEqual(
    changes.map((c) => c.short),
    [
      'image app:1 to 2',
      'env NEW added',
      'env GONE removed',
      'env LEVEL changed',
      'resources limits.cpu 1 added, limits.memory 256Mi to 512Mi',
      'command changed',
      'args changed',
      'livenessProbe changed',
      'volume cfg changed',
      'volume cache added',
      'volume tmp removed',
    ],
  );
  const detail = (short: string) => changes.find((c) => c.short === short)?.detail;
  t.is(detail('env LEVEL changed'), 'env LEVEL=info to LEVEL=debug');
  t.is(detail('command changed'), 'command ["/app"] to ["/app","serve"]');
  t.is(
    detail('livenessProbe changed'),
    'livenessProbe httpGet.path /live to /healthz, initialDelaySeconds 30 added',
  );
  t.is(detail('volume cfg changed'), 'volume cfg ConfigMap app-v1 to ConfigMap app-v2');
  t.true(changes.every((c) => c.area === 'volume' || c.container === 'app'));
  t.deepEqual(diffTemplates(before, structuredClone(before), P), [], 'the same template has no changes');
});

test('template diff: Secret-sourced env is named by its Secret only; literal secrets are redacted', (t) => {
  const before = tpl({
    env: [
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-old', key: 'password' } } },
      { name: 'API_TOKEN', value: 'tok-very-secret-1' },
    ],
    args: ['--password=hunter2'],
  });
  const after = tpl({
    env: [
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-new', key: 'password' } } },
      { name: 'API_TOKEN', value: 'tok-very-secret-2' },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ],
    args: ['--password=hunter3'],
  });
  const text = diffTemplates(before, after, P)
    .map((c) => `${c.short} ${c.detail}`)
    .join('\n');
  t.regex(text, /env DB_PASSWORD from Secret db-old to DB_PASSWORD from Secret db-new/);
  t.regex(text, /env API_TOKEN=\[REDACTED\] to API_TOKEN=\[REDACTED\]/);
  t.regex(text, /env HOST from field status\.hostIP added/);
  t.regex(text, /args \["--password=\[REDACTED\]"\] to \["--password=\[REDACTED\]"\]/);
  for (const secret of ['tok-very-secret', 'hunter2', 'hunter3', 'key password'])
    t.false(text.includes(secret), secret);
  t.is(describeEnv({ name: 'PLAIN', value: 'visible' }, P), 'PLAIN=visible', 'ordinary values stay readable');
});

test('template diff: image changes read short when only the tag moves, whole otherwise', (t) => {
  t.is(
    describeImageChange('registry.example.com/orders/api:2.4.0', 'registry.example.com/orders/api:2.5.0'),
    'api:2.4.0 to 2.5.0',
  );
  t.is(describeImageChange('localhost:5000/api:1', 'localhost:5000/api:2'), 'api:1 to 2');
  t.is(describeImageChange('api', 'api:2'), 'api:latest to 2');
  t.is(describeImageChange('a/api:1', 'b/api:1'), 'a/api:1 to b/api:1');
  t.is(describeImageChange('api@sha256:aaa', 'api@sha256:bbb'), 'api@sha256:aaa to sha256:bbb');
});

test('template diff: the ConfigMaps a template reads come from env, envFrom, volumes and projections', (t) => {
  const t1 = {
    spec: {
      initContainers: [{ name: 'i', envFrom: [{ configMapRef: { name: 'init-env' } }] }],
      containers: [
        { name: 'a', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'flags', key: 'x' } } }] },
      ],
      volumes: [
        { name: 'v', configMap: { name: 'files' } },
        { name: 'p', projected: { sources: [{ configMap: { name: 'proj' } }, { secret: { name: 's' } }] } },
      ],
    },
  } as V1PodTemplateSpec;
  t.deepEqual(configMapRefs(t1), ['init-env', 'flags', 'files', 'proj']);
});

test('revisions: ReplicaSets are numbered by their annotation, ControllerRevisions by revision; pods map by hash', (t) => {
  const revs = deploymentRevisions(deployment, replicaSets);
  t.deepEqual(
    revs.map((r) => [r.number, r.name]),
    [
      [7, 'api-6d5f7c9b8'],
      [6, 'api-7c9d8b6f4'],
      [5, 'api-5f7b9c8d6'],
    ],
    'only the ReplicaSets this Deployment controls, newest first',
  );
  const newPod = orderPods.find((p) => p.metadata?.name === 'api-6d5f7c9b8-h2v6p') as V1Pod;
  t.is(revisionOfPod(newPod, revs)?.number, 7);
  const sts = f.workloads.find((w) => w.kind === 'StatefulSet' && w.metadata.name === 'queue') as Workload;
  const crs = controllerRevisions(sts, (f.controllerRevisions ?? []) as V1ControllerRevision[]);
  t.deepEqual(
    crs.map((r) => [r.number, r.name]),
    [
      [2, 'queue-7f9c6d8b5'],
      [1, 'queue-5d8b7c6f9'],
    ],
  );
  t.is(crs[0]?.template?.spec?.containers?.[0]?.image, 'registry.example.com/orders/queue:1.9.0');
  const q2 = orderPods.find((p) => p.metadata?.name === 'queue-2') as V1Pod;
  t.is(revisionOfPod(q2, crs)?.number, 2);
});

const input = (failureAt: string, pods: V1Pod[] = apiPods) => ({
  kind: 'Deployment' as const,
  workload: deployment,
  revisions: deploymentRevisions(deployment, replicaSets),
  pods,
  failureMs: Date.parse(failureAt),
  now: NOW,
  windowMs: 60 * 60_000,
  patterns: P,
  configMaps: [],
});

test('rollout verdict: a failure shortly after the rollout, only in new pods, blames it and says how to go back', (t) => {
  const v = viewRollout(input('2026-03-10T11:51:00Z'));
  t.is(
    v.blame,
    'started 9m after the rollout to revision 7: image api:2.4.0 to 2.5.0, env CACHE_MODE added, env API_TOKEN changed, +1 more',
  );
  t.is(v.undo, 'kubectl rollout undo deployment/api -n orders --to-revision=6');
  t.is(v.previous?.number, 6);
});

test('rollout verdict: not blamed when the failure came long after, or old pods fail too, or pods are unknown', (t) => {
  t.is(viewRollout(input('2026-03-10T13:30:00Z')).blame, undefined, 'outside the window');
  t.is(viewRollout(input('2026-03-10T11:20:00Z')).blame, undefined, 'before the rollout');
  const sick = structuredClone(apiPods);
  const old = sick.find((p) => p.metadata?.name === 'api-7c9d8b6f4-b7k2q') as V1Pod;
  const crashing = sick.find((p) => p.metadata?.name === 'api-6d5f7c9b8-h2v6p') as V1Pod;
  old.status = structuredClone(crashing.status ?? {});
  t.is(viewRollout(input('2026-03-10T11:51:00Z', sick)).blame, undefined, 'an old pod fails as well');
  const stray = [...apiPods, orderPods.find((p) => p.metadata?.name === 'queue-2') as V1Pod];
  t.is(
    viewRollout(input('2026-03-10T11:51:00Z', stray)).blame,
    undefined,
    'a failing pod of no known revision',
  );
  // Without pods a Deployment is judged by its ReplicaSets' ready counts.
  t.regex(
    viewRollout({ ...input('2026-03-10T11:51:00Z'), pods: undefined }).blame ?? '',
    /^started 9m after/,
  );
  const shortOld = deploymentRevisions(deployment, replicaSets);
  const six = shortOld.find((r) => r.number === 6);
  if (six?.counts) six.counts = { ...six.counts, ready: 2 };
  t.is(
    viewRollout({ ...input('2026-03-10T11:51:00Z'), pods: undefined, revisions: shortOld }).blame,
    undefined,
    'an older ReplicaSet short of ready pods',
  );
  const noCounts = deploymentRevisions(deployment, replicaSets).map(({ counts: _c, ...r }) => r);
  t.is(
    viewRollout({ ...input('2026-03-10T11:51:00Z'), pods: undefined, revisions: noCounts }).blame,
    undefined,
    'ControllerRevisions have no counts: without pods nothing is blamed',
  );
  const oldPod = apiPods.find((p) => p.metadata?.name === 'api-7c9d8b6f4-b7k2q');
  t.is(
    viewRollout({ ...input('2026-03-10T11:51:00Z'), ...(oldPod ? { subjectPod: oldPod } : {}) }).blame,
    undefined,
    'a pod subject of an older revision is not blamed on the rollout',
  );
  const healthy = apiPods.filter((p) => !p.metadata?.name?.startsWith('api-6d5f7c9b8'));
  t.is(healthy.length, 3);
  t.is(
    viewRollout(input('2026-03-10T11:51:00Z', healthy)).blame,
    undefined,
    'the new revision has no failing pod',
  );
});

test('rollout status: ProgressDeadlineExceeded, a rollout in progress, a StatefulSet between revisions', (t) => {
  t.is(rolloutStatus('Deployment', deployment), 'rollout stalled (ProgressDeadlineExceeded)');
  const going = structuredClone(deployment) as { status: { conditions: unknown[] } };
  going.status.conditions = [];
  t.is(rolloutStatus('Deployment', going as Workload), 'rollout in progress: 2 of 3 pods updated');
  const sts = f.workloads.find((w) => w.kind === 'StatefulSet' && w.metadata.name === 'queue') as Workload;
  t.is(rolloutStatus('StatefulSet', sts), 'rolling out queue-7f9c6d8b5: 1 of 3 pods updated');
});

test('configmap change: the newest managedFields write and its manager; none without managedFields', (t) => {
  const cm = f.configs?.find((c) => c.kind === 'ConfigMap' && c.metadata.name === 'api-config');
  const c = configMapChange('api-config', { metadata: cm?.metadata });
  t.deepEqual(c, {
    name: 'api-config',
    changedMs: Date.parse('2026-03-10T11:47:12Z'),
    manager: 'kubectl-client-side-apply',
    createdMs: Date.parse('2025-11-04T09:00:00Z'),
  });
  t.deepEqual(configMapChange('bare', { metadata: { name: 'bare' } }), { name: 'bare' });
  const v = viewRollout({ ...input('2026-03-10T11:51:00Z'), configMaps: [c, { name: 'bare' }] });
  t.deepEqual(v.configHints, ['ConfigMap api-config changed 3m before by kubectl-client-side-apply']);
  const items = v.blocks.flatMap((b) => (b.type === 'list' ? b.items : []));
  t.true(items.includes('ConfigMap bare: no write times (managedFields) to tell when it last changed'));
});

test('statefulset: a partition keeps low ordinals back; a missing ordinal blocks an OrderedReady set', (t) => {
  const sts = structuredClone(
    f.workloads.find((w) => w.kind === 'StatefulSet' && w.metadata.name === 'queue'),
  ) as V1StatefulSet;
  const pods = orderPods.filter((p) => p.metadata?.name?.startsWith('queue-'));
  const parted = structuredClone(sts);
  (parted.spec as Record<string, unknown>).updateStrategy = {
    type: 'RollingUpdate',
    rollingUpdate: { partition: 2 },
  };
  const v = viewStatefulSet(parted, pods, new Map());
  t.deepEqual(v.blocks[0]?.type === 'list' ? v.blocks[0].items.slice(1) : [], [
    'Partition 2: ordinals below 2 keep the current revision',
    'Ordinal 2 (queue-2) blocks the rollout: CrashLoopBackOff',
  ]);
  const settled = structuredClone(sts);
  settled.status = { ...settled.status, replicas: 3, updateRevision: 'queue-5d8b7c6f9' };
  const gone = pods.filter((p) => p.metadata?.name !== 'queue-1' && p.metadata?.name !== 'queue-2');
  const still = viewStatefulSet(settled, gone, new Map());
  t.is(still.blocking, undefined, 'only a blocked rollout makes the verdict');
  t.true(
    still.blocks[0]?.type === 'list' &&
      still.blocks[0].items.includes('Ordinal 1 (queue-1) blocks the StatefulSet: Missing'),
  );
  t.deepEqual(claimNames(sts, 4), ['data-queue-4']);
});

test('settings: ROLLOUT_WINDOW_MINUTES defaults to an hour and refuses what is not a positive whole number', (t) => {
  t.is(parseEnv(EnricherEnv, {}).ROLLOUT_WINDOW_MINUTES, 60);
  t.is(parseEnv(EnricherEnv, { ROLLOUT_WINDOW_MINUTES: '15' }).ROLLOUT_WINDOW_MINUTES, 15);
  for (const bad of ['0', '-5', '1.5', 'soon', '20000']) {
    const err = t.throws(() => parseEnv(EnricherEnv, { ROLLOUT_WINDOW_MINUTES: bad }));
    t.regex(err?.message ?? '', /ROLLOUT_WINDOW_MINUTES/, bad);
  }
});

test('rollout view: a rewritten template lists the first changes and counts the rest', (t) => {
  const revs = deploymentRevisions(deployment, replicaSets);
  const newest = structuredClone(revs[0]);
  const c = newest?.template?.spec?.containers?.[0];
  if (!newest || !c) return t.fail('fixture changed');
  c.env = Array.from({ length: CHANGE_CAP + 5 }, (_, i) => ({ name: `VAR_${i}`, value: String(i) }));
  const v = viewRollout({ ...input('2026-03-10T11:51:00Z'), revisions: [newest, ...revs.slice(1)] });
  const items = v.blocks[0]?.type === 'list' ? v.blocks[0].items : [];
  t.true(v.changes.length > CHANGE_CAP);
  t.is(items.filter((i) => i.startsWith('api: ')).length, CHANGE_CAP);
  t.true(items.includes(`… and ${v.changes.length - CHANGE_CAP} more changes`));
});
