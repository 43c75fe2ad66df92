// A DaemonSet subject's nodes: the cluster's nodes are listed (paged, capped) and each one without a
// running daemon pod is explained by lib/domain/diagnose/daemonset.ts.

import { gapsHeadline, gapsTable, type NodeGap, nodesWithoutPod } from '../../domain/diagnose/daemonset.ts';
import { failureNote } from '../../domain/diagnose/describe.ts';
import type { Block } from '../../domain/issue.ts';
import type { V1DaemonSet, V1Pod } from '../../domain/kube.ts';
import { attempt } from './budget.ts';
import type { Ctx } from './investigate.ts';
import { collectPages } from './pages.ts';

/** Nodes read at most for one DaemonSet. */
export const NODE_CAP = 1000;

export async function readDaemonSetNodes(
  ctx: Ctx,
  ds: V1DaemonSet,
  pods: V1Pod[],
  podsComplete: boolean,
): Promise<{ headline?: string; blocks: Block[]; notes: string[] }> {
  const r = await attempt(collectPages(ctx.budget, (o) => ctx.kube.listNodes(o), NODE_CAP));
  if (!r.ok) return { blocks: [], notes: [failureNote('list nodes', r.error)] };
  // With only part of the pods read, a node whose pod was not read would look empty: say so.
  const notes = podsComplete ? [] : ['Only part of the pods were read: some nodes below may have a pod.'];
  if (!r.value.complete) notes.push(`Only the first ${r.value.items.length} nodes were read.`);
  const gaps: NodeGap[] = nodesWithoutPod(ds, r.value.items, pods);
  const headline = podsComplete ? gapsHeadline(gaps) : undefined;
  const blocks: Block[] = gaps.length ? [gapsTable(ds.metadata?.name ?? '', gaps)] : [];
  return { ...(headline ? { headline } : {}), blocks, notes };
}
