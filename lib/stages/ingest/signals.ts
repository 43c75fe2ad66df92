// What is worth an issue in one ApiServerSource delivery: a Warning Event, or a failure transition
// read from a Pod's state (new crash, new OOM kill, image pull stuck past a grace period, eviction).
// Each signal carries an occurrence key that the same input always reproduces (redelivery-safe).
import * as z from 'zod';
import type { Severity } from '../../domain/issue.ts';
import { eventCount, type KubeEvent, lastSeen, severityForReason } from '../../domain/kube-events.ts';
import { BadRequestError } from '../../platform/errors.ts';
import { formatZodError } from '../../platform/zod.ts';
import { type Workload, workloadOfObject, workloadOfPod } from './workload.ts';

export interface Signal {
  /** Canonical reason: Events and Pod states that mean the same failure share it (one thread). */
  reason: string;
  /** The reason as Kubernetes wrote it (filters match either). */
  rawReason: string;
  type: string;
  severity: Severity;
  workload: Workload;
  object: { kind: string; name: string; namespace?: string; uid?: string };
  container?: string;
  node?: string;
  /** Same input, same key: a redelivered or replayed signal is counted once. */
  occurrenceKey: string;
  /** The object's resourceVersion: tells a redelivery (same) from a later ordinary update (newer). */
  objectVersion: string;
  /** When it happened (ISO). */
  at: string;
  message: string;
  source: 'event' | 'pod';
  annotations: Record<string, string>;
}

/** Reasons whose pods can recover (Ready again), which resolves their issue. */
export const RECOVERABLE = new Set(['CrashLoopBackOff', 'OOMKilled', 'ImagePullBackOff']);
export const IMAGE_PULL = 'ImagePullBackOff';

const iso = (t: string): string => new Date(Date.parse(t)).toISOString();
const valid = (t: string | null | undefined): t is string => !!t && Number.isFinite(Date.parse(t));

/**
 * Events about a Pod that say what a Pod state also says map to the Pod state's reason, so the
 * Event and Pod sources fold into one thread instead of two for the same crash loop.
 */
export function canonicalReason(reason: string, kind: string, message: string): string {
  if (kind !== 'Pod') return reason;
  if (reason === 'BackOff' && /restarting failed container/i.test(message)) return 'CrashLoopBackOff';
  if (reason === 'BackOff' && /pulling image/i.test(message)) return IMAGE_PULL;
  if (
    reason === 'Failed' &&
    /ErrImagePull|ImagePullBackOff|Failed to pull image|pull access denied|manifest unknown/i.test(message)
  )
    return IMAGE_PULL;
  return reason;
}

export interface SignalOptions {
  now: Date;
  maxAgeSeconds: number;
  imagePullGraceSeconds: number;
}

const tooOld = (at: string, o: SignalOptions): boolean =>
  o.now.getTime() - Date.parse(at) > o.maxAgeSeconds * 1000;

