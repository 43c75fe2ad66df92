// Reading a Pod object: which container is in trouble, what its state and exit codes mean, who
// owns the pod, and the one-line verdict. Pure functions of the Pod and a clock.

import type { TableBlock } from '../issue.ts';
import type { V1Container, V1ContainerStatus, V1Pod } from '../kube.ts';
import { ago, formatExit, pluralize, toIso, truncate } from './describe.ts';

export interface ContainerView {
  name: string;
  init: boolean;
  spec: V1Container | undefined;
  status: V1ContainerStatus | undefined;
}

/** Waiting reasons that mean the container cannot run, as opposed to starting up. */
const FAILING_WAIT = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'PreStartHookError',
  'PostStartHookError',
]);

/** Init containers first, then app containers, each in spec order. */
export function listContainers(pod: V1Pod): ContainerView[] {
  const view = (init: boolean, specs: V1Container[] | undefined, statuses: V1ContainerStatus[] | undefined) =>
    (specs ?? []).map((spec) => ({
      name: spec.name,
      init,
      spec,
      status: statuses?.find((s) => s.name === spec.name),
    }));
  return [
    ...view(true, pod.spec?.initContainers, pod.status?.initContainerStatuses),
    ...view(false, pod.spec?.containers, pod.status?.containerStatuses),
  ];
}

/** Higher is worse: failing now, then killed for memory, then crashed before, then not ready. */
export function troubleScore(c: ContainerView): number {
  const st = c.status;
  if (!st) return 0;
  const waiting = st.state?.waiting?.reason;
  if (waiting !== undefined && FAILING_WAIT.has(waiting)) return 100;
  const term = st.state?.terminated;
  if (term && term.exitCode !== 0) return 90;
  const last = st.lastState?.terminated;
  if (last?.reason === 'OOMKilled' || term?.reason === 'OOMKilled') return 80;
  if (last && last.exitCode !== 0) return 60;
  // A finished init container is not ready by design; only a live one can be "not ready".
  if (!st.ready && !(c.init && term?.exitCode === 0)) return st.state?.running ? 40 : 10;
  return (st.restartCount ?? 0) > 0 ? 5 : 0;
}

/**
 * The container whose logs and state matter: the one the issue names when the pod has it,
 * else the most troubled one (ties: more restarts, then app containers in spec order).
 */
export function selectContainer(pod: V1Pod, preferred?: string): ContainerView | undefined {
  const all = listContainers(pod);
  if (preferred !== undefined) {
    const named = all.find((c) => c.name === preferred);
    if (named) return named;
  }
  const ranked = all
    .map((c, i) => ({ c, i, score: troubleScore(c), restarts: c.status?.restartCount ?? 0 }))
    .sort(
      (a, b) =>
        b.score - a.score || b.restarts - a.restarts || Number(a.c.init) - Number(b.c.init) || a.i - b.i,
    );
  return ranked[0]?.c;
}

/** Whether the container's previous instance has logs worth reading (it crashed or restarted). */
export function hasPreviousInstance(c: ContainerView): boolean {
  return c.status?.lastState?.terminated !== undefined || (c.status?.restartCount ?? 0) > 0;
}

/** "ReplicaSet api-7d9f8b6c5d (Deployment api)" */
export function describeOwner(pod: V1Pod): string | undefined {
  const refs = pod.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller) ?? refs[0];
  if (!ref) return undefined;
  const parent = derivedParent(ref.kind, ref.name, pod.metadata?.labels?.['pod-template-hash']);
  return parent ? `${ref.kind} ${ref.name} (${parent})` : `${ref.kind} ${ref.name}`;
}

// A ReplicaSet made by a Deployment is named <deployment>-<pod-template-hash>; a Job made by a
// CronJob is <cronjob>-<scheduled minutes since epoch>. Names are enough, no extra API call.
function derivedParent(kind: string, name: string, templateHash: string | undefined): string | undefined {
  if (kind === 'ReplicaSet') {
    if (templateHash && name.endsWith(`-${templateHash}`)) {
      return `Deployment ${name.slice(0, -templateHash.length - 1)}`;
    }
    const m = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}$/.exec(name);
    return m ? `Deployment ${m[1]}` : undefined;
  }
  if (kind === 'Job') {
    const m = /^(.+)-\d{8,}$/.exec(name);
    return m ? `CronJob ${m[1]}` : undefined;
  }
  return undefined;
}

function stateText(st: V1ContainerStatus | undefined, now: number): string {
  const s = st?.state;
  if (s?.running) {
    const since = ago(s.running.startedAt, now);
    return since ? `Running (started ${since})` : 'Running';
  }
  if (s?.waiting) return 'Waiting';
  if (s?.terminated) return 'Terminated';
  return 'Unknown';
}

export function podSummaryTable(pod: V1Pod, now: number): TableBlock {
  const rows: string[][] = [];
  const phase = pod.status?.phase ?? 'Unknown';
  rows.push(['Phase', pod.status?.reason ? `${phase} (${pod.status.reason})` : phase]);
  rows.push(['Node', pod.spec?.nodeName ?? 'not scheduled']);
  const owner = describeOwner(pod);
  if (owner) rows.push(['Owner', owner]);
  if (pod.status?.podIP) rows.push(['Pod IP', pod.status.podIP]);
  const created = ago(pod.metadata?.creationTimestamp, now);
  if (created) rows.push(['Created', created]);
  if (pod.status?.qosClass) rows.push(['QoS class', pod.status.qosClass]);
  return { type: 'table', title: 'Pod', headers: ['Field', 'Value'], rows };
}

