// One pod, diagnosed: a one-line verdict that says why, and the evidence under it — crash loop,
// OOM kill, image pull, scheduling, eviction and probe failures. Pure functions of API objects.
import type { Block, TableBlock } from '../issue.ts';
import type { CoreV1Event, V1Node, V1PersistentVolumeClaim, V1Pod } from '../kube.ts';
import {
  ago,
  formatBytes,
  formatCpu,
  formatDuration,
  formatExit,
  parseQuantity,
  pluralize,
  toIso,
  toMillis,
  truncate,
} from './describe.ts';
import { diagnosePull, diagnoseScheduling, type ProbeFailure, probeFailures } from './diagnose-events.ts';
import { nodeProblems } from './node-health.ts';
import { type ContainerView, listContainers, podVerdict, selectContainer } from './pod-status.ts';

export interface PodFacts {
  pod: V1Pod;
  /** The pod's own events. */
  events: CoreV1Event[];
  /** The node it runs on, when it could be read. */
  node?: V1Node | undefined;
  /** The pod's PersistentVolumeClaims that could be read. */
  claims?: V1PersistentVolumeClaim[];
  /** The container the issue names. */
  container?: string | undefined;
  now: number;
}

export interface PodDiagnosis {
  verdict: string;
  /** Short label to group pods of a workload by: CrashLoopBackOff, Unschedulable, Evicted ... */
  problem: string;
  evidence: Block[];
  selected: ContainerView | undefined;
}

const EXIT_HINTS: Record<number, string> = {
  1: 'the application exited with an error: its last log lines say why',
  2: 'the application exited with a usage or runtime error: its last log lines say why',
  126: 'the command exists but is not executable (permissions, wrong architecture)',
  127: 'the command or entrypoint does not exist in the image',
  137: 'SIGKILL: a failed liveness probe, a stop that outlasted the grace period, or memory',
  139: 'a segmentation fault in native code',
  143: 'SIGTERM: something asked it to stop (rollout, eviction, preemption)',
};

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** The short label a workload summary groups pods by; 'Healthy' for ready or completed pods. */
export function podProblem(pod: V1Pod, c = selectContainer(pod)): string {
  const st = pod.status;
  if (st?.reason === 'Evicted') return 'Evicted';
  if (st?.phase === 'Succeeded') return 'Healthy';
  if (st?.conditions?.some((x) => x.type === 'PodScheduled' && x.status === 'False')) return 'Unschedulable';
  const cs = c?.status;
  const waiting = cs?.state?.waiting?.reason;
  if (waiting && waiting !== 'PodInitializing' && waiting !== 'ContainerCreating') return waiting;
  if (cs?.lastState?.terminated?.reason === 'OOMKilled' || cs?.state?.terminated?.reason === 'OOMKilled')
    return 'OOMKilled';
  if (st?.phase === 'Failed') return cs?.state?.terminated?.reason ?? st.reason ?? 'Failed';
  if (podReady(pod)) return 'Healthy';
  return st?.phase === 'Pending' ? 'Pending' : 'NotReady';
}

