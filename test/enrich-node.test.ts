// enrich-node at the Kubernetes boundary: real adapter, TLS stand-in API server, real-shaped
// Node fixtures; API failures become notes.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import type { Block, Enrichment, TableBlock } from '../lib/domain/issue.ts';
import type { V1Node } from '../lib/domain/kube.ts';
import { nodeOf } from '../lib/domain/routing.ts';
import { enrichNode, nodeVerdict } from '../lib/stages/enrich/node.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const fixtures = await loadKubeFixtures();

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

const nodeIssue = (name: string) => makeIssue({ subject: { kind: 'Node', name } });
const table = (e: Enrichment, title: string) =>
  e.blocks.find((b): b is TableBlock => b.type === 'table' && b.title === title);
const notes = (e: Enrichment) =>
  e.blocks
    .filter((b): b is Extract<Block, { type: 'markdown' }> => b.type === 'markdown')
    .map((b) => b.text)
    .join('\n');
const row = (t: TableBlock | undefined, key: string) => t?.rows.find((r) => r[0] === key);

test('enrich-node: a node whose kubelet stopped reporting is NotReady, cordoned and tainted', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichNode(nodeIssue('worker-2'), reader, { timeBudgetMs: 4000, now: NOW });
  t.is(e.title, 'Node worker-2');
  t.is(e.about, 'worker-2', 'files cut from it are named after the node');
  t.is(
    e.verdict,
    'NotReady: node worker-2 Ready=Unknown for 8m (NodeStatusUnknown: Kubelet stopped posting node status.), cordoned',
  );
  const conditions = table(e, 'Conditions');
  t.deepEqual(
    conditions?.rows.map((r) => r[0]),
    ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'],
  );
  t.deepEqual(conditions?.rows[0]?.slice(0, 3), ['Ready', 'Unknown', 'NodeStatusUnknown']);
  t.deepEqual(row(table(e, 'Node'), 'Schedulable'), ['Schedulable', 'no (cordoned)']);
  t.deepEqual(row(table(e, 'Node'), 'Kubelet version'), ['Kubelet version', 'v1.31.4-eks-aeac579']);
  t.deepEqual(
    table(e, 'Taints')?.rows.map((r) => `${r[0]}:${r[2]}`),
    [
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ],
  );
  t.deepEqual(
    table(e, 'Recent events')?.rows.map((r) => r[1]),
    ['NodeNotSchedulable', 'NodeNotReady'],
  );
  t.is(notes(e), '');
});

test('enrich-node: a healthy node shows capacity, allocatable, pod requests and its troubled pods', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichNode(nodeIssue('worker-1'), reader, { timeBudgetMs: 4000, now: NOW });
  t.is(e.verdict, 'Healthy: node worker-1 is Ready with no pressure conditions; 3 OOM kills on the node');
  const cap = table(e, 'Capacity');
  // 250m + 100m + 50m + 500m + 10m of the four fixture pods; 256Mi + 128Mi + 128Mi + 1Gi + 32Mi.
  // Requests are shown against allocatable, absolute and as a share.
  t.deepEqual(row(cap, 'cpu'), ['cpu', '4', '3.92', '910m (23%)']);
  t.deepEqual(row(cap, 'memory'), ['memory', '15.3Gi', '14.4Gi', '1.5Gi (11%)']);
  t.deepEqual(row(cap, 'pods'), ['pods', '58', '58', '4 (7%)']);
  t.deepEqual(row(table(e, 'Node'), 'Age'), ['Age', '57d']);
  t.is(table(e, 'Taints'), undefined);
  // Most troubled first: the crash loop, the recent OOM kill, then the sidecar merely not ready.
  t.deepEqual(
    table(e, 'Pods on this node in trouble')?.rows.map((r) => [r[0], r[1], r[2]]),
    [
      ['payments/api-7d9f8b6c5d-x2x4q', 'CrashLoopBackOff', '5'],
      ['payments/worker-5c8d7f9b4-k7wzp', 'OOMKilled', '3'],
      ['payments/ledger-0', 'NotReady', '2'],
    ],
  );
  t.deepEqual(
    table(e, 'Recent events')?.rows.map((r) => r[1]),
    ['SystemOOM'],
  );
});

test('enrich-node: a forbidden node read becomes a note; pods and events are still shown', async (t) => {
  const own = await startKubeStandin({ faults: [{ path: /^\/api\/v1\/nodes\//, status: 403 }] });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath });
  const { enrichment: e } = await enrichNode(nodeIssue('worker-1'), reader, { timeBudgetMs: 4000, now: NOW });
  t.is(notes(e), 'Could not read the node: forbidden (403)');
  t.is(e.verdict, undefined);
  t.truthy(table(e, 'Recent events'));
  t.is(table(e, 'Conditions'), undefined);
});

test('enrich-node: a node that is gone gives a not-found verdict', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichNode(nodeIssue('worker-9'), reader, { timeBudgetMs: 4000, now: NOW });
  t.is(e.verdict, 'Node worker-9 not found: it was removed from the cluster');
  t.regex(notes(e), /^Could not read the node: not found \(404\)$/);
});

test('enrich-node: without cluster access the enrichment says so', async (t) => {
  const { enrichment: e } = await enrichNode(nodeIssue('worker-1'), undefined, { timeBudgetMs: 1000 });
  t.is(notes(e), 'No cluster access: node details and events were not gathered.');
});

test('enrich-node: the node is the subject itself or the node a pod subject runs on', (t) => {
  t.is(nodeOf(nodeIssue('worker-1').subject), 'worker-1');
  t.is(nodeOf({ kind: 'Pod', name: 'p', namespace: 'n', node: 'worker-3' }), 'worker-3');
  t.is(nodeOf({ kind: 'Pod', name: 'p', namespace: 'n' }), undefined);
});

test('enrich-node: memory pressure on a Ready node is the verdict', (t) => {
  const node = structuredClone(fixtures.nodes.find((n) => n.metadata.name === 'worker-1')) as V1Node & {
    status: { conditions: Array<Record<string, string>> };
  };
  const mem = node.status.conditions.find((c) => c.type === 'MemoryPressure');
  Object.assign(mem ?? {}, { status: 'True', reason: 'KubeletHasInsufficientMemory' });
  t.is(
    nodeVerdict(node, NOW.getTime()),
    'MemoryPressure: node worker-1 is Ready but reports MemoryPressure (KubeletHasInsufficientMemory)',
  );
  node.spec = { ...node.spec, unschedulable: true };
  t.regex(nodeVerdict(node, NOW.getTime()), /, cordoned$/);
});