/** The signal of an Event (any type: the filter decides), or undefined when it is old news. */
export function eventSignal(e: KubeEvent, o: SignalOptions): Signal | undefined {
  const seenRaw = lastSeen(e);
  const seen = valid(seenRaw) ? iso(seenRaw) : o.now.toISOString();
  if (tooOld(seen, o)) return undefined;
  const ref = e.regarding ?? e.involvedObject ?? {};
  const kind = ref.kind || 'Unknown';
  const name = ref.name || e.metadata.name;
  const rawReason = e.reason || 'Unknown';
  const message = e.note ?? e.message ?? '';
  const reason = canonicalReason(rawReason, kind, message);
  const first = [e.firstTimestamp, e.eventTime, e.metadata.creationTimestamp].find(valid);
  // A pull failure that clears within the grace period is not worth a message (nor is a pod's).
  if (reason === IMAGE_PULL && first && Date.parse(seen) - Date.parse(first) < o.imagePullGraceSeconds * 1000)
    return undefined;
  const object: Signal['object'] = { kind, name };
  const namespace = ref.namespace || e.metadata.namespace;
  if (namespace && kind !== 'Node') object.namespace = namespace;
  if (ref.uid) object.uid = ref.uid;
  const signal: Signal = {
    reason,
    rawReason,
    // The node controller reports a node going NotReady as a Normal Event; it is a failure.
    type: rawReason === 'NodeNotReady' ? 'Warning' : (e.type ?? 'Normal'),
    severity: severityForReason(reason),
    workload: kind === 'Node' ? { kind, name } : workloadOfObject(kind, name, object.namespace),
    object,
    occurrenceKey: `e:${e.metadata.uid ?? e.metadata.name}:${e.metadata.resourceVersion ?? eventCount(e)}`,
    objectVersion: e.metadata.resourceVersion ?? String(eventCount(e)),
    at: seen,
    message,
    source: 'event',
    annotations: { count: String(eventCount(e)) },
  };
  const container = /spec\.(?:initC|c)ontainers\{([^}]+)\}/.exec(ref.fieldPath ?? '')?.[1];
  if (container) signal.container = container;
  if (kind === 'Node') signal.node = name;
  const host = e.source?.host;
  if (host) {
    signal.annotations.source = host;
    if (kind === 'Pod') signal.node = host;
  }
  return signal;
}

const Terminated = z.looseObject({
  exitCode: z.number().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  finishedAt: z.string().nullish(),
  startedAt: z.string().nullish(),
  containerID: z.string().optional(),
});
const ContainerState = z.looseObject({
  waiting: z.looseObject({ reason: z.string().optional(), message: z.string().optional() }).optional(),
  running: z.looseObject({ startedAt: z.string().nullish() }).optional(),
  terminated: Terminated.optional(),
});
const ContainerStatus = z.looseObject({
  name: z.string(),
  image: z.string().optional(),
  ready: z.boolean().optional(),
  restartCount: z.number().optional(),
  state: ContainerState.optional(),
  lastState: ContainerState.optional(),
});
export type ContainerStatus = z.infer<typeof ContainerStatus>;

