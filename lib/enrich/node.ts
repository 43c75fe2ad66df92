// enrich-node logic: the node's conditions, capacity against what its pods request, taints and
// cordon, kubelet facts and its recent events, within a time budget. API trouble becomes a note.
import type { Block, Enrichment, Issue, TableBlock } from '../issue.ts';
import type { KubeReader, Page, V1Node, V1Pod } from '../k8s/api.ts';
import { isKubeApiError } from '../k8s/errors.ts';
import { attempt, startBudget } from './budget.ts';
import {
  ago,
  eventsTable,
  failureNote,
  formatBytes,
  formatCpu,
  formatDuration,
  noteBlock,
  parseQuantity,
  toMillis,
  truncate,
} from './describe.ts';
import { podVerdict, selectContainer } from './pod-status.ts';

export const SOURCE = 'enrich-node';

export interface NodeEnrichOptions {
  timeBudgetMs: number;
  now?: Date;
  /** Pods listed to sum requests and find troubled ones; default 500. */
  podLimit?: number;
  eventLimit?: number;
}

const CONDITION_ORDER = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'];
const PRESSURE = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'];

/** The node an issue is about: the subject itself, or the node a pod subject runs on. */
export function nodeOf(issue: Issue): string | undefined {
  return issue.subject.kind === 'Node' ? (issue.subject.name ?? issue.subject.node) : issue.subject.node;
}

export async function enrichNode(
  issue: Issue,
  kube: KubeReader | undefined,
  opts: NodeEnrichOptions,
): Promise<Enrichment> {
  const name = nodeOf(issue);
  if (!name)
    return {
      source: SOURCE,
      blocks: [{ type: 'markdown', text: 'Not enriched: the issue does not name a node.' }],
    };
  const title = `Node ${name}`;
  if (!kube) {
    return {
      source: SOURCE,
      title,
      blocks: [{ type: 'markdown', text: 'No cluster access: node details and events were not gathered.' }],
    };
  }
  const now = opts.now?.getTime() ?? Date.now();
  const podLimit = opts.podLimit ?? 500;
  const budget = startBudget(opts.timeBudgetMs);
  try {
    const [nodeR, podsR, eventsR] = await Promise.all([
      attempt(budget.run((signal) => kube.readNode(name, { signal }))),
      attempt(budget.run((signal) => kube.listPodsOnNode(name, { limit: podLimit, signal }))),
      // Node events live in `default` with an empty involvedObject.namespace.
      attempt(budget.run((signal) => kube.listEvents('default', { name, kind: 'Node', signal }))),
    ]);
    const notes: string[] = [];
    const blocks: Block[] = [];
    let verdict: string | undefined;
    if (nodeR.ok) {
      const node = nodeR.value;
      verdict = nodeVerdict(node, now);
      blocks.push(nodeSummaryTable(node, now), conditionsTable(node, now));
      blocks.push(capacityTable(node, podsR.ok ? podsR.value : undefined));
      const taints = taintsTable(node, now);
      if (taints) blocks.push(taints);
    } else {
      notes.push(failureNote('read the node', nodeR.error));
      if (isKubeApiError(nodeR.error) && nodeR.error.code === 404) {
        verdict = `Node ${name} not found: it was removed from the cluster`;
      }
    }
    if (podsR.ok) {
      const troubled = troubledPods(podsR.value.items, now);
      if (troubled.length > 0) {
        blocks.push({ type: 'list', title: 'Pods on this node in trouble', items: troubled.slice(0, 10) });
      }
    } else {
      notes.push(failureNote('list the pods on the node', podsR.error));
    }
    if (eventsR.ok) {
      const table = eventsTable(eventsR.value, now, opts.eventLimit ?? 10);
      if (table) blocks.push(table);
    } else {
      notes.push(failureNote('list events', eventsR.error));
    }
    blocks.push(...noteBlock(notes));
    return verdict === undefined
      ? { source: SOURCE, title, blocks }
      : { source: SOURCE, title, verdict, blocks };
  } finally {
    budget.done();
  }
}

export function nodeVerdict(node: V1Node, now: number): string {
  const name = node.metadata?.name ?? 'unknown';
  const conds = node.status?.conditions ?? [];
  const cordoned = node.spec?.unschedulable === true;
  const ready = conds.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    const since = toMillis(ready?.lastTransitionTime);
    const detail = ready ? ` (${[ready.reason, ready.message].filter(Boolean).join(': ')})` : '';
    return truncate(
      `NotReady: node ${name} Ready=${ready?.status ?? 'missing'}${since === undefined ? '' : ` for ${formatDuration(now - since)}`}${detail}${cordoned ? ', cordoned' : ''}`,
      300,
    );
  }
  const pressing = conds.filter((c) => PRESSURE.includes(c.type) && c.status === 'True');
  if (pressing.length > 0) {
    const reasons = pressing.map((c) => c.reason).filter(Boolean);
    return truncate(
      `${pressing.map((c) => c.type).join(', ')}: node ${name} is Ready but reports ${pressing.map((c) => c.type).join(' and ')}${reasons.length ? ` (${reasons.join(', ')})` : ''}${cordoned ? ', cordoned' : ''}`,
      300,
    );
  }
  if (cordoned) return `Cordoned: node ${name} is Ready but unschedulable`;
  return `Healthy: node ${name} is Ready with no pressure conditions`;
}

