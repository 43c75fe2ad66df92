// What changed in a Deployment, StatefulSet or DaemonSet before the failure: its revisions
// (ReplicaSets, ControllerRevisions), the metadata of the ConfigMaps its template reads, and for a
// pod subject the workload that owns it. Reads only; the judgement is lib/domain/diagnose/rollout.ts.
import { failureNote, toMillis } from '../../domain/diagnose/describe.ts';
import { DEFAULT_REDACT_PATTERNS } from '../../domain/diagnose/redact.ts';
import {
  controllerRevisions,
  deploymentRevisions,
  type Revision,
  revisionOfPod,
} from '../../domain/diagnose/revisions.ts';
import {
  configMapChange,
  isRolloutKind,
  type RolloutKind,
  type RolloutView,
  viewRollout,
} from '../../domain/diagnose/rollout.ts';
import { configMapRefs } from '../../domain/diagnose/template-diff.ts';
import { workloadSelector } from '../../domain/diagnose/workload.ts';
import type { Issue } from '../../domain/issue.ts';
import type { V1Pod, Workload } from '../../domain/kube.ts';
import { attempt } from './budget.ts';
import type { Ctx } from './investigate.ts';
import { collectPages } from './pages.ts';

/** A failure this soon after a rollout counts as following it (PodEnrichOptions.rolloutWindowMs). */
export const DEFAULT_ROLLOUT_WINDOW_MS = 60 * 60_000;
/** Revisions read at most: revisionHistoryLimit is 10 by default. */
export const REVISION_CAP = 100;
/** ConfigMaps of one template whose change times are read. */
export const CONFIGMAP_CAP = 5;

export interface RolloutRead {
  view?: RolloutView;
  notes: string[];
}

async function readRevisions(
  ctx: Ctx,
  kind: RolloutKind,
  w: Workload,
  selector: string,
): Promise<Revision[]> {
  const ns = w.metadata?.namespace ?? '';
  if (kind === 'Deployment') {
    const all = await collectPages(
      ctx.budget,
      (o) => ctx.kube.listReplicaSets(ns, selector, o),
      REVISION_CAP,
    );
    return deploymentRevisions(w, all.items);
  }
  const all = await collectPages(
    ctx.budget,
    (o) => ctx.kube.listControllerRevisions(ns, selector, o),
    REVISION_CAP,
  );
  return controllerRevisions(w, all.items);
}

/** Revisions, ConfigMaps and the verdict for a workload whose pods (if listed) are given. */
export async function readRollout(
  ctx: Ctx,
  issue: Issue,
  kind: RolloutKind,
  w: Workload,
  pods: V1Pod[] | undefined | ((newest: Revision) => Promise<V1Pod[] | undefined>),
  subjectPod?: V1Pod,
): Promise<RolloutRead> {
  const selector = workloadSelector(w);
  if (selector === undefined) return { notes: [] };
  const revR = await attempt(readRevisions(ctx, kind, w, selector));
  if (!revR.ok) return { notes: [failureNote(`list the ${kind}'s revisions`, revR.error)] };
  const notes: string[] = [];
  const ns = w.metadata?.namespace ?? '';
  const refs = configMapRefs(revR.value[0]?.template ?? w.spec?.template).slice(0, CONFIGMAP_CAP);
  const metas = await Promise.all(
    refs.map((name) =>
      attempt(ctx.budget.run((signal) => ctx.kube.readConfigMapMetadata(ns, name, { signal }))),
    ),
  );
  const configMaps = refs.flatMap((name, i) => {
    const r = metas[i];
    if (r?.ok) return [configMapChange(name, r.value)];
    notes.push(failureNote(`read ConfigMap ${name}`, r?.error));
    return [];
  });
  const failureMs = toMillis(issue.startsAt) ?? ctx.now;
  const windowMs = ctx.opts.rolloutWindowMs ?? DEFAULT_ROLLOUT_WINDOW_MS;
  const newest = revR.value[0];
  // Pods are listed only when a recent rollout could be the cause: that is what they tell apart.
  const recent = newest?.createdMs !== undefined && failureMs - newest.createdMs <= windowMs;
  const listed = typeof pods === 'function' ? (newest && recent ? await pods(newest) : undefined) : pods;
  const view = viewRollout({
    kind,
    workload: w,
    revisions: revR.value,
    pods: listed,
    failureMs,
    now: ctx.now,
    windowMs,
    // Env values are never shown unredacted, even where log redaction was left unconfigured.
    patterns: ctx.opts.redactPatterns ?? DEFAULT_REDACT_PATTERNS,
    configMaps,
    ...(subjectPod ? { subjectPod } : {}),
  });
  return { view, notes };
}

/**
 * The Deployment, StatefulSet or DaemonSet a pod belongs to (a Deployment through its
 * ReplicaSet), or undefined for a bare pod, a Job's pod, or when the owner cannot be read.
 */
export async function ownerOfPod(
  ctx: Ctx,
  pod: V1Pod,
): Promise<{ kind: RolloutKind; workload: Workload } | undefined> {
  const ns = pod.metadata?.namespace ?? '';
  const ref = pod.metadata?.ownerReferences?.find((r) => r.controller);
  if (!ref) return undefined;
  if (isRolloutKind(ref.kind)) {
    const r = await attempt(
      ctx.budget.run((signal) => ctx.kube.readWorkload(ref.kind as RolloutKind, ns, ref.name, { signal })),
    );
    return r.ok ? { kind: ref.kind, workload: r.value } : undefined;
  }
  if (ref.kind !== 'ReplicaSet') return undefined;
  const rs = await attempt(
    ctx.budget.run((signal) => ctx.kube.readWorkload('ReplicaSet', ns, ref.name, { signal })),
  );
  const up = rs.ok ? rs.value.metadata?.ownerReferences?.find((r) => r.controller) : undefined;
  if (up?.kind !== 'Deployment') return undefined;
  const d = await attempt(
    ctx.budget.run((signal) => ctx.kube.readWorkload('Deployment', ns, up.name, { signal })),
  );
  return d.ok ? { kind: 'Deployment', workload: d.value } : undefined;
}

/** For a pod subject: its workload's rollout, with the workload's pods listed only when they matter. */
export async function rolloutOfPod(
  ctx: Ctx,
  issue: Issue,
  pod: V1Pod,
): Promise<(RolloutRead & { kind: RolloutKind; workload: Workload }) | undefined> {
  const owner = await ownerOfPod(ctx, pod);
  if (!owner) return undefined;
  const ns = pod.metadata?.namespace ?? '';
  const selector = workloadSelector(owner.workload);
  const read = await readRollout(
    ctx,
    issue,
    owner.kind,
    owner.workload,
    async (newest) => {
      // A pod of an older revision failing is not the new rollout's doing: no need to look further.
      // A Deployment's ReplicaSets count their ready pods: no pod list is needed to compare them.
      if (owner.kind === 'Deployment') return undefined;
      if (selector === undefined || revisionOfPod(pod, [newest]) === undefined) return undefined;
      const r = await attempt(
        collectPages(ctx.budget, (o) => ctx.kube.listPods(ns, selector, o), ctx.opts.podLimit ?? 500),
      );
      return r.ok ? r.value.items : undefined;
    },
    pod,
  );
  return { ...read, ...owner };
}
