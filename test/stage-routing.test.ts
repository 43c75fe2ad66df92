// Stage routing, one rule for every source: a table of subject kinds against the stages a firing
// issue about them visits, checked on the rule itself, on alerts through alert-ingest and on
// Kubernetes Events through k8s-event-ingest (both with the default configuration), and with the
// custom workflow actions that ask for an enricher.
import test from 'ava';
import { CloudEvent } from 'cloudevents';
import { create as createAlertIngest } from '../functions/alert-ingest/index.ts';
import { create as createEventIngest } from '../functions/k8s-event-ingest/index.ts';
import { DEFAULT_CONFIG } from '../lib/domain/config/index.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { parseIssueData } from '../lib/domain/events.ts';
import type { Issue, Stage, Subject } from '../lib/domain/issue.ts';
import { nextStagesAfterPod, planFor } from '../lib/domain/routing.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import type { InvocationContext } from '../lib/platform/runtime/types.ts';
import { at } from './fixtures/apiserversource/load.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { startRecordingSink } from './support/sink.ts';

const POD_STAGES: Stage[] = ['enrichpod', 'dispatch'];
const NODE_STAGES: Stage[] = ['enrichnode', 'dispatch'];
const DISPATCH: Stage[] = ['dispatch'];

interface Row {
  /** The subject's kind; `unknown` is a kind nothing here knows, `none` an object with no kind. */
  kind: string;
  stages: Stage[];
  /** The labels an alert about it carries (kube-state-metrics / kube-prometheus style). */
  labels: Record<string, string>;
  /** The subject those labels map to when no label names this kind. */
  alertSubject?: string;
  /** The involvedObject and reason of a Warning Event about it. */
  event: { involvedObject: Record<string, string>; reason: string };
  /** The subject's kind on an Event issue, when it is not `kind`. */
  eventSubject?: string;
}

const NS = 'payments';
const obj = (kind: string, name: string, namespaced = true) =>
  namespaced ? { kind, name, namespace: NS } : { kind, name };

const TABLE: Row[] = [
  {
    kind: 'Pod',
    stages: POD_STAGES,
    labels: { pod: 'api-7d9f8b6c5d-x2x4q', namespace: NS },
    event: { involvedObject: obj('Pod', 'api-7d9f8b6c5d-x2x4q'), reason: 'Unhealthy' },
  },
  {
    kind: 'Deployment',
    stages: POD_STAGES,
    labels: { deployment: 'api', namespace: NS },
    event: { involvedObject: obj('Deployment', 'api'), reason: 'ProgressDeadlineExceeded' },
  },
  {
    kind: 'StatefulSet',
    stages: POD_STAGES,
    labels: { statefulset: 'ledger-db', namespace: NS },
    event: { involvedObject: obj('StatefulSet', 'ledger-db'), reason: 'FailedCreate' },
  },
  {
    kind: 'DaemonSet',
    stages: POD_STAGES,
    labels: { daemonset: 'log-agent', namespace: NS },
    event: { involvedObject: obj('DaemonSet', 'log-agent'), reason: 'FailedCreate' },
  },
  {
    kind: 'ReplicaSet',
    stages: POD_STAGES,
    labels: { replicaset: 'api-7d9f8b6c5d', namespace: NS },
    event: { involvedObject: obj('ReplicaSet', 'api-7d9f8b6c5d'), reason: 'FailedCreate' },
  },
  {
    kind: 'Job',
    stages: POD_STAGES,
    labels: { job_name: 'ledger-migrate', namespace: NS },
    event: { involvedObject: obj('Job', 'ledger-migrate'), reason: 'BackoffLimitExceeded' },
  },
  {
    // enrich-pod reads a CronJob's Jobs (docs/workloads.md).
    kind: 'CronJob',
    stages: POD_STAGES,
    labels: { cronjob: 'nightly-report', namespace: NS },
    event: { involvedObject: obj('CronJob', 'nightly-report'), reason: 'FailedNeedsStart' },
  },
  {
    kind: 'Node',
    stages: NODE_STAGES,
    labels: { node: 'worker-3' },
    event: { involvedObject: obj('Node', 'worker-3', false), reason: 'NodeNotReady' },
  },
  {
    kind: 'PersistentVolumeClaim',
    stages: POD_STAGES,
    labels: { persistentvolumeclaim: 'ledger-data', namespace: NS },
    event: { involvedObject: obj('PersistentVolumeClaim', 'ledger-data'), reason: 'ProvisioningFailed' },
  },
  {
    kind: 'HorizontalPodAutoscaler',
    stages: DISPATCH,
    labels: { horizontalpodautoscaler: 'api', namespace: NS },
    event: {
      involvedObject: obj('HorizontalPodAutoscaler', 'api'),
      reason: 'FailedGetResourceMetric',
    },
  },
  {
    // No alert label names a Service: such an alert is about its namespace.
    kind: 'Service',
    stages: DISPATCH,
    labels: { service: 'api', namespace: NS },
    alertSubject: 'Namespace',
    event: { involvedObject: obj('Service', 'api'), reason: 'FailedToUpdateEndpointSlices' },
  },
  {
    kind: 'Namespace',
    stages: DISPATCH,
    labels: { namespace: NS },
    event: { involvedObject: obj('Namespace', NS, false), reason: 'NamespaceDeletionContentFailure' },
  },
  {
    kind: 'unknown',
    stages: DISPATCH,
    labels: { certificate: 'api-tls', namespace: NS },
    alertSubject: 'Namespace',
    event: { involvedObject: obj('Certificate', 'api-tls'), reason: 'Failed' },
    eventSubject: 'Certificate',
  },
  {
    kind: 'none',
    stages: DISPATCH,
    labels: {},
    alertSubject: 'Cluster',
    event: { involvedObject: { name: 'mystery' }, reason: 'Failed' },
    eventSubject: 'Unknown',
  },
];

