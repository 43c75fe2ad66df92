// A StatefulSet subject's ordinals: the claims of each ordinal are read (a few, under the budget),
// then lib/domain/diagnose/statefulset.ts says which ordinal holds the rollout back.
import { failureNote } from '../../domain/diagnose/describe.ts';
import {
  claimNames,
  ORDINAL_CAP,
  type StatefulSetView,
  viewStatefulSet,
} from '../../domain/diagnose/statefulset.ts';
import type { V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '../../domain/kube.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import { attempt } from './budget.ts';
import type { Ctx } from './investigate.ts';

/** Claims read at most per StatefulSet. */
export const CLAIM_CAP = 10;

export async function readStatefulSet(
  ctx: Ctx,
  sts: V1StatefulSet,
  pods: V1Pod[],
): Promise<StatefulSetView & { notes: string[] }> {
  const ns = sts.metadata?.namespace ?? '';
  const first = sts.spec?.ordinals?.start ?? 0;
  const replicas = Math.min(sts.spec?.replicas ?? 1, ORDINAL_CAP);
  const names: string[] = [];
  for (let o = first; o < first + replicas; o++) names.push(...claimNames(sts, o));
  const wanted = names.slice(0, CLAIM_CAP);
  const read = await Promise.all(
    wanted.map((c) =>
      attempt(ctx.budget.run((signal) => ctx.kube.readPersistentVolumeClaim(ns, c, { signal }))),
    ),
  );
  const claims = new Map<string, V1PersistentVolumeClaim>();
  const notes: string[] = [];
  read.forEach((r, i) => {
    const name = wanted[i] as string;
    if (r.ok) claims.set(name, r.value);
    // A claim not made yet is a finding (the table shows "?"), not an API failure.
    else if (!(isKubeApiError(r.error) && r.error.code === 404))
      notes.push(failureNote(`read claim ${name}`, r.error));
  });
  return { ...viewStatefulSet(sts, pods, claims), notes };
}
