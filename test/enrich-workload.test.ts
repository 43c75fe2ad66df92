// enrich-pod on workload subjects at the Kubernetes boundary: the real adapter reads the workload,
// lists its pods through the selector page by page from the TLS stand-in, and investigates the
// unhealthy ones; Jobs say why they failed.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { compileRedactPatterns } from '../lib/domain/diagnose/redact.ts';
import { type Block, Enrichment, type FileBlock, type Issue, type TableBlock } from '../lib/domain/issue.ts';
import { startBudget } from '../lib/stages/enrich/budget.ts';
import { collectPages } from '../lib/stages/enrich/pages.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS: PodEnrichOptions = {
  logTailLines: 100,
  logLimitBytes: 16 * 1024,
  timeBudgetMs: 4000,
  now: NOW,
  redactPatterns: compileRedactPatterns(undefined),
};

// Serial: several tests read the shared stand-in's request log.
let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

const issueFor = (kind: string, name: string, namespace = 'shop'): Issue =>
  makeIssue({ subject: { kind, name, namespace } });
const table = (e: Enrichment, title: string) =>
  e.blocks.find((b): b is TableBlock => b.type === 'table' && b.title === title);
const list = (e: Enrichment, prefix: string) =>
  e.blocks.find(
    (b): b is Extract<Block, { type: 'list' }> => b.type === 'list' && (b.title ?? '').startsWith(prefix),
  );
const files = (e: Enrichment) => e.blocks.filter((b): b is FileBlock => b.type === 'file');

test.serial(
  'enrich-pod: a Deployment names how many pods are ready and where the unhealthy ones fail',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const r = await enrichPod(issueFor('Deployment', 'checkout'), reader, OPTS);
    const e = r.enrichment;
    t.notThrows(() => Enrichment.parse(e));
    t.is(e.title, 'Deployment shop/checkout');
    t.is(e.about, 'checkout', 'files cut from it are named after the workload');
    t.regex(
      e.verdict ?? '',
      /^Deployment checkout: 3\/5 ready; 2 in CrashLoopBackOff on node-7 — OOMKilled: container checkout hit its 256Mi memory limit/,
    );
    // The pods were found through the selector, with a page limit.
    const list_ = kube.requests.findLast((req) => req.path === '/api/v1/namespaces/shop/pods');
    t.is(list_?.query.labelSelector, 'app.kubernetes.io/name=checkout');
    t.is(list_?.query.limit, '250');
    t.deepEqual(
      table(e, 'Pods not ready')?.rows.map((row) => [row[1], row[2]]),
      [
        ['node-7', 'CrashLoopBackOff'],
        ['node-7', 'CrashLoopBackOff'],
      ],
    );
    const oom = list(e, 'Diagnosis: out of memory');
    t.truthy(oom);
    t.true(oom?.items.includes('Container checkout: memory limit 256Mi, request 128Mi'));
    t.true(oom?.items.includes('Node node-7: MemoryPressure'));
    t.regex(oom?.items.at(-1) ?? '', /^Hint: the node is under memory pressure too/);
    t.is(files(e).length, 2, 'both crash-looping pods have their previous logs');
    t.regex(files(e)[0]?.content ?? '', /catalogue cache warmed/);
    t.deepEqual(
      table(e, 'Deployment checkout')?.rows.find((row) => row[0] === 'Available'),
      ['Available', '3'],
    );
    t.is(r.subject?.node, 'node-7');
    t.is(r.unhealthyNode, 'node-7');
  },
);

test.serial(
  'enrich-pod: a workload with more pods than the limit says it read only part of them',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const { enrichment: e } = await enrichPod(issueFor('Deployment', 'checkout'), reader, {
      ...OPTS,
      podLimit: 3,
    });
    t.regex(e.verdict ?? '', /^Deployment checkout: \d\/5 ready \(of the first 3 pods read\)/);
  },
);

test.serial('enrich-pod: pod lists follow continue tokens page by page up to the cap', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const budget = startBudget(4000);
  t.teardown(() => budget.done());
  const before = kube.requests.length;
  const sel = 'app.kubernetes.io/name=checkout';
  const all = await collectPages(budget, (o) => reader.listPods('shop', sel, o), 100, 2);
  t.is(all.items.length, 5);
  t.true(all.complete);
  const pages = kube.requests.slice(before).filter((r) => r.path === '/api/v1/namespaces/shop/pods');
  t.deepEqual(
    pages.map((p) => [p.query.limit, p.query.continue === undefined]),
    [
      ['2', true],
      ['2', false],
      ['2', false],
    ],
  );
  const capped = await collectPages(budget, (o) => reader.listPods('shop', sel, o), 3, 2);
  t.deepEqual([capped.items.length, capped.complete], [3, false]);
  // A set-based selector is honoured like the API server does.
  const notin = await reader.listPods('shop', 'app.kubernetes.io/name in (cart,billing)');
  t.deepEqual(notin.items.map((p) => p.metadata?.name).sort(), [
    'billing-6c9d7f8b5-p2m7x',
    'cart-5d4c8b7f6-qz8mn',
  ]);
});

