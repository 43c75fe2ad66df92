// enrich-node logic: for a node issue, the node's conditions, capacity against what its pods
// request, taints and cordon, kubelet facts, its pods most troubled first and its recent events;
// for a pod issue whose node is unhealthy, a short section on that node. Within a time budget;
// API trouble becomes a note.

import {
  ago,
  eventsTable,
  failureNote,
  formatBytes,
  formatCpu,
  noteBlock,
  parseQuantity,
  truncate,
} from '../../domain/diagnose/describe.ts';
import { podProblem, podRequests } from '../../domain/diagnose/diagnose.ts';
import { nodeVerdict } from '../../domain/diagnose/node-health.ts';
import { podVerdict, selectContainer, troubleScore } from '../../domain/diagnose/pod-status.ts';
import type { Block, Issue, TableBlock } from '../../domain/issue.ts';
import type { KubeReader, V1Node, V1Pod } from '../../domain/kube.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import { type EnrichResult, nodeOf } from '../../domain/routing.ts';
import { attempt, startBudget } from './budget.ts';
import { type Collected, collectPages } from './pages.ts';

export { nodeVerdict };

export const SOURCE = 'enrich-node';

export interface NodeEnrichOptions {
  timeBudgetMs: number;
  now?: Date;
  /** Pods listed to sum requests and find troubled ones (pages of up to 250); default 500. */
  podLimit?: number;
  eventLimit?: number;
  /** Sections the configuration switched off (workflows.nodeHealth). */
  sections?: {
    status?: boolean | undefined;
    allocatable?: boolean | undefined;
    runningPods?: boolean | undefined;
  };
}

const CONDITION_ORDER = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'];
/** Node events worth a line even when the table is cut: reboots and OOM kills. */
const NOTABLE =
  /^(NodeNotReady|Rebooted|SystemOOM|OOMKilling|EvictionThresholdMet|NodeHasInsufficientMemory|NodeHasDiskPressure|FreeDiskSpaceFailed|ContainerGCFailed|ImageGCFailed|KernelOops)$/;

export async function enrichNode(
  issue: Issue,
  kube: KubeReader | undefined,
  opts: NodeEnrichOptions,
): Promise<EnrichResult> {
  // The same test routing plans with (planFor).
  const name = nodeOf(issue.subject);
  if (!name) {
    const text = 'Not enriched: the issue does not name a node.';
    return { enrichment: { source: SOURCE, blocks: [{ type: 'markdown', text }] } };
  }
  // On a pod or workload issue the node is context, not the subject: a short section only.
  const short = issue.subject.kind !== 'Node';
  const title = short ? `Node ${name} (where it runs)` : `Node ${name}`;
  if (!kube) {
    const text = 'No cluster access: node details and events were not gathered.';
    return { enrichment: { source: SOURCE, title, blocks: [{ type: 'markdown', text }] } };
  }
  const now = opts.now?.getTime() ?? Date.now();
  const budget = startBudget(opts.timeBudgetMs);
  try {
    const [nodeR, podsR, eventsR] = await Promise.all([
      attempt(budget.run((signal) => kube.readNode(name, { signal }))),
      short || (opts.sections?.runningPods === false && opts.sections?.allocatable === false)
        ? undefined
        : attempt(collectPages(budget, (o) => kube.listPodsOnNode(name, o), opts.podLimit ?? 500)),
      // Node events live in `default` with an empty involvedObject.namespace.
      attempt(collectPages(budget, (o) => kube.listEvents('default', { name, kind: 'Node', ...o }), 500)),
    ]);
    const notes: string[] = [];
    const blocks: Block[] = [];
    let verdict: string | undefined;
    const pods = podsR?.ok ? podsR.value : undefined;
    if (nodeR.ok) {
      const node = nodeR.value;
      verdict = nodeVerdict(node, now);
      const status = opts.sections?.status !== false;
      if (!short && status) blocks.push(nodeSummaryTable(node, now));
      if (status) blocks.push(conditionsTable(node, now, short));
      if (!short && opts.sections?.allocatable !== false) blocks.push(capacityTable(node, pods));
      const taints = status ? taintsTable(node, now) : undefined;
      if (taints) blocks.push(taints);
    } else {
      notes.push(failureNote('read the node', nodeR.error));
      if (isKubeApiError(nodeR.error) && nodeR.error.code === 404) {
        verdict = `Node ${name} not found: it was removed from the cluster`;
      }
    }
    if (podsR?.ok) {
      const table = opts.sections?.runningPods === false ? undefined : nodePodsTable(podsR.value.items, now);
      if (table) blocks.push(table);
      if (podsR.value.error) notes.push(failureNote('list all pods on the node', podsR.value.error));
    } else if (podsR) notes.push(failureNote('list the pods on the node', podsR.error));
    if (eventsR.ok) {
      const events = eventsR.value.items;
      const notable = events.filter((e) => NOTABLE.test(e.reason ?? ''));
      const oomKills = notable
        .filter((e) => e.reason === 'OOMKilling' || e.reason === 'SystemOOM')
        .reduce((n, e) => n + (e.count ?? e.series?.count ?? 1), 0);
      if (oomKills > 0 && verdict) verdict = truncate(`${verdict}; ${oomKills} OOM kills on the node`, 300);
      const table = eventsTable(short ? notable : events, now, short ? 5 : (opts.eventLimit ?? 10));
      if (table) blocks.push(table);
    } else {
      notes.push(failureNote('list events', eventsR.error));
    }
    blocks.push(...noteBlock(notes));
    // Files cut from these blocks are named after the node (`worker-1 conditions.txt`).
    return {
      enrichment:
        verdict === undefined
          ? { source: SOURCE, title, about: name, blocks }
          : { source: SOURCE, title, about: name, verdict, blocks },
    };
  } finally {
    budget.done();
  }
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

function conditionsTable(node: V1Node, now: number, short: boolean): TableBlock {
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
      truncate(c.message ?? '', short ? 100 : 200),
      ago(c.lastTransitionTime, now) ?? '',
    ]),
  };
}