export function containersTable(pod: V1Pod, now: number): TableBlock {
  const rows = listContainers(pod).map((c) => {
    const st = c.status;
    const term = st?.state?.terminated;
    const last = st?.lastState?.terminated;
    const reason = st?.state?.waiting?.reason ?? term?.reason ?? '';
    // A waiting container has no exit code of its own; the last instance's explains the wait.
    const exit = term ?? last;
    const lastText = last
      ? [
          last.reason ?? 'Terminated',
          toIso(last.finishedAt),
          ago(last.finishedAt, now) && `(${ago(last.finishedAt, now)})`,
        ]
          .filter(Boolean)
          .join(' ')
      : '';
    return [
      c.init ? `${c.name} (init)` : c.name,
      st ? (st.ready ? 'yes' : 'no') : '-',
      String(st?.restartCount ?? 0),
      stateText(st, now),
      reason,
      formatExit(exit?.exitCode, exit?.reason),
      lastText,
    ];
  });
  return {
    type: 'table',
    title: 'Containers',
    headers: ['Container', 'Ready', 'Restarts', 'State', 'Reason', 'Exit code', 'Last termination'],
    rows,
  };
}

export function resourcesTable(pod: V1Pod): TableBlock {
  const rows = listContainers(pod).map((c) => {
    const r = c.spec?.resources;
    return [
      c.init ? `${c.name} (init)` : c.name,
      r?.requests?.cpu ?? '-',
      r?.limits?.cpu ?? '-',
      r?.requests?.memory ?? '-',
      r?.limits?.memory ?? '-',
    ];
  });
  return {
    type: 'table',
    title: 'Requests and limits',
    headers: ['Container', 'CPU request', 'CPU limit', 'Memory request', 'Memory limit'],
    rows,
  };
}

/** One line, most specific first: eviction, scheduling, then the selected container's trouble. */
export function podVerdict(pod: V1Pod, c: ContainerView | undefined, now: number): string {
  const phase = pod.status?.phase ?? 'Unknown';
  if (pod.status?.reason === 'Evicted')
    return truncate(`Evicted: ${pod.status.message ?? 'the kubelet evicted the pod'}`, 300);
  const scheduled = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (phase === 'Pending' && scheduled?.status === 'False') {
    return truncate(
      `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? 'the pod cannot be scheduled'}`,
      300,
    );
  }
  const all = listContainers(pod);
  if (!c?.status) return `${phase}: pod has ${pluralize(all.filter((x) => !x.init).length, 'container')}`;
  const st = c.status;
  const who = `${c.init ? 'init container' : 'container'} ${c.name}`;
  const last = st.lastState?.terminated;
  const term = st.state?.terminated;
  const restarts = st.restartCount ?? 0;
  const lastAgo = ago(last?.finishedAt ?? term?.finishedAt, now);
  const restartTail =
    restarts > 0 ? `, restarted ${pluralize(restarts, 'time')}${lastAgo ? `, last ${lastAgo}` : ''}` : '';

  if (last?.reason === 'OOMKilled' || term?.reason === 'OOMKilled') {
    const limit = c.spec?.resources?.limits?.memory;
    return limit
      ? `OOMKilled: ${who} hit its ${limit} memory limit${restartTail}`
      : `OOMKilled: ${who} was killed for memory with no limit set (the node ran out)${restartTail}`;
  }
  const waiting = st.state?.waiting;
  if (waiting?.reason === 'CrashLoopBackOff') {
    if (!last) return `CrashLoopBackOff: ${who} restarted ${pluralize(restarts, 'time')}`;
    return `CrashLoopBackOff: ${who} exited ${formatExit(last.exitCode, last.reason)} ${pluralize(restarts, 'time')}${lastAgo ? `, last ${lastAgo}` : ''}`;
  }
  if (waiting?.reason === 'ImagePullBackOff' || waiting?.reason === 'ErrImagePull') {
    return truncate(`${waiting.reason}: ${who} cannot pull image ${c.spec?.image ?? st.image}`, 300);
  }
  if (waiting?.reason !== undefined && FAILING_WAIT.has(waiting.reason)) {
    return truncate(`${waiting.reason}: ${who}${waiting.message ? `: ${waiting.message}` : ''}`, 300);
  }
  if (term && term.exitCode !== 0) {
    return `${term.reason ?? 'Terminated'}: ${who} exited ${formatExit(term.exitCode, term.reason)}${lastAgo ? ` ${lastAgo}` : ''}`;
  }
  const lastExit = last ? ` (last exit ${formatExit(last.exitCode, last.reason)})` : '';
  if (st.state?.running && !st.ready)
    return `NotReady: ${who} is running but not ready${restartTail}${lastExit}`;
  if (restarts > 0)
    return `Restarted: ${who} restarted ${pluralize(restarts, 'time')}${lastAgo ? `, last ${lastAgo}` : ''}${lastExit}`;
  if (phase === 'Running' && all.filter((x) => !x.init).every((x) => x.status?.ready)) {
    const n = all.filter((x) => !x.init).length;
    return `Healthy: pod is Running, ${n}/${n} containers ready`;
  }
  return `${phase}: ${who} is ${stateText(st, now).toLowerCase()}`;
}