const subjectOf = (row: Row): Subject =>
  row.kind === 'Node'
    ? { kind: 'Node', name: 'worker-3' }
    : {
        kind: row.kind === 'unknown' ? 'Certificate' : row.kind === 'none' ? 'Cluster' : row.kind,
        name: 'x',
        namespace: NS,
      };

test('stage routing: the rule sends each subject kind only to the enricher that reads it', (t) => {
  for (const row of TABLE) t.deepEqual(planFor(subjectOf(row)), row.stages, row.kind);
  // enrich-pod reads an object by namespace and name: without them it could only say "Not enriched".
  t.deepEqual(planFor({ kind: 'Pod', name: 'api-1' }), DISPATCH, 'a pod without a namespace');
  t.deepEqual(planFor({ kind: 'Deployment', namespace: NS }), DISPATCH, 'a workload without a name');
  t.deepEqual(planFor({ kind: 'Node', node: 'worker-3' }), NODE_STAGES, 'a node named by `node` only');
  t.deepEqual(planFor({ kind: 'Node' }), DISPATCH, 'a node without a name');
  // A resolution only edits its thread.
  t.deepEqual(planFor({ kind: 'Pod', name: 'api-1', namespace: NS }, { status: 'resolved' }), DISPATCH);
  t.deepEqual(planFor({ kind: 'Node', name: 'worker-3' }, { status: 'resolved' }), DISPATCH);
});

test('stage routing: alerts through alert-ingest visit the stages of their subject kind', async (t) => {
  const sink = await startRecordingSink();
  t.teardown(() => sink.close());
  const mod = createAlertIngest({ K_SINK: sink.url, LOG_LEVEL: 'silent' });
  await mod.init?.();
  const fs = createFunctionServer(mod, { name: 'alert-ingest', log: captureLogs('alert-ingest').log });
  t.teardown(async () => {
    await fs.drain(100);
    await mod.shutdown?.();
  });
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  const alerts = TABLE.map((row, i) => ({
    status: 'firing',
    labels: { alertname: `Route${row.kind}`, severity: 'warning', ...row.labels },
    annotations: { summary: `about a ${row.kind}` },
    startsAt: '2026-03-01T09:55:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `route${String(i).padStart(11, '0')}`,
  }));
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '4', status: 'firing', receiver: 'kubeincident', alerts }),
  });
  t.is(res.status, 200);
  const sent = new Map<string, { next: unknown; issue: Issue }>();
  for (const r of sink.requests) {
    const event = decodeCloudEvent(r.headers, Buffer.from(r.body));
    const issue = parseIssueData(event.data);
    sent.set(issue.fingerprint, { next: event.nextstage, issue });
  }
  for (const [i, row] of TABLE.entries()) {
    const out = sent.get(alerts[i]?.fingerprint ?? '');
    if (!out) {
      t.fail(`no event for the ${row.kind} alert`);
      continue;
    }
    t.is(out.issue.subject.kind, row.alertSubject ?? row.kind, `${row.kind}: subject`);
    t.deepEqual(out.issue.plan, row.stages, `${row.kind}: plan`);
    t.is(out.next, row.stages[0], `${row.kind}: nextstage`);
  }
});

/** A core/v1 Warning Event about `row`'s object, as ApiServerSource delivers it. */
function eventAbout(row: Row, i: number) {
  const when = at(-30).toISOString();
  return {
    specversion: '1.0' as const,
    id: `ce-route-${i}`,
    source: 'https://10.96.0.1:443',
    type: 'dev.knative.apiserver.resource.add',
    datacontenttype: 'application/json',
    data: {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: {
        name: `route-${i}.1829f0c4b7e3d2a1`,
        namespace: NS,
        uid: `uid-route-${i}`,
        resourceVersion: '7001',
      },
      involvedObject: { ...row.event.involvedObject, uid: `obj-route-${i}` },
      reason: row.event.reason,
      message: `${row.event.reason} on ${row.kind}`,
      source: { component: 'test' },
      firstTimestamp: when,
      lastTimestamp: when,
      count: 1,
      type: 'Warning',
    },
  };
}

