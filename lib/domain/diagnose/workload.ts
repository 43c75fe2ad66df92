// A workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) read as an on-call engineer
// reads it: how many pods are ready, which are not and why, where; for Jobs, why they failed.
// Pure functions of the workload object and its pods.
import type { Block, TableBlock } from '../issue.ts';
import type { V1Job, V1Pod, Workload, WorkloadKind } from '../kube.ts';
import { labelSelectorString } from '../kube.ts';
import { ago, formatExit, pluralize, toMillis, truncate } from './describe.ts';
import { podProblem, podReady } from './diagnose.ts';
import { selectContainer } from './pod-status.ts';

/** The label selector of the workload's pods; undefined when it has none usable. */
export function workloadSelector(w: Workload): string | undefined {
  return labelSelectorString(w.spec?.selector);
}

/** How many pods the workload wants running (a Job: how many may run at once). */
export function desiredPods(kind: WorkloadKind, w: Workload): number | undefined {
  if (kind === 'DaemonSet')
    return (w as { status?: { desiredNumberScheduled?: number } }).status?.desiredNumberScheduled;
  if (kind === 'Job') return (w as V1Job).spec?.parallelism ?? 1;
  return (w.spec as { replicas?: number } | undefined)?.replicas ?? 1;
}

export interface PodGroup {
  problem: string;
  nodes: string[];
  pods: V1Pod[];
}

export interface WorkloadView {
  /** "3/5 ready; 2 in CrashLoopBackOff on node-7" */
  headline: string;
  ready: number;
  /** Unhealthy pods, worst first. */
  unhealthy: V1Pod[];
  groups: PodGroup[];
}

const RANK: Record<string, number> = { Healthy: 0, Pending: 1, NotReady: 2 };
const restarts = (p: V1Pod) =>
  Math.max(
    0,
    ...[...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].map(
      (s) => s.restartCount ?? 0,
    ),
  );

export function viewWorkload(
  kind: WorkloadKind,
  w: Workload,
  pods: V1Pod[],
  listedAll: boolean,
): WorkloadView {
  // Finished Job pods and pods on their way out are history, not the workload's current state.
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const ready = live.filter((p) => podReady(p) || p.status?.phase === 'Succeeded').length;
  const unhealthy = live
    .map((p) => ({ p, problem: podProblem(p) }))
    .filter((x) => x.problem !== 'Healthy')
    .sort((a, b) => (RANK[b.problem] ?? 3) - (RANK[a.problem] ?? 3) || restarts(b.p) - restarts(a.p));
  const groups: PodGroup[] = [];
  for (const { p, problem } of unhealthy) {
    let g = groups.find((x) => x.problem === problem);
    if (!g) {
      g = { problem, nodes: [], pods: [] };
      groups.push(g);
    }
    g.pods.push(p);
    const node = p.spec?.nodeName;
    if (node && !g.nodes.includes(node)) g.nodes.push(node);
  }
  const desired = desiredPods(kind, w);
  const of = desired === undefined ? `${live.length}` : `${desired}`;
  const parts = g2s(groups);
  if (kind !== 'Job' && live.length === 0) parts.push('no pods match its selector');
  const head = `${ready}/${of} ready${listedAll ? '' : ` (of the first ${live.length} pods read)`}`;
  const headline = parts.length ? `${head}; ${parts.join(', ')}` : head;
  return { headline, ready, unhealthy: unhealthy.map((x) => x.p), groups };
}

// States read "2 in CrashLoopBackOff"; outcomes read "1 Evicted".
const OUTCOMES = new Set(['Evicted', 'Unschedulable', 'OOMKilled', 'Error', 'Failed']);

function g2s(groups: PodGroup[]): string[] {
  return groups.map((g) => {
    const where =
      g.nodes.length === 0
        ? ''
        : g.nodes.length <= 2
          ? ` on ${g.nodes.join(', ')}`
          : ` on ${g.nodes.length} nodes`;
    return `${g.pods.length}${OUTCOMES.has(g.problem) ? '' : ' in'} ${g.problem}${where}`;
  });
}

/** Up to `n` pods to look into, one per (problem, node) first so different failures all show. */
export function podsToInvestigate(view: WorkloadView, n: number): V1Pod[] {
  const picked: V1Pod[] = [];
  const seen = new Set<string>();
  for (const p of view.unhealthy) {
    const key = `${podProblem(p)}@${p.spec?.nodeName ?? ''}`;
    if (seen.has(key) || picked.length >= n) continue;
    seen.add(key);
    picked.push(p);
  }
  for (const p of view.unhealthy) if (picked.length < n && !picked.includes(p)) picked.push(p);
  return picked;
}