test.serial(
  'enrich-pod: a failed Job gives the backoff limit, the exit codes and redacted logs of its pods',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const { enrichment: e } = await enrichPod(issueFor('Job', 'nightly-report-29541600'), reader, OPTS);
    t.is(
      e.verdict,
      'BackoffLimitExceeded: job nightly-report-29541600 failed 3 times (backoffLimit 2); last exit 2 (application error)',
    );
    const diag = list(e, 'Diagnosis: job failed');
    t.deepEqual(diag?.items, [
      'Condition Failed=True: BackoffLimitExceeded: Job has reached the specified backoff limit',
      'Failed pods: 3 (backoffLimit 2): limit reached',
      'Exit codes: 2 (application error)',
    ]);
    t.deepEqual(
      table(e, 'Failed pods')?.rows.map((r) => [r[0], r[2]]),
      [
        ['nightly-report-29541600-t7xbc', '2 (application error)'],
        ['nightly-report-29541600-8wq2n', '2 (application error)'],
        ['nightly-report-29541600-4mzqk', '2 (application error)'],
      ],
    );
    const logs = files(e);
    t.is(logs.length, 3);
    for (const f of logs) {
      t.regex(f.content, /relation "orders_2026_03" does not exist/);
      t.notRegex(f.content, /s3cr3t-Pa55|AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI|eyJhbGciOi/);
      t.regex(f.content, /postgres:\/\/report:\[REDACTED\]@orders-db/);
      t.regex(f.title ?? '', /4 secrets redacted/);
    }
    t.truthy(table(e, 'Recent events of the Job'));
  },
);

test.serial(
  'enrich-pod: a StatefulSet with an unschedulable pod names the scheduler causes and the unbound PVC',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const r = await enrichPod(issueFor('StatefulSet', 'search'), reader, OPTS);
    t.is(
      r.enrichment.verdict,
      "StatefulSet search: 2/3 ready; 1 Unschedulable — Unschedulable: 0/6 nodes are available: 3 × node(s) didn't match Pod's node affinity/selector, 2 × Insufficient memory, 1 × node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }; unbound PVC data-search-2",
    );
    const diag = list(r.enrichment, 'Diagnosis: cannot be scheduled');
    t.true(diag?.items.includes('Requests: cpu 2, memory 8Gi'));
    t.true(diag?.items.includes('Node selector: node.kubernetes.io/instance-type=r6i.xlarge'));
    t.true(diag?.items.includes('Unbound PVC data-search-2: Pending, storage class gp3-encrypted, 100Gi'));
    t.true(
      kube.requests.some((q) => q.path === '/api/v1/namespaces/shop/persistentvolumeclaims/data-search-2'),
    );
    t.is(r.subject, undefined, 'an unscheduled pod has no node to chain to');
  },
);

test.serial('enrich-pod: a DaemonSet pod on a NotReady node sends the issue on to that node', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const r = await enrichPod(issueFor('DaemonSet', 'node-agent', 'kube-system'), reader, OPTS);
  t.regex(r.enrichment.verdict ?? '', /^DaemonSet node-agent: 2\/3 ready; 1 in NotReady on worker-2/);
  t.is(r.unhealthyNode, 'worker-2');
  t.is(r.subject?.node, 'worker-2');
});

test.serial(
  'enrich-pod: a workload that is gone gets a not-found verdict; a forbidden one a note',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const { enrichment: gone } = await enrichPod(issueFor('ReplicaSet', 'checkout-0000000000'), reader, OPTS);
    t.is(gone.verdict, 'ReplicaSet shop/checkout-0000000000 not found: it was deleted');
    const own = await startKubeStandin({ faults: [{ path: /^\/apis\/apps\//, status: 403 }] });
    t.teardown(() => own.close());
    const r2 = await createKubeReader({ kubeconfigPath: own.kubeconfigPath });
    const { enrichment: e } = await enrichPod(issueFor('Deployment', 'checkout'), r2, OPTS);
    t.is(e.verdict, undefined);
    t.regex(
      e.blocks.map((b) => (b.type === 'markdown' ? b.text : '')).join(''),
      /Could not read the Deployment: forbidden \(403\)/,
    );
  },
);

test.serial(
  'enrich-pod: a slow pod list is cut by the budget and the workload status still goes out',
  async (t) => {
    const own = await startKubeStandin({ faults: [{ path: /\/namespaces\/shop\/pods$/, delayMs: 60_000 }] });
    t.teardown(() => own.close());
    const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath });
    const started = Date.now();
    const { enrichment: e } = await enrichPod(issueFor('Deployment', 'checkout'), reader, {
      ...OPTS,
      timeBudgetMs: 500,
    });
    // A 60 s delay against a 0.5 s budget: far apart, so a loaded machine cannot blur them.
    t.true(Date.now() - started < 30_000, 'the 60 s delay was not waited out');
    t.truthy(table(e, 'Deployment checkout'));
    t.regex(e.verdict ?? '', /^Deployment checkout: 0\/5 ready/);
    t.regex(
      e.blocks.map((b) => (b.type === 'markdown' ? b.text : '')).join(''),
      /Could not list its pods: time budget of 500ms spent/,
    );
  },
);
