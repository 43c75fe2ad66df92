// A workload's revisions as the controllers keep them: a Deployment's ReplicaSets (numbered by the
// deployment.kubernetes.io/revision annotation), a StatefulSet's or DaemonSet's
// ControllerRevisions (numbered by `revision`, the template in `data`). Pure.
import type { V1ControllerRevision, V1Pod, V1PodTemplateSpec, V1ReplicaSet, Workload } from '../kube.ts';
import { toMillis } from './describe.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

export interface Revision {
  number: number;
  /** The ReplicaSet or ControllerRevision name. */
  name: string;
  /** The hash pods carry (pod-template-hash, controller-revision-hash). */
  hash?: string;
  /** When the object was created: for a new template, when its rollout began. */
  createdMs?: number;
  template?: V1PodTemplateSpec;
  /** A ReplicaSet's own counts; ControllerRevisions have none. */
  counts?: { desired: number; ready: number; available: number };
}

const ownedBy = (
  o: { metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } },
  uid: string | undefined,
) =>
  uid !== undefined &&
  (o.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller !== false);

/** A Deployment's ReplicaSets that it controls and that carry a revision, newest first. */
export function deploymentRevisions(w: Workload, replicaSets: V1ReplicaSet[]): Revision[] {
  const out: Revision[] = [];
  for (const rs of replicaSets) {
    const n = Number(rs.metadata?.annotations?.[REVISION_ANNOTATION]);
    if (!ownedBy(rs, w.metadata?.uid) || !Number.isInteger(n) || n <= 0) continue;
    const created = toMillis(rs.metadata?.creationTimestamp);
    const hash = rs.metadata?.labels?.['pod-template-hash'];
    out.push({
      number: n,
      name: rs.metadata?.name ?? '',
      ...(hash ? { hash } : {}),
      ...(created !== undefined ? { createdMs: created } : {}),
      ...(rs.spec?.template ? { template: rs.spec.template } : {}),
      counts: {
        desired: rs.spec?.replicas ?? 0,
        ready: rs.status?.readyReplicas ?? 0,
        available: rs.status?.availableReplicas ?? 0,
      },
    });
  }
  return out.sort((a, b) => b.number - a.number);
}

/** A StatefulSet's or DaemonSet's ControllerRevisions, newest first; `data` holds the template. */
export function controllerRevisions(w: Workload, revs: V1ControllerRevision[]): Revision[] {
  const out: Revision[] = [];
  for (const cr of revs) {
    if (!ownedBy(cr, w.metadata?.uid)) continue;
    const data = cr.data as { spec?: { template?: V1PodTemplateSpec } } | undefined;
    const created = toMillis(cr.metadata?.creationTimestamp);
    const hash = cr.metadata?.labels?.['controller-revision-hash'];
    out.push({
      number: cr.revision,
      name: cr.metadata?.name ?? '',
      ...(hash ? { hash } : {}),
      ...(created !== undefined ? { createdMs: created } : {}),
      ...(data?.spec?.template ? { template: data.spec.template } : {}),
    });
  }
  return out.sort((a, b) => b.number - a.number);
}

/** The revision a pod was made from, by the hash label its controller stamped on it. */
export function revisionOfPod(pod: V1Pod, revisions: Revision[]): Revision | undefined {
  const labels = pod.metadata?.labels ?? {};
  const tpl = labels['pod-template-hash'];
  if (tpl !== undefined) return revisions.find((r) => r.hash === tpl);
  // StatefulSet pods carry the ControllerRevision's name; DaemonSet pods its hash alone.
  const crh = labels['controller-revision-hash'];
  if (crh === undefined) return undefined;
  return revisions.find((r) => r.name === crh || r.hash === crh || r.name.endsWith(`-${crh}`));
}

/** The image of each container, "app=api:2.5.0, sidecar=envoy:1.31": what a revision ran. */
export function templateImages(t: V1PodTemplateSpec | undefined): string {
  const cs = t?.spec?.containers ?? [];
  const short = (img: string) => img.slice(img.lastIndexOf('/') + 1);
  return cs.length === 1
    ? short(cs[0]?.image ?? '')
    : cs.map((c) => `${c.name}=${short(c.image ?? '')}`).join(', ');
}