export function workloadTable(kind: WorkloadKind, w: Workload, now: number): TableBlock {
  const s = (w.status ?? {}) as Record<string, unknown>;
  const rows: string[][] = [];
  const add = (k: string, v: unknown) => {
    if (v !== undefined && v !== null) rows.push([k, String(v)]);
  };
  if (kind === 'DaemonSet') {
    add('Desired', s.desiredNumberScheduled);
    add('Ready', s.numberReady ?? 0);
    add('Available', s.numberAvailable ?? 0);
    add('Unavailable', s.numberUnavailable);
    add('Misscheduled', s.numberMisscheduled);
  } else if (kind === 'Job') {
    const spec = (w as V1Job).spec;
    add('Completions', `${s.succeeded ?? 0}/${spec?.completions ?? 1}`);
    add('Failed pods', s.failed ?? 0);
    add('Active', s.active ?? 0);
    add('Backoff limit', spec?.backoffLimit ?? 6);
    add('Started', ago(s.startTime as string | undefined, now));
  } else {
    add('Desired', (w.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    add('Ready', s.readyReplicas ?? 0);
    add('Available', s.availableReplicas ?? 0);
    if (kind !== 'ReplicaSet') add('Updated', s.updatedReplicas ?? 0);
  }
  const conds = (s.conditions ?? []) as Array<{
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }>;
  for (const c of conds) {
    add(
      `${c.type}`,
      truncate(`${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`, 200),
    );
  }
  return {
    type: 'table',
    title: `${kind} ${w.metadata?.name ?? ''}`.trim(),
    headers: ['Field', 'Value'],
    rows,
  };
}

export function podsTable(pods: V1Pod[], now: number, cap = 10): TableBlock {
  const shown = pods.slice(0, cap);
  return {
    type: 'table',
    title: pods.length > cap ? `Pods not ready (${cap} of ${pods.length})` : 'Pods not ready',
    headers: ['Pod', 'Node', 'Problem', 'Restarts', 'Age'],
    rows: shown.map((p) => [
      p.metadata?.name ?? '',
      p.spec?.nodeName ?? '-',
      podProblem(p),
      String(restarts(p)),
      ago(p.metadata?.creationTimestamp, now)?.replace(/ ago$/, '') ?? '',
    ]),
  };
}

export interface JobView {
  verdict?: string;
  blocks: Block[];
  /** Failed pods, newest first: whose logs to read. */
  failed: V1Pod[];
}

/** A Job: its Failed condition, backoffLimit against failures, failed pods' exit codes. */
export function viewJob(job: V1Job, pods: V1Pod[], now: number): JobView {
  const name = job.metadata?.name ?? '';
  const failedCond = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const failedCount = job.status?.failed ?? 0;
  const backoffLimit = job.spec?.backoffLimit ?? 6;
  const failed = pods
    .filter((p) => p.status?.phase === 'Failed')
    .sort((a, b) => finishedAt(b) - finishedAt(a));
  const exits = failed
    .map((p) => selectContainer(p)?.status?.state?.terminated)
    .filter((t) => t !== undefined);
  const lastExit = exits[0];
  const rows = failed.slice(0, 10).map((p) => {
    const t = selectContainer(p)?.status?.state?.terminated;
    return [
      p.metadata?.name ?? '',
      p.spec?.nodeName ?? '-',
      t ? formatExit(t.exitCode, t.reason) : (p.status?.reason ?? ''),
      t?.reason ?? p.status?.reason ?? '',
      ago(t?.finishedAt, now) ?? '',
    ];
  });
  const blocks: Block[] = [];
  const items = [
    `Failed pods: ${failedCount} (backoffLimit ${backoffLimit})${failedCount > backoffLimit ? ': limit reached' : ''}`,
  ];
  if (failedCond) {
    items.unshift(
      `Condition Failed=True: ${failedCond.reason ?? ''}${failedCond.message ? `: ${failedCond.message}` : ''}`,
    );
  }
  const codes = [...new Set(exits.map((t) => t.exitCode))];
  if (codes.length) items.push(`Exit codes: ${codes.map((c) => formatExit(c)).join(', ')}`);
  blocks.push({ type: 'list', title: 'Diagnosis: job failed', items });
  if (rows.length) {
    blocks.push({
      type: 'table',
      title: 'Failed pods',
      headers: ['Pod', 'Node', 'Exit code', 'Reason', 'Finished'],
      rows,
    });
  }
  let verdict: string | undefined;
  if (failedCond) {
    const reason = failedCond.reason ?? 'Failed';
    const limitText = reason === 'BackoffLimitExceeded' ? ` (backoffLimit ${backoffLimit})` : '';
    verdict = truncate(
      `${reason}: job ${name} failed ${pluralize(failedCount, 'time')}${limitText}${lastExit ? `; last exit ${formatExit(lastExit.exitCode, lastExit.reason)}` : ''}`,
      300,
    );
  } else if (failedCount > 0) {
    verdict = truncate(
      `Retrying: job ${name} failed ${failedCount} of ${backoffLimit + 1} allowed attempts${lastExit ? `; last exit ${formatExit(lastExit.exitCode, lastExit.reason)}` : ''}`,
      300,
    );
  }
  return verdict === undefined ? { blocks, failed } : { verdict, blocks, failed };
}

function finishedAt(p: V1Pod): number {
  return (
    toMillis(selectContainer(p)?.status?.state?.terminated?.finishedAt) ??
    toMillis(p.metadata?.creationTimestamp) ??
    0
  );
}