export function diagnosePod(f: PodFacts): PodDiagnosis {
  const { pod, now } = f;
  const selected = selectContainer(pod, f.container);
  const problem = podProblem(pod, selected);
  let verdict = podVerdict(pod, selected, now);
  const evidence: Block[] = [];
  const nodeName = pod.spec?.nodeName;
  const pressure = f.node ? nodeProblems(f.node) : [];
  const nodeLine =
    nodeName && f.node
      ? `Node ${nodeName}: ${pressure.length ? pressure.join(', ') : 'Ready, no pressure'}`
      : undefined;

  if (pod.status?.reason === 'Evicted') {
    const msg = pod.status.message?.trim() ?? 'the kubelet evicted the pod';
    const where = nodeName
      ? ` from node ${nodeName}${pressure.length ? ` (${pressure.join(', ')})` : ''}`
      : '';
    verdict = truncate(`Evicted${where}: ${msg}`, 300);
    const items = [`Reason: ${pod.status.reason}`, `Message: ${msg}`];
    if (nodeLine) items.push(nodeLine);
    const usage = /Container (\S+) was using ([^,\s]+), request is ([^,\s]+)/.exec(msg);
    if (usage) {
      items.push(
        `Hint: container ${usage[1]} used ${formatBytes(parseQuantity(usage[2]))} against a ${usage[3]} request; the kubelet evicts pods furthest above their request first: raise the request to real use`,
      );
    } else
      items.push('Hint: the node ran short of a resource; pods using most above their requests go first');
    evidence.push({ type: 'list', title: 'Diagnosis: evicted', items });
  } else if (problem === 'Unschedulable' || (pod.status?.phase === 'Pending' && !nodeName)) {
    const sched = diagnoseScheduling(f.events);
    const unbound = (f.claims ?? []).filter((c) => c.status?.phase !== 'Bound');
    const items: string[] = [];
    if (sched) {
      const causes = sched.causes.map((c) => (c.nodes ? `${c.nodes} × ${c.reason}` : c.reason));
      verdict = truncate(
        `Unschedulable: ${sched.headline}: ${causes.join(', ')}${unbound.length ? `; unbound PVC ${unbound.map((c) => c.metadata?.name).join(', ')}` : ''}`,
        300,
      );
      items.push(`${sched.headline} (scheduler tried ${pluralize(sched.count, 'time')})`);
      for (const c of causes) items.push(`• ${c}`);
    }
    items.push(`Requests: ${describeRequests(pod)}`);
    const selector = Object.entries(pod.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`);
    if (selector.length) items.push(`Node selector: ${selector.join(', ')}`);
    for (const c of unbound) {
      items.push(
        `Unbound PVC ${c.metadata?.name}: ${c.status?.phase ?? 'Pending'}, storage class ${c.spec?.storageClassName ?? '(default)'}, ${c.spec?.resources?.requests?.storage ?? '?'}`,
      );
    }
    if (sched?.unboundClaims && unbound.length === 0)
      items.push('The scheduler reported unbound PersistentVolumeClaims');
    evidence.push({ type: 'list', title: 'Diagnosis: cannot be scheduled', items });
  } else if (selected) {
    const cs = selected.status;
    const waiting = cs?.state?.waiting?.reason;
    const who = `${selected.init ? 'init container' : 'container'} ${selected.name}`;
    if (waiting === 'ImagePullBackOff' || waiting === 'ErrImagePull') {
      const pull = diagnosePull(f.events, selected.name, selected.spec?.image ?? cs?.image);
      const image = pull?.image ?? selected.spec?.image ?? cs?.image ?? 'its image';
      verdict = truncate(`${waiting}: ${who} cannot pull ${image}: ${pull?.summary ?? 'pull failed'}`, 300);
      const items = [`Image: ${image} (${who})`, `Cause: ${pull?.summary ?? 'unknown'}`];
      if (pull?.message) items.push(`Kubelet: ${truncate(pull.message, 600)}`);
      const secrets = (pod.spec?.imagePullSecrets ?? []).map((s) => s.name).filter(Boolean);
      items.push(`imagePullSecrets: ${secrets.length ? secrets.join(', ') : 'none'}`);
      if (pull) items.push(`Hint: ${pull.hint}`);
      evidence.push({ type: 'list', title: 'Diagnosis: image pull', items });
    } else {
      const last = cs?.lastState?.terminated;
      const term = cs?.state?.terminated;
      const ended = last ?? (term && term.exitCode !== 0 ? term : undefined);
      if (ended?.reason === 'OOMKilled') {
        const r = selected.spec?.resources;
        const items = [
          `Container ${selected.name}: memory limit ${r?.limits?.memory ?? 'none'}, request ${r?.requests?.memory ?? 'none'}`,
          `OOM kills: the last termination was OOMKilled (${pluralize(cs?.restartCount ?? 0, 'restart')} in all), ${ago(ended.finishedAt, now) ?? 'time unknown'}`,
        ];
        if (nodeLine) items.push(nodeLine);
        const nodePressure = pressure.includes('MemoryPressure');
        items.push(
          `Hint: ${
            !r?.limits?.memory
              ? 'no memory limit: the kernel killed it because the node ran out of memory; set a request and a limit'
              : nodePressure
                ? `the node is under memory pressure too: the request (${r.requests?.memory ?? 'none'}) is below real use, so the node is overcommitted; raise the request or move load off ${nodeName}`
                : `the container outgrew its own ${r.limits.memory} limit while the node had memory to spare: raise the limit or fix the leak`
          }`,
        );
        evidence.push({ type: 'list', title: 'Diagnosis: out of memory', items });
      } else if (ended || waiting === 'CrashLoopBackOff') {
        const items = [`${who}: restarted ${pluralize(cs?.restartCount ?? 0, 'time')}`];
        if (ended) {
          items.push(
            `Last termination: ${ended.reason ?? 'Terminated'}, exit ${formatExit(ended.exitCode, ended.reason)}`,
          );
          const started = toMillis(ended.startedAt);
          const finished = toMillis(ended.finishedAt);
          if (started !== undefined && finished !== undefined) {
            items.push(
              `Last ran for ${formatDuration(finished - started)}, stopped ${formatDuration(now - finished)} ago (${toIso(ended.finishedAt)})`,
            );
          }
          if (ended.message) items.push(`Termination message: ${truncate(ended.message, 500)}`);
          const hint = EXIT_HINTS[ended.exitCode];
          if (hint) items.push(`Hint: exit ${ended.exitCode}: ${hint}`);
        }
        evidence.push({ type: 'list', title: 'Diagnosis: crash loop', items });
      }
    }
  }

  const probes = probeFailures(f.events);
  if (probes.length > 0) {
    evidence.push(probeTable(probes, now));
    const worst = probes[0] as ProbeFailure;
    // Readiness failures of a crashing container are a symptom; liveness failures can be the cause.
    const explains =
      problem === 'NotReady' ||
      problem === 'Healthy' ||
      (problem === 'CrashLoopBackOff' && worst.probe === 'Liveness');
    if (explains) {
      verdict = truncate(
        `${verdict}; ${worst.probe.toLowerCase()} probe failed ${pluralize(worst.count, 'time')}${worst.container ? ` (${worst.container})` : ''}`,
        300,
      );
    }
  }
  return { verdict, problem, evidence, selected };
}

function probeTable(probes: ProbeFailure[], now: number): TableBlock {
  return {
    type: 'table',
    title: 'Probe failures',
    headers: ['Container', 'Probe', 'Failures', 'Last seen', 'Last message'],
    rows: probes.map((p) => [
      p.container ?? '',
      p.probe,
      String(p.count),
      `${formatDuration(now - p.lastSeen)} ago`,
      truncate(p.message, 200),
    ]),
  };
}

/** What the scheduler must find room for: app containers summed, the largest init container. */
export function podRequests(pod: V1Pod): { cpu: number; memory: number } {
  const sum = { cpu: 0, memory: 0 };
  const init = { cpu: 0, memory: 0 };
  for (const c of listContainers(pod)) {
    const req = c.spec?.resources?.requests ?? {};
    const cpu = parseQuantity(req.cpu) ?? 0;
    const memory = parseQuantity(req.memory) ?? 0;
    if (c.init) {
      init.cpu = Math.max(init.cpu, cpu);
      init.memory = Math.max(init.memory, memory);
    } else {
      sum.cpu += cpu;
      sum.memory += memory;
    }
  }
  return { cpu: Math.max(sum.cpu, init.cpu), memory: Math.max(sum.memory, init.memory) };
}

function describeRequests(pod: V1Pod): string {
  const r = podRequests(pod);
  if (r.cpu === 0 && r.memory === 0) return 'none set';
  return `cpu ${formatCpu(r.cpu)}, memory ${formatBytes(r.memory)}`;
}