test('stage routing: Kubernetes Events through k8s-event-ingest visit the stages of their subject kind', async (t) => {
  const mod = createEventIngest({ LOG_LEVEL: 'silent' }, { now: () => at(0) });
  await mod.init?.();
  t.teardown(async () => {
    await mod.shutdown?.();
  });
  const ctx = {
    log: captureLogs('k8s-event-ingest').log,
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  } as unknown as InvocationContext;
  for (const [i, row] of TABLE.entries()) {
    const reply = (await mod.handle(ctx, new CloudEvent(eventAbout(row, i)))) as CloudEvent | undefined;
    if (!reply) {
      t.fail(`${row.kind}: no issue`);
      continue;
    }
    const issue = parseIssueData(reply.data);
    t.is(issue.subject.kind, row.eventSubject ?? row.kind, `${row.kind}: subject`);
    t.deepEqual(issue.plan, row.stages, `${row.kind}: plan`);
    t.is(reply.nextstage, row.stages[0], `${row.kind}: nextstage`);
  }
});

// Every enrich-pod and enrich-node part off, then turned back on by workflows for some issues.
const PARTS_OFF = `
workflows:
  podTroubleshooting:
    podInvestigator: { enabled: false }
    podLogs: { enabled: false }
    podEvents: { enabled: false }
    imagePullBackoff: { enabled: false }
    evicted: { enabled: false }
    pending: { enabled: false }
  oomKiller:
    podOomKillerEnricher: { enabled: false }
  nodeHealth:
    nodeStatus: { enabled: false }
    nodeAllocatable: { enabled: false }
    nodeRunningPods: { enabled: false }
customWorkflows:
  - name: payments-logs
    triggers: [{ on: alert, namespace: ${NS} }]
    actions: [{ podLogs: { tail: 50 } }]
  - name: node-down
    triggers: [{ on: alert, alertName: [KubeNodeNotReady] }]
    actions: [{ nodeStatus: {} }]
`;

const alertAbout = (subject: Subject, alertname = 'Route') =>
  makeIssue({
    subject,
    labels: { alertname, ...(subject.namespace ? { namespace: subject.namespace } : {}) },
  });

test('stage routing: custom workflow actions ask for an enricher, only for a subject it reads', (t) => {
  const config = parseConfig(PARTS_OFF, {});
  const plan = (issue: Issue) => planIssue(issue, config).issue;
  const pod = plan(alertAbout({ kind: 'Pod', name: 'api-1', namespace: NS }));
  t.deepEqual(pod?.plan, POD_STAGES, 'podLogs turns enrich-pod on for a payments pod');
  t.deepEqual(pod?.actions?.podLogs, { tail: 50 });
  t.deepEqual(plan(alertAbout({ kind: 'Pod', name: 'web-1', namespace: 'web' }))?.plan, DISPATCH);
  t.deepEqual(
    plan(alertAbout({ kind: 'PersistentVolumeClaim', name: 'ledger-data', namespace: NS }))?.plan,
    POD_STAGES,
    'enrich-pod reads a PVC (and the pods that use it) when a workflow asks',
  );
  t.deepEqual(
    plan(alertAbout({ kind: 'HorizontalPodAutoscaler', name: 'api', namespace: NS }))?.plan,
    DISPATCH,
    'enrich-pod reads no HPA, whatever a workflow asks',
  );
  const node = plan(alertAbout({ kind: 'Node', name: 'worker-3' }, 'KubeNodeNotReady'));
  t.deepEqual(node?.plan, NODE_STAGES, 'nodeStatus turns enrich-node on for that node');
  t.not(node?.actions?.nodeSections?.status, false, 'with its status section');
  t.deepEqual(
    plan(alertAbout({ kind: 'Node', name: 'worker-4' }, 'NodeFilesystemAlmostFull'))?.plan,
    DISPATCH,
  );
  t.deepEqual(
    plan(alertAbout({ kind: 'Pod', name: 'api-1', namespace: 'web' }, 'KubeNodeNotReady'))?.plan,
    DISPATCH,
    'nodeStatus does not send a pod to enrich-node',
  );

  // The defaults: every part on.
  t.deepEqual(
    planIssue(alertAbout({ kind: 'Node', name: 'worker-3' }), DEFAULT_CONFIG).issue?.plan,
    NODE_STAGES,
  );

  // enrich-pod's follow-up to an unhealthy node follows the same switches.
  t.deepEqual(nextStagesAfterPod({}, { unhealthyNode: 'worker-3' }), ['enrichnode']);
  t.deepEqual(nextStagesAfterPod({}, {}), []);
  t.deepEqual(nextStagesAfterPod({ actions: { nodeStatus: false } }, { unhealthyNode: 'worker-3' }), []);
  t.deepEqual(nextStagesAfterPod(pod ?? {}, { unhealthyNode: 'worker-3' }), []);
});
