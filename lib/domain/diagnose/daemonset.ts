// A DaemonSet read node by node: which nodes have no pod of it, and why. A node its nodeSelector,
// required node affinity or an untolerated taint leaves out is expected to have none; a node that
// should run it but has no pod, or only a Pending one, is what the on-call engineer is after. Pure.
import type { TableBlock } from '../issue.ts';
import type { V1DaemonSet, V1Node, V1Pod } from '../kube.ts';
import { podProblem } from './diagnose.ts';

type Toleration = NonNullable<NonNullable<V1Pod['spec']>['tolerations']>[number];
type Taint = NonNullable<NonNullable<V1Node['spec']>['taints']>[number];

/**
 * The tolerations the DaemonSet controller adds to every daemon pod (AddOrUpdateDaemonPodTolerations
 * in kubernetes/pkg/controller/daemon/util): a daemon pod stays through these node conditions.
 */
export const DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

export interface NodeGap {
  node: string;
  why: string;
  /** True when the DaemonSet is not meant to run there (selector, affinity, taint). */
  expected: boolean;
}

type Requirement = { key: string; operator: string; values?: string[] };

function matches(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case 'In':
      return v !== undefined && (r.values ?? []).includes(v);
    case 'NotIn':
      return v === undefined || !(r.values ?? []).includes(v);
    case 'Exists':
      return v !== undefined;
    case 'DoesNotExist':
      return v === undefined;
    default:
      // Gt, Lt and field selectors are not judged here: assume the node matches.
      return true;
  }
}

/** Why the template leaves this node out, or undefined when a daemon pod belongs there. */
export function excludedBecause(ds: V1DaemonSet, node: V1Node): string | undefined {
  const spec = ds.spec?.template?.spec;
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) {
    if (labels[k] !== v) return `nodeSelector ${k}=${v} does not match`;
  }
  const terms =
    spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms?.length && !terms.some((t) => (t.matchExpressions ?? []).every((r) => matches(labels, r)))) {
    return 'required node affinity does not match';
  }
  const tolerations = [...(spec?.tolerations ?? []), ...DAEMON_TOLERATIONS];
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tolerations.some((t) => tolerates(t, taint))) {
      return `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
    }
  }
  return undefined;
}

/** The node a daemon pod is for: where it runs, or the node its required affinity names while Pending. */
export function nodeOfDaemonPod(pod: V1Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  for (const t of terms ?? []) {
    const f = t.matchFields?.find((m) => m.key === 'metadata.name' && m.operator === 'In');
    if (f?.values?.[0]) return f.values[0];
  }
  return undefined;
}

/** Every node without a running daemon pod and why, those that should run one first. */
export function nodesWithoutPod(ds: V1DaemonSet, nodes: V1Node[], pods: V1Pod[]): NodeGap[] {
  const byNode = new Map<string, V1Pod>();
  for (const p of pods) {
    const n = nodeOfDaemonPod(p);
    if (n && !p.metadata?.deletionTimestamp) byNode.set(n, p);
  }
  const st = ds.status;
  const allScheduled = st !== undefined && st.currentNumberScheduled >= st.desiredNumberScheduled;
  const gaps: NodeGap[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? '';
    const pod = byNode.get(name);
    const excluded = excludedBecause(ds, node);
    if (pod?.spec?.nodeName) continue;
    if (pod) gaps.push({ node: name, why: `pod ${pod.metadata?.name} ${podProblem(pod)}`, expected: false });
    else if (excluded) gaps.push({ node: name, why: excluded, expected: true });
    else if (allScheduled) {
      // The controller counts every node that should run a pod as scheduled: this one is left out
      // by a rule not judged here (an affinity operator, a field selector).
      gaps.push({ node: name, why: 'not a node the controller schedules it on', expected: true });
    } else
      gaps.push({ node: name, why: 'no pod: the DaemonSet controller has not created one', expected: false });
  }
  return gaps.sort((a, b) => Number(a.expected) - Number(b.expected) || a.node.localeCompare(b.node));
}

export function gapsTable(name: string, gaps: NodeGap[], cap = 20): TableBlock {
  return {
    type: 'table',
    title:
      gaps.length > cap
        ? `Nodes without a ${name} pod (${cap} of ${gaps.length})`
        : `Nodes without a ${name} pod`,
    headers: ['Node', 'Why', 'Expected'],
    rows: gaps.slice(0, cap).map((g) => [g.node, g.why, g.expected ? 'yes' : 'no']),
  };
}

/** "1 node that should run it has no running pod (node-7: pod x Unschedulable)" */
export function gapsHeadline(gaps: NodeGap[]): string | undefined {
  const missing = gaps.filter((g) => !g.expected);
  if (missing.length === 0) return undefined;
  const first = missing[0] as NodeGap;
  const n = missing.length;
  return `${n} node${n === 1 ? '' : 's'} that should run it ${n === 1 ? 'has' : 'have'} no running pod (${first.node}: ${first.why}${n > 1 ? ', …' : ''})`;
}
