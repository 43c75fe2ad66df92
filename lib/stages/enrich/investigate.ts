// What enrich-pod reads about one pod and how: the shared context of an enrichment (budget,
// settings, one read per node) and the investigation of a pod (events, node, claims, logs).

import { failureNote } from '../../domain/diagnose/describe.ts';
import { diagnosePod, type PodDiagnosis } from '../../domain/diagnose/diagnose.ts';
import type { FileBlock } from '../../domain/issue.ts';
import type { CoreV1Event, KubeReader, V1Node, V1PersistentVolumeClaim, V1Pod } from '../../domain/kube.ts';
import { attempt, type Budget, type Outcome } from './budget.ts';
import { type LogSettings, readLogs } from './logs.ts';
import { collectPages } from './pages.ts';

export const SOURCE = 'enrich-pod';

export interface PodEnrichOptions extends LogSettings {
  /** For the whole enrichment, all API calls included. */
  timeBudgetMs: number;
  now?: Date;
  /** Rows in each events table; default 10. */
  eventLimit?: number;
  /** Pods read for a workload (pages of up to 250); default 500. */
  podLimit?: number;
  /** Unhealthy pods of a workload looked into in depth (events, logs); default 3. */
  investigate?: number;
  /**
   * Diagnoses the configuration turned off (workflows.podTroubleshooting / oomKiller): their
   * evidence is left out; the verdict still names the pod's state.
   */
  disabledDiagnoses?: ReadonlySet<DiagnosisCategory>;
  /** False leaves an OOM-killed container's logs out (oomKiller.podOomKillerEnricher.attachLogs). */
  attachOomLogs?: boolean;
  /** False leaves out the status, containers and resources tables (podInvestigator switched off). */
  investigator?: boolean;
  /** A failure this soon after a rollout counts as following it; default 1h (rollout-enrich.ts). */
  rolloutWindowMs?: number;
}

export type DiagnosisCategory = 'imagePullBackoff' | 'evicted' | 'pending' | 'oomKiller';

/** Which configuration switch covers a pod's problem. */
export function categoryOf(problem: string): DiagnosisCategory | undefined {
  if (problem === 'ImagePullBackOff' || problem === 'ErrImagePull') return 'imagePullBackoff';
  if (problem === 'Evicted') return 'evicted';
  if (problem === 'Unschedulable' || problem === 'Pending') return 'pending';
  if (problem === 'OOMKilled') return 'oomKiller';
  return undefined;
}

/** Events read per object at most; field selectors keep this far below in practice. */
export const EVENT_FETCH_CAP = 500;

export interface Ctx {
  kube: KubeReader;
  budget: Budget;
  opts: PodEnrichOptions;
  now: number;
  /** One read per node per enrichment, however many pods run there. */
  nodes: Map<string, Promise<Outcome<V1Node>>>;
}

export function readNodeOnce(ctx: Ctx, node: string): Promise<Outcome<V1Node>> {
  let p = ctx.nodes.get(node);
  if (!p) {
    p = attempt(ctx.budget.run((signal) => ctx.kube.readNode(node, { signal })));
    ctx.nodes.set(node, p);
  }
  return p;
}

export function listObjectEvents(ctx: Ctx, namespace: string, kind: string, name: string) {
  return attempt(
    collectPages(
      ctx.budget,
      (o) => ctx.kube.listEvents(namespace, { name, namespace, kind, ...o }),
      EVENT_FETCH_CAP,
    ),
  );
}

export interface Investigation {
  diagnosis: PodDiagnosis;
  events: CoreV1Event[];
  node?: V1Node;
  notes: string[];
  logs?: FileBlock;
}

/** Events, node, claims and logs of one pod already read, and its diagnosis. */
export async function investigatePod(
  ctx: Ctx,
  pod: V1Pod,
  container: string | undefined,
  prefetchedEvents?: Outcome<{ items: CoreV1Event[] }>,
): Promise<Investigation> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const nodeName = pod.spec?.nodeName;
  const claimNames = (pod.spec?.volumes ?? [])
    .map((v) => v.persistentVolumeClaim?.claimName)
    .filter((c): c is string => c !== undefined);
  const pending = pod.status?.phase === 'Pending' && !nodeName;
  const [eventsR, nodeR, claimsR] = await Promise.all([
    prefetchedEvents ?? listObjectEvents(ctx, namespace, 'Pod', name),
    nodeName ? readNodeOnce(ctx, nodeName) : undefined,
    // Claims matter only while the pod waits for a node: an unbound one can be why.
    pending
      ? Promise.all(
          claimNames
            .slice(0, 5)
            .map((c) =>
              attempt(
                ctx.budget.run((signal) => ctx.kube.readPersistentVolumeClaim(namespace, c, { signal })),
              ),
            ),
        )
      : undefined,
  ]);
  const notes: string[] = [];
  // StatefulSet pods reuse names: events of an earlier pod with this name are not about this one.
  const uid = pod.metadata?.uid;
  const events = eventsR.ok
    ? eventsR.value.items.filter((e) => !uid || !e.involvedObject?.uid || e.involvedObject.uid === uid)
    : [];
  if (!eventsR.ok) notes.push(failureNote('list events', eventsR.error));
  if (nodeR && !nodeR.ok) notes.push(failureNote(`read node ${nodeName}`, nodeR.error));
  const claims: V1PersistentVolumeClaim[] = [];
  for (const r of claimsR ?? []) {
    if (r.ok) claims.push(r.value);
    else notes.push(failureNote('read a PersistentVolumeClaim', r.error));
  }
  const node = nodeR?.ok ? nodeR.value : undefined;
  const found = diagnosePod({ pod, events, node, claims, container, now: ctx.now });
  const category = categoryOf(found.problem);
  const diagnosis =
    category && ctx.opts.disabledDiagnoses?.has(category) ? { ...found, evidence: [] } : found;
  const skipLogs = found.problem === 'OOMKilled' && ctx.opts.attachOomLogs === false;
  const logs = await readLogs(
    ctx.kube,
    ctx.budget,
    { namespace, name, pod, selected: diagnosis.selected, named: container },
    skipLogs ? { ...ctx.opts, logsEnabled: false } : ctx.opts,
  );
  if (logs.note) notes.push(logs.note);
  return {
    diagnosis,
    events,
    notes,
    ...(node ? { node } : {}),
    ...(logs.file ? { logs: logs.file } : {}),
  };
}