const pct = (part: number, whole: number | undefined) =>
  whole ? ` (${Math.round((part / whole) * 100)}%)` : '';

/** Capacity, allocatable and the sum of requests of the pods still running there, as % of allocatable. */
function capacityTable(node: V1Node, pods: Collected<V1Pod> | undefined): TableBlock {
  const cap = node.status?.capacity ?? {};
  const alloc = node.status?.allocatable ?? {};
  const active = pods?.items.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const sum = { cpu: 0, memory: 0 };
  for (const p of active ?? []) {
    const r = podRequests(p);
    sum.cpu += r.cpu;
    sum.memory += r.memory;
  }
  const atLeast = pods && !pods.complete ? '≥ ' : '';
  const requested = (v: string) => (active ? `${atLeast}${v}` : 'unknown');
  const allocCpu = parseQuantity(alloc.cpu);
  const allocMem = parseQuantity(alloc.memory);
  const allocPods = parseQuantity(alloc.pods);
  const n = active?.length ?? 0;
  return {
    type: 'table',
    title: 'Capacity',
    headers: ['Resource', 'Capacity', 'Allocatable', 'Requested by pods'],
    rows: [
      [
        'cpu',
        formatCpu(parseQuantity(cap.cpu)),
        formatCpu(allocCpu),
        requested(`${formatCpu(sum.cpu)}${pct(sum.cpu, allocCpu)}`),
      ],
      [
        'memory',
        formatBytes(parseQuantity(cap.memory)),
        formatBytes(allocMem),
        requested(`${formatBytes(sum.memory)}${pct(sum.memory, allocMem)}`),
      ],
      ['pods', cap.pods ?? '-', alloc.pods ?? '-', requested(`${n}${pct(n, allocPods)}`)],
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

/** The node's pods that are not running and ready, most troubled first, capped. */
function nodePodsTable(pods: V1Pod[], now: number, cap = 10): TableBlock | undefined {
  const troubled = pods
    .map((p) => ({ p, problem: podProblem(p), c: selectContainer(p) }))
    .filter((x) => x.problem !== 'Healthy' && x.p.status?.phase !== 'Succeeded')
    .map((x) => ({ ...x, score: x.c ? troubleScore(x.c) : 0, restarts: x.c?.status?.restartCount ?? 0 }))
    .sort((a, b) => b.score - a.score || b.restarts - a.restarts);
  if (troubled.length === 0) return undefined;
  return {
    type: 'table',
    title:
      troubled.length > cap
        ? `Pods on this node in trouble (${cap} of ${troubled.length})`
        : 'Pods on this node in trouble',
    headers: ['Pod', 'Problem', 'Restarts', 'Detail'],
    rows: troubled
      .slice(0, cap)
      .map((x) => [
        `${x.p.metadata?.namespace}/${x.p.metadata?.name}`,
        x.problem,
        String(x.restarts),
        truncate(podVerdict(x.p, x.c, now), 160),
      ]),
  };
}
