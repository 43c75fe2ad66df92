// DaemonSets node by node: which nodes have no daemon pod and why (selector, affinity, taints the
// controller does not tolerate, a Pending pod), as pure functions and through enrich-pod at the TLS
// stand-in (the nodes listed page by page).
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { excludedBecause, nodeOfDaemonPod, nodesWithoutPod } from '../lib/domain/diagnose/daemonset.ts';
import type { TableBlock } from '../lib/domain/issue.ts';
import type { V1DaemonSet, V1Node, V1Pod } from '../lib/domain/kube.ts';
import { enrichPod } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';

const f = await loadKubeFixtures();
const ds = f.workloads.find(
  (w) => w.kind === 'DaemonSet' && w.metadata.name === 'log-shipper',
) as V1DaemonSet;
const nodes = f.nodes as V1Node[];
const pods = f.pods.filter((p) => p.metadata.name.startsWith('log-shipper-')) as V1Pod[];
const node = (name: string) => structuredClone(nodes.find((n) => n.metadata?.name === name)) as V1Node;

test('daemonset: taints the controller tolerates (pressure, unschedulable) keep a node; others leave it out', (t) => {
  t.is(
    excludedBecause(ds, node('node-7')),
    undefined,
    'memory-pressure:NoSchedule is tolerated by daemon pods',
  );
  t.is(
    excludedBecause(ds, node('worker-2')),
    'taint node.kubernetes.io/unreachable:NoSchedule not tolerated',
    'unreachable NoSchedule is not among the daemon tolerations (only its NoExecute is)',
  );
  t.is(excludedBecause(ds, node('worker-1')), 'required node affinity does not match', 'zone eu-west-1a');
  const gpu = node('worker-3');
  gpu.spec = { taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }] };
  t.is(excludedBecause(ds, gpu), 'taint nvidia.com/gpu=true:NoSchedule not tolerated');
  const tolerant = structuredClone(ds);
  const podSpec = tolerant.spec?.template?.spec as NonNullable<V1Pod['spec']>;
  podSpec.tolerations = [{ operator: 'Exists' }];
  t.is(excludedBecause(tolerant, gpu), undefined, 'an empty-key Exists toleration tolerates every taint');
  const windows = node('worker-3');
  (windows.metadata as { labels: Record<string, string> }).labels['kubernetes.io/os'] = 'windows';
  t.is(excludedBecause(ds, windows), 'nodeSelector kubernetes.io/os=linux does not match');
});

test('daemonset: a Pending daemon pod belongs to the node its affinity names; gaps list the ones that matter first', (t) => {
  const pending = pods.find((p) => !p.spec?.nodeName) as V1Pod;
  t.is(nodeOfDaemonPod(pending), 'node-7');
  t.deepEqual(nodesWithoutPod(ds, nodes, pods), [
    { node: 'node-7', why: 'pod log-shipper-v9t6w Unschedulable', expected: false },
    { node: 'worker-1', why: 'required node affinity does not match', expected: true },
    {
      node: 'worker-2',
      why: 'taint node.kubernetes.io/unreachable:NoSchedule not tolerated',
      expected: true,
    },
  ]);
  const noPending = pods.filter((p) => p !== pending);
  t.deepEqual(nodesWithoutPod(ds, nodes, noPending)[0], {
    node: 'node-7',
    why: 'no pod: the DaemonSet controller has not created one',
    expected: false,
  });
});

test('enrich-pod: a DaemonSet names the node that should run it and why it does not', async (t) => {
  const kube = await startKubeStandin();
  t.teardown(() => kube.close());
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const r = await enrichPod(
    makeIssue({ subject: { kind: 'DaemonSet', name: 'log-shipper', namespace: 'orders' } }),
    reader,
    { timeBudgetMs: 4000, logTailLines: 100, logLimitBytes: 16384, now: new Date('2026-03-10T12:00:00Z') },
  );
  t.regex(
    r.enrichment.verdict ?? '',
    /^DaemonSet log-shipper: 1\/2 ready; 1 Unschedulable; 1 node that should run it has no running pod \(node-7: pod log-shipper-v9t6w Unschedulable\)/,
  );
  const gaps = r.enrichment.blocks.find(
    (b): b is TableBlock => b.type === 'table' && b.title === 'Nodes without a log-shipper pod',
  );
  t.deepEqual(gaps?.rows, [
    ['node-7', 'pod log-shipper-v9t6w Unschedulable', 'no'],
    ['worker-1', 'required node affinity does not match', 'yes'],
    ['worker-2', 'taint node.kubernetes.io/unreachable:NoSchedule not tolerated', 'yes'],
  ]);
  const list = kube.requests.find((q) => q.path === '/api/v1/nodes');
  t.truthy(list?.query.limit, 'nodes are read in pages');
});