export const Pod = z.looseObject({
  kind: z.literal('Pod'),
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().nullish(),
    ownerReferences: z
      .array(
        z.looseObject({
          kind: z.string().optional(),
          name: z.string().optional(),
          controller: z.boolean().optional(),
        }),
      )
      .optional(),
  }),
  spec: z.looseObject({ nodeName: z.string().optional() }).optional(),
  status: z
    .looseObject({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startTime: z.string().nullish(),
      conditions: z
        .array(
          z.looseObject({
            type: z.string(),
            status: z.string().optional(),
            lastTransitionTime: z.string().nullish(),
          }),
        )
        .optional(),
      containerStatuses: z.array(ContainerStatus).optional(),
      initContainerStatuses: z.array(ContainerStatus).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof Pod>;

export function parsePod(data: unknown): Pod {
  const parsed = Pod.safeParse(data);
  if (!parsed.success) throw new BadRequestError(`invalid Pod: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

export function podWorkload(pod: Pod): Workload {
  return workloadOfPod({
    name: pod.metadata.name,
    namespace: pod.metadata.namespace,
    ownerReferences: pod.metadata.ownerReferences,
    labels: pod.metadata.labels,
  });
}

export const containerStatuses = (pod: Pod): ContainerStatus[] => [
  ...(pod.status?.initContainerStatuses ?? []),
  ...(pod.status?.containerStatuses ?? []),
];

export interface PodSignalDeps extends SignalOptions {
  /**
   * When a container was first seen waiting on an image pull (the Pod does not say): recorded
   * on first sight, returned unchanged afterwards. Called only for containers stuck pulling.
   */
  firstSeen(key: string): Promise<string>;
}

const exitText = (t: z.infer<typeof Terminated>): string =>
  [t.reason, t.exitCode === undefined ? undefined : `exit code ${t.exitCode}`].filter(Boolean).join(', ');

/** Failure transitions in one Pod state; the occurrence keys make repeats of a state count once. */
export async function podSignals(pod: Pod, d: PodSignalDeps): Promise<Signal[]> {
  const uid = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
  const workload = podWorkload(pod);
  const object: Signal['object'] = { kind: 'Pod', name: pod.metadata.name };
  if (pod.metadata.namespace) object.namespace = pod.metadata.namespace;
  if (pod.metadata.uid) object.uid = pod.metadata.uid;
  const base = (reason: string, key: string, at: string, message: string, container?: string): Signal => {
    const s: Signal = {
      reason,
      rawReason: reason,
      type: 'Warning',
      severity: severityForReason(reason),
      workload,
      object,
      occurrenceKey: key,
      objectVersion: pod.metadata.resourceVersion ?? '',
      at: iso(at),
      message,
      source: 'pod',
      annotations: {},
    };
    if (container) s.container = container;
    if (pod.spec?.nodeName) s.node = pod.spec.nodeName;
    return s;
  };
  const out: Signal[] = [];
  const status = pod.status;
  if (status?.phase === 'Failed' && status.reason === 'Evicted') {
    const at = (status.conditions ?? [])
      .map((c) => c.lastTransitionTime)
      .filter(valid)
      .sort()
      .at(-1);
    const when = at ?? d.now.toISOString();
    if (!tooOld(when, d)) out.push(base('Evicted', `p:${uid}:evicted`, when, status.message ?? 'Evicted'));
    return out;
  }
  for (const cs of containerStatuses(pod)) {
    const restarts = cs.restartCount ?? 0;
    const oom = [cs.state?.terminated, cs.lastState?.terminated].find((t) => t?.reason === 'OOMKilled');
    const waiting = cs.state?.waiting;
    if (oom) {
      const at = valid(oom.finishedAt) ? oom.finishedAt : undefined;
      if (at && !tooOld(at, d)) {
        const id = oom.containerID ?? `${restarts}:${at}`;
        const msg = `Container ${cs.name} was OOM-killed (${exitText(oom)}); ${restarts} restarts`;
        out.push(base('OOMKilled', `p:${uid}:${cs.name}:oom:${id}`, at, msg, cs.name));
      }
      continue;
    }
    if (waiting?.reason === 'CrashLoopBackOff') {
      const last = cs.lastState?.terminated;
      const at = valid(last?.finishedAt) ? last.finishedAt : undefined;
      if (at && !tooOld(at, d)) {
        const why = last ? ` (last exit: ${exitText(last)})` : '';
        const msg = `Container ${cs.name} is crash-looping${why}; ${restarts} restarts`;
        out.push(base('CrashLoopBackOff', `p:${uid}:${cs.name}:crash:${restarts}`, at, msg, cs.name));
      }
      continue;
    }
    if (waiting?.reason === 'ImagePullBackOff' || waiting?.reason === 'ErrImagePull') {
      const image = cs.image ?? '';
      const neverRan = restarts === 0 && !cs.lastState?.terminated;
      // A container that never ran has been pulling since the pod started; otherwise since we saw it.
      const since =
        neverRan && valid(status?.startTime)
          ? iso(status.startTime)
          : await d.firstSeen(`pull:${uid}:${cs.name}:${image}`);
      const due = Date.parse(since) + d.imagePullGraceSeconds * 1000;
      if (d.now.getTime() >= due) {
        const msg = `Container ${cs.name} cannot pull ${image || 'its image'}: ${waiting.message ?? waiting.reason}`;
        out.push(
          base(IMAGE_PULL, `p:${uid}:${cs.name}:pull:${image}`, new Date(due).toISOString(), msg, cs.name),
        );
      }
    }
  }
  return out;
}

/** Ready condition True and not being deleted: the pod serves again. */
export function podReady(pod: Pod): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The latest (re)start of any running container: a recovery counts from there. */
export function runningSince(pod: Pod): string | undefined {
  return containerStatuses(pod)
    .map((c) => c.state?.running?.startedAt)
    .filter(valid)
    .map(iso)
    .sort()
    .at(-1);
}
