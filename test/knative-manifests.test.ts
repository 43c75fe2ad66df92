// The knative/ manifests against the real schemas (Knative CRDs, core and RBAC), rendered by
// the real kustomize in kubectl, plus the rules this project holds them to.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Broker } from '@kubernetes-models/knative/eventing.knative.dev/v1/Broker';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { ApiServerSource } from '@kubernetes-models/knative/sources.knative.dev/v1/ApiServerSource';
import { SinkBinding } from '@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding';
import test from 'ava';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse, parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { issueExtensions } from '../lib/domain/events.ts';
import { FILTER_KEY } from '../scripts/broker/filter.ts';
import { parseIsoDuration } from '../scripts/broker/triggers.ts';
import { makeIssue } from './support/issue-factory.ts';

const ROOT = path.resolve(import.meta.dirname, '../knative');
const DESTINATIONS = ['dispatch-webhook', 'dispatch-pagerduty', 'dispatch-teams', 'dispatch-jira'];
const FUNCTIONS = [
  'alert-ingest',
  'k8s-event-ingest',
  'enrich-pod',
  'enrich-node',
  'enrich-metrics',
  'run-workflows',
  'dispatch-slack',
  ...DESTINATIONS,
];
const ENRICHERS = ['enrich-pod', 'enrich-node'];

// Each model's constructor + validate() checks the document against the published schema.
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'serving.knative.dev/v1/Service': Service,
  'eventing.knative.dev/v1/Broker': Broker,
  'eventing.knative.dev/v1/Trigger': Trigger,
  'sources.knative.dev/v1/SinkBinding': SinkBinding,
  'sources.knative.dev/v1/ApiServerSource': ApiServerSource,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

// Loose views of the documents: the schemas above already checked their types.
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by the model schemas, not by TypeScript
type Doc = Record<string, any>;

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return (
    entries
      // extras/ holds optional manifests outside the kustomization (their own test below).
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && !e.parentPath.includes(`${path.sep}extras`))
      .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
      .sort()
  );
}

