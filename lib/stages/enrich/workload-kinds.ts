// What a workload subject adds by kind: for a Deployment, StatefulSet or DaemonSet what changed
// (rollout-enrich.ts); for a StatefulSet its ordinals (statefulset-enrich.ts); for a DaemonSet the
// nodes without its pod (daemonset-enrich.ts). Read side by side, under the shared budget.
import { isRolloutKind, rolloutStatus } from '../../domain/diagnose/rollout.ts';
import type { Block, Issue } from '../../domain/issue.ts';
import type { V1DaemonSet, V1Pod, V1StatefulSet, Workload, WorkloadKind } from '../../domain/kube.ts';
import { readDaemonSetNodes } from './daemonset-enrich.ts';
import type { Ctx } from './investigate.ts';
import { deploymentOf, readRollout } from './rollout-enrich.ts';
import { readStatefulSet } from './statefulset-enrich.ts';

export interface KindDetails {
  /** What changed, when it is the likely cause: the verdict's first part. */
  changed?: string;
  /** How the rollout or the placement stands: "ordinal 2 (queue-2) blocks the rollout". */
  status?: string;
  /** Shown right after the workload table. */
  blocks: Block[];
  notes: string[];
}

export async function readKindDetails(
  ctx: Ctx,
  issue: Issue,
  kind: WorkloadKind,
  w: Workload,
  pods: V1Pod[],
  listedAll: boolean,
): Promise<KindDetails> {
  if (kind === 'ReplicaSet') return replicaSetDetails(ctx, issue, w);
  if (!isRolloutKind(kind)) return { blocks: [], notes: [] };
  const [rollout, sts, ds] = await Promise.all([
    readRollout(ctx, issue, kind, w, pods),
    kind === 'StatefulSet' ? readStatefulSet(ctx, w as V1StatefulSet, pods) : undefined,
    kind === 'DaemonSet' ? readDaemonSetNodes(ctx, w as V1DaemonSet, pods, listedAll) : undefined,
  ]);
  const changed = rollout.view?.blame ?? rollout.view?.configHints[0];
  const status = sts?.blocking ?? ds?.headline ?? rolloutStatus(kind, w);
  return {
    ...(changed ? { changed } : {}),
    ...(status ? { status } : {}),
    blocks: [...(sts?.blocks ?? []), ...(ds?.blocks ?? []), ...(rollout.view?.blocks ?? [])],
    notes: [...rollout.notes, ...(sts?.notes ?? []), ...(ds?.notes ?? [])],
  };
}

/**
 * A ReplicaSet is one revision of its Deployment: what changed is the Deployment's, judged by the
 * ReplicaSets' ready counts, and blamed only when this ReplicaSet is the newest revision.
 */
async function replicaSetDetails(ctx: Ctx, issue: Issue, rs: Workload): Promise<KindDetails> {
  const owner = await deploymentOf(ctx, rs);
  if (!owner) return { blocks: [], notes: [] };
  const rollout = await readRollout(ctx, issue, 'Deployment', owner.workload, undefined, {
    revision: rs.metadata?.name ?? '',
  });
  const blame = rollout.view?.blame;
  return {
    ...(blame ? { changed: `deployment/${owner.workload.metadata?.name}: ${blame}` } : {}),
    blocks: rollout.view?.blocks ?? [],
    notes: rollout.notes,
  };
}