function nodeSummaryTable(node: V1Node, now: number): TableBlock {
  const labels = node.metadata?.labels ?? {};
  const info = node.status?.nodeInfo;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const rows: string[][] = [
    ['Ready', ready?.status ?? 'unknown'],
    ['Schedulable', node.spec?.unschedulable ? 'no (cordoned)' : 'yes'],
  ];
  const add = (k: string, v: string | undefined) => {
    if (v) rows.push([k, v]);
  };
  add('Kubelet version', info?.kubeletVersion);
  add('Age', ago(node.metadata?.creationTimestamp, now)?.replace(/ ago$/, ''));
  add('Instance type', labels['node.kubernetes.io/instance-type']);
  add('Zone', labels['topology.kubernetes.io/zone']);
  add('Internal IP', node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
  add('OS image', info?.osImage);
  add('Kernel', info?.kernelVersion);
  add('Container runtime', info?.containerRuntimeVersion);
  return { type: 'table', title: 'Node', headers: ['Field', 'Value'], rows };
}

function conditionsTable(node: V1Node, now: number): TableBlock {
  const rank = (t: string) => {
    const i = CONDITION_ORDER.indexOf(t);
    return i < 0 ? CONDITION_ORDER.length : i;
  };
  const conds = [...(node.status?.conditions ?? [])].sort((a, b) => rank(a.type) - rank(b.type));
  return {
    type: 'table',
    title: 'Conditions',
    headers: ['Condition', 'Status', 'Reason', 'Message', 'Last transition'],
    rows: conds.map((c) => [
      c.type,
      c.status,
      c.reason ?? '',
      truncate(c.message ?? '', 200),
      ago(c.lastTransitionTime, now) ?? '',
    ]),
  };
}

/** Capacity, allocatable and the sum of requests of the pods still running there. */
function capacityTable(node: V1Node, pods: Page<V1Pod> | undefined): TableBlock {
  const cap = node.status?.capacity ?? {};
  const alloc = node.status?.allocatable ?? {};
  const active = pods?.items.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const sum = (res: string) =>
    active?.reduce(
      (total, p) =>
        total +
        (p.spec?.containers ?? []).reduce(
          (s, c) => s + (parseQuantity(c.resources?.requests?.[res]) ?? 0),
          0,
        ),
      0,
    );
  const atLeast = pods?.more ? '≥ ' : '';
  const requested = (v: string) => (active ? `${atLeast}${v}` : 'unknown');
  return {
    type: 'table',
    title: 'Capacity',
    headers: ['Resource', 'Capacity', 'Allocatable', 'Requested by pods'],
    rows: [
      [
        'cpu',
        formatCpu(parseQuantity(cap.cpu)),
        formatCpu(parseQuantity(alloc.cpu)),
        requested(formatCpu(sum('cpu'))),
      ],
      [
        'memory',
        formatBytes(parseQuantity(cap.memory)),
        formatBytes(parseQuantity(alloc.memory)),
        requested(formatBytes(sum('memory'))),
      ],
      ['pods', cap.pods ?? '-', alloc.pods ?? '-', requested(String(active?.length ?? 0))],
      [
        'ephemeral-storage',
        formatBytes(parseQuantity(cap['ephemeral-storage'])),
        formatBytes(parseQuantity(alloc['ephemeral-storage'])),
        '-',
      ],
    ],
  };
}

function taintsTable(node: V1Node, now: number): TableBlock | undefined {
  const taints = node.spec?.taints ?? [];
  if (taints.length === 0) return undefined;
  return {
    type: 'table',
    title: 'Taints',
    headers: ['Key', 'Value', 'Effect', 'Added'],
    rows: taints.map((t) => [t.key, t.value ?? '', t.effect, ago(t.timeAdded, now) ?? '']),
  };
}

/** "payments/api-7d9f8b6c5d-x2x4q: CrashLoopBackOff: ..." for pods not running and ready. */
function troubledPods(pods: V1Pod[], now: number): string[] {
  return pods
    .filter((p) => {
      const phase = p.status?.phase;
      if (phase === 'Succeeded') return false;
      return phase !== 'Running' || (p.status?.containerStatuses ?? []).some((c) => !c.ready);
    })
    .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}: ${podVerdict(p, selectContainer(p), now)}`);
}