async function sourceDocs(): Promise<{ file: string; doc: Doc }[]> {
  const out: { file: string; doc: Doc }[] = [];
  for (const file of await yamlFiles(ROOT)) {
    if (file === 'kustomization.yaml') continue;
    for (const d of parseAllDocuments(await readFile(path.join(ROOT, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
      const doc = d.toJS() as Doc | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

let renderedCache: Promise<Doc[]> | undefined;
function rendered(): Promise<Doc[]> {
  renderedCache ??= promisify(execFile)('/usr/bin/kubectl', ['kustomize', ROOT], {
    maxBuffer: 16 << 20,
  }).then(({ stdout }) => parseAllDocuments(stdout).map((d) => d.toJS() as Doc));
  return renderedCache;
}

function find(docs: Doc[], kind: string, name: string): Doc {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!doc) throw new Error(`no ${kind} ${name}`);
  return doc;
}

function validateDoc(doc: Doc): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`unknown kind ${doc.apiVersion} ${doc.kind}: add its model to the test`);
  new Model(doc as never).validate();
}

test('knative: every document under knative/ validates against its real schema', async (t) => {
  const docs = await sourceDocs();
  t.true(docs.length >= 15);
  for (const { file, doc } of docs) {
    t.notThrows(() => validateDoc(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

test('knative: a wrong field type or an unknown kind fails validation', (t) => {
  t.throws(
    () =>
      validateDoc({
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        spec: { delivery: { retry: '3' } },
      }),
    {
      message: /retry must be integer/,
    },
  );
  t.throws(() => validateDoc({ apiVersion: 'apps/v1', kind: 'Deployment' }), { message: /unknown kind/ });
});

test('knative: kustomization lists every manifest file, and only existing ones', async (t) => {
  const kustomization = parse(await readFile(path.join(ROOT, 'kustomization.yaml'), 'utf8')) as Doc;
  const files = (await yamlFiles(ROOT)).filter((f) => f !== 'kustomization.yaml');
  t.deepEqual([...(kustomization.resources as string[])].sort(), files);
});

test('knative: kubectl kustomize renders every expected object into the kubeincident namespace', async (t) => {
  const docs = await rendered();
  const names = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
  t.deepEqual(
    names,
    [
      'ApiServerSource/kubernetes-events',
      'ApiServerSource/kubernetes-pods',
      'ApiServerSource/kubernetes-workloads',
      'Broker/kubeincident',
      'Broker/kubeincident-dead-letters',
      'ClusterRole/kubeincident-enricher',
      'ClusterRole/kubeincident-event-source',
      'ClusterRole/kubeincident-workflows',
      'ClusterRoleBinding/kubeincident-enricher',
      'ClusterRoleBinding/kubeincident-event-source',
      'ClusterRoleBinding/kubeincident-workflows',
      'ConfigMap/kubeincident-config',
      'ConfigMap/kubeincident-workflows',
      'Namespace/kubeincident',
      'NetworkPolicy/kubeincident-alert-ingest-from-alertmanager',
      'NetworkPolicy/kubeincident-functions-egress',
      'NetworkPolicy/kubeincident-functions-ingress',
      'NetworkPolicy/kubeincident-metrics-egress',
      'NetworkPolicy/kubeincident-workflows-egress',
      ...FUNCTIONS.map((f) => `Service/${f}`),
      ...DESTINATIONS.map((f) => `ServiceAccount/kubeincident-${f}`),
      ...DESTINATIONS.map((f) => `Trigger/${f}`),
      'ServiceAccount/kubeincident-enricher',
      'ServiceAccount/kubeincident-event-source',
      'ServiceAccount/kubeincident-function',
      'ServiceAccount/kubeincident-metrics',
      'ServiceAccount/kubeincident-workflows',
      'SinkBinding/alert-ingest-sink',
      'Trigger/dispatch-slack',
      'Trigger/enrich-metrics',
      'Trigger/enrich-node',
      'Trigger/enrich-pod',
      'Trigger/k8s-event-ingest',
      'Trigger/run-workflows',
    ].sort(),
  );
  for (const d of docs) {
    t.notThrows(() => validateDoc(d), `${d.kind}/${d.metadata.name}`);
    t.is(d.metadata.labels?.['app.kubernetes.io/part-of'], 'kubeincident', `${d.kind}/${d.metadata.name}`);
    if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(d.kind)) {
      t.is(d.metadata.namespace, 'kubeincident', `${d.kind}/${d.metadata.name}`);
    }
  }
  for (const fn of FUNCTIONS) {
    // The kustomize images: entries are what users override, so they must reach every Service.
    t.is(
      find(docs, 'Service', fn).spec.template.spec.containers[0].image,
      `ghcr.io/kubeincident/${fn}:0.1.0`,
    );
  }
});

test('knative: RBAC grants the enrichers exactly read access to what they use, and nothing else to anyone', async (t) => {
  const docs = await rendered();
  t.deepEqual(find(docs, 'ClusterRole', 'kubeincident-enricher').rules, [
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    { apiGroups: [''], resources: ['events'], verbs: ['list'] },
    { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
    { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
      verbs: ['get'],
    },
    { apiGroups: ['apps'], resources: ['replicasets', 'controllerrevisions'], verbs: ['list'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list'] },
    { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get'] },
    { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get'] },
  ]);
  t.deepEqual(find(docs, 'ClusterRole', 'kubeincident-event-source').rules, [
    { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'daemonsets'],
      verbs: ['get', 'list', 'watch'],
    },
  ]);
  // Workflow code reads through run-workflows' own account: get and list, never Secrets or ConfigMaps.
  const workflowRules = find(docs, 'ClusterRole', 'kubeincident-workflows').rules as Doc[];
  t.deepEqual(workflowRules, [
    {
      apiGroups: [''],
      resources: ['pods', 'events', 'services', 'persistentvolumeclaims', 'nodes', 'namespaces'],
      verbs: ['get', 'list'],
    },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
      verbs: ['get', 'list'],
    },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list'] },
  ]);
  const bindings = docs.filter((d) => d.kind === 'ClusterRoleBinding' || d.kind === 'RoleBinding');
  t.deepEqual(
    bindings.map((b) => [b.roleRef.name, b.subjects]),
    [
      [
        'kubeincident-enricher',
        [{ kind: 'ServiceAccount', name: 'kubeincident-enricher', namespace: 'kubeincident' }],
      ],
      [
        'kubeincident-event-source',
        [{ kind: 'ServiceAccount', name: 'kubeincident-event-source', namespace: 'kubeincident' }],
      ],
      [
        'kubeincident-workflows',
        [{ kind: 'ServiceAccount', name: 'kubeincident-workflows', namespace: 'kubeincident' }],
      ],
    ],
  );
  t.is(find(docs, 'ServiceAccount', 'kubeincident-function').automountServiceAccountToken, false);
  t.is(find(docs, 'ServiceAccount', 'kubeincident-metrics').automountServiceAccountToken, false);
  t.is(
    find(docs, 'ApiServerSource', 'kubernetes-events').spec.serviceAccountName,
    'kubeincident-event-source',
  );
  for (const fn of FUNCTIONS) {
    const sa = find(docs, 'Service', fn).spec.template.spec.serviceAccountName;
    if (DESTINATIONS.includes(fn)) {
      // An account of its own, without a token or any binding (checked above).
      t.is(sa, `kubeincident-${fn}`, fn);
      t.is(find(docs, 'ServiceAccount', sa).automountServiceAccountToken, false, fn);
    } else {
      const expected =
        fn === 'enrich-metrics'
          ? 'kubeincident-metrics'
          : fn === 'run-workflows'
            ? 'kubeincident-workflows'
            : ENRICHERS.includes(fn)
              ? 'kubeincident-enricher'
              : 'kubeincident-function';
      t.is(sa, expected, fn);
    }
  }
});

test('knative: every Service runs locked down, probed, scale-to-zero, on port 8080 with the shared config', async (t) => {
  const docs = await rendered();
  for (const fn of FUNCTIONS) {
    const svc = find(docs, 'Service', fn);
    const { annotations } = svc.spec.template.metadata;
    t.is(annotations['autoscaling.knative.dev/min-scale'], '0', fn);
    t.regex(annotations['autoscaling.knative.dev/max-scale'], /^[1-9]\d*$/, fn);
    t.regex(annotations['autoscaling.knative.dev/target'], /^[1-9]\d*$/, fn);
    const spec = svc.spec.template.spec;
    t.true(spec.containerConcurrency > 0 && spec.timeoutSeconds > 0, fn);
    t.is(spec.containers.length, 1, fn);
    const [c] = spec.containers;
    t.deepEqual(c.ports, [{ name: 'http1', containerPort: 8080 }], fn);
    t.like(
      c.securityContext,
      {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
      fn,
    );
    t.is(c.readinessProbe.httpGet.path, '/health/readiness', fn);
    t.is(c.livenessProbe.httpGet.path, '/health/liveness', fn);
    t.is(c.resources.requests.memory, '128Mi', fn);
    t.truthy(c.resources.limits.memory, fn);
    t.deepEqual(c.envFrom, [{ configMapRef: { name: 'kubeincident-config' } }], fn);
    // Each secret reaches only the function that uses it, and an absent Secret must not block deploys.
    const secrets = (c.env as Doc[]).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.valueFrom);
    const expected: Record<string, Doc[]> = {
      'dispatch-slack': [
        { secretKeyRef: { name: 'kubeincident-slack', key: 'SLACK_BOT_TOKEN', optional: true } },
      ],
      'alert-ingest': [
        { secretKeyRef: { name: 'kubeincident-webhook', key: 'WEBHOOK_BEARER_TOKEN', optional: true } },
      ],
    };
    t.deepEqual(secrets, expected[fn] ?? [], fn);
    t.false(JSON.stringify(svc).includes('xox'), `${fn}: no token inline`);
  }
  t.like(find(docs, 'ConfigMap', 'kubeincident-config').data, {
    CLUSTER_NAME: 'my-cluster',
    LOG_LEVEL: 'info',
  });
});

test('knative: the documented canary traffic block is a valid Service traffic split', async (t) => {
  for (const fn of FUNCTIONS) {
    const text = await readFile(path.join(ROOT, 'services', `${fn}.yaml`), 'utf8');
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l.trim() === '# traffic:');
    t.true(start > 0, `${fn} documents a canary traffic block`);
    const block = lines
      .slice(start)
      .filter((l) => l.startsWith('  #'))
      .map((l) => l.replace(/^ {2}# ?/, ''))
      .join('\n');
    const traffic = (parse(block) as Doc).traffic as Doc[];
    const svc = parse(text) as Doc;
    t.notThrows(() => new Service({ ...svc, spec: { ...svc.spec, traffic } } as never).validate(), fn);
    t.is(
      traffic.reduce((sum, e) => sum + (e.percent as number), 0),
      100,
      fn,
    );
    t.true(
      traffic.some((e) => e.tag && e.percent === 0 && e.latestRevision === true),
      fn,
    );
    t.true(
      traffic.some((e) => typeof e.revisionName === 'string'),
      fn,
    );
  }
});

test('knative: Triggers filter on valid keys, point at existing Services and dead-letter into the dead-letter Broker', async (t) => {
  const docs = await rendered();
  const triggers = docs.filter((d) => d.kind === 'Trigger');
  t.is(triggers.length, 6 + DESTINATIONS.length);
  const keysOf = (f: Doc): string[] =>
    Object.entries(f).flatMap(([dialect, v]) =>
      dialect === 'all' || dialect === 'any'
        ? (v as Doc[]).flatMap(keysOf)
        : dialect === 'not'
          ? keysOf(v as Doc)
          : Object.keys(v as Doc),
    );
  for (const tr of triggers) {
    const name = tr.metadata.name as string;
    const keys = [
      ...Object.keys(tr.spec.filter?.attributes ?? {}),
      ...(tr.spec.filters ?? []).flatMap(keysOf),
    ];
    t.true(keys.length > 0, name);
    for (const k of keys) t.regex(k, FILTER_KEY, `${name}: ${k}`);
    t.is(tr.spec.broker, 'kubeincident', name);
    const svc = find(docs, 'Service', tr.spec.subscriber.ref.name);
    t.is(tr.spec.subscriber.ref.kind, 'Service', name);
    const d = tr.spec.delivery;
    t.true(Number.isInteger(d.retry) && d.retry > 0, name);
    t.is(d.backoffPolicy, 'exponential', name);
    t.true(parseIsoDuration(d.backoffDelay) > 0, name);
    // The broker must give up on an attempt before Knative Serving cuts the request off.
    t.true(parseIsoDuration(d.timeout) < svc.spec.template.spec.timeoutSeconds * 1000, name);
    t.deepEqual(d.deadLetterSink.ref, {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      name: 'kubeincident-dead-letters',
    });
    t.is(
      d.retryAfterMax !== undefined,
      name.startsWith('dispatch-') || name === 'k8s-event-ingest',
      `${name}: retryAfterMax only on the dispatch functions and k8s-event-ingest`,
    );
  }
  find(docs, 'Broker', 'kubeincident-dead-letters');
});

test('knative: alert-ingest is bound to the broker and Kubernetes Events flow into it', async (t) => {
  const docs = await rendered();
  const binding = find(docs, 'SinkBinding', 'alert-ingest-sink');
  t.deepEqual(binding.spec.subject, {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    name: 'alert-ingest',
  });
  t.deepEqual(binding.spec.sink.ref, {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    name: 'kubeincident',
  });
  const workloads = find(docs, 'ApiServerSource', 'kubernetes-workloads');
  t.is(workloads.spec.mode, 'Resource');
  t.is(workloads.spec.serviceAccountName, 'kubeincident-event-source');
  t.deepEqual(
    workloads.spec.resources.map((r: Doc) => `${r.apiVersion}/${r.kind}`),
    ['apps/v1/Deployment', 'apps/v1/StatefulSet', 'apps/v1/DaemonSet'],
  );
  const source = find(docs, 'ApiServerSource', 'kubernetes-events');
  t.is(source.spec.mode, 'Resource');
  t.deepEqual(source.spec.resources, [{ apiVersion: 'v1', kind: 'Event' }]);
  t.deepEqual(source.spec.sink.ref, {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    name: 'kubeincident',
  });
});

// KafkaSink's spec as its CRD (eventing-kafka-broker, kafkasinks.eventing.knative.dev v1alpha1)
// defines it: no model package covers it, so the schema is written out here.
const KafkaSinkSpec = z.strictObject({
  topic: z.string().min(1),
  bootstrapServers: z.array(z.string().regex(/^[^\s:]+:\d+$/)).min(1),
  numPartitions: z.number().int().positive().optional(),
  replicationFactor: z.number().int().positive().optional(),
  contentMode: z.enum(['binary', 'structured']).optional(),
  auth: z
    .strictObject({ secret: z.strictObject({ ref: z.strictObject({ name: z.string().min(1) }) }) })
    .optional(),
});

test('knative extras: the Kafka sink is a valid KafkaSink and Trigger, outside the default kustomization', async (t) => {
  const file = path.join(ROOT, 'extras', 'kafka-sink.yaml');
  const docs = parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS() as Doc);
  const sink = docs.find((d) => d.kind === 'KafkaSink') as Doc;
  t.is(sink.apiVersion, 'eventing.knative.dev/v1alpha1');
  t.notThrows(() => KafkaSinkSpec.parse(sink.spec));
  t.throws(() => KafkaSinkSpec.parse({ ...sink.spec, contentMode: 'json' }));
  const trigger = docs.find((d) => d.kind === 'Trigger') as Doc;
  t.notThrows(() => validateDoc(trigger));
  t.deepEqual(trigger.spec.subscriber.ref, {
    apiVersion: 'eventing.knative.dev/v1alpha1',
    kind: 'KafkaSink',
    name: sink.metadata.name,
  });
  t.deepEqual(trigger.spec.filter, { attributes: { nextstage: 'dispatch' } });
  t.is(trigger.metadata.annotations['kafka.eventing.knative.dev/delivery.order'], 'ordered');
  // The record key: every issue event carries partitionkey = the fingerprint.
  const issue = makeIssue();
  t.is(issueExtensions(issue).partitionkey, issue.fingerprint);
  const docsRendered = await rendered();
  t.false(docsRendered.some((d) => d.kind === 'KafkaSink' || d.metadata.name === 'kafka-issues'));
});
