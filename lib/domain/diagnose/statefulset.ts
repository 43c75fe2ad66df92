// A StatefulSet read by ordinal: which revision each ordinal runs, which one holds the rollout back,
// the partition, and the PersistentVolumeClaim of each ordinal. Pure.
import type { Block, TableBlock } from '../issue.ts';
import type { V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '../kube.ts';
import { podProblem } from './diagnose.ts';

/** The claims an ordinal gets from the volumeClaimTemplates: `<template>-<statefulset>-<ordinal>`. */
export function claimNames(sts: V1StatefulSet, ordinal: number): string[] {
  const name = sts.metadata?.name ?? '';
  return (sts.spec?.volumeClaimTemplates ?? []).map((t) => `${t.metadata?.name ?? ''}-${name}-${ordinal}`);
}

/** Ordinals run from spec.ordinals.start (0 unless set) for `replicas` pods. */
export function ordinalOf(pod: V1Pod, stsName: string): number | undefined {
  const label = pod.metadata?.labels?.['apps.kubernetes.io/pod-index'];
  const raw = label ?? pod.metadata?.name?.slice(stsName.length + 1);
  const n = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

export interface StatefulSetView {
  /** "ordinal 2 (queue-2) blocks the rollout", set while a rollout is held back. */
  blocking?: string;
  blocks: Block[];
}

interface OrdinalRow {
  ordinal: number;
  pod?: V1Pod;
  revision?: string;
  problem: string;
}

/** Ordinals the table shows at most; past it the pods table and counts still tell the rest. */
export const ORDINAL_CAP = 20;

export function viewStatefulSet(
  sts: V1StatefulSet,
  pods: V1Pod[],
  claims: ReadonlyMap<string, V1PersistentVolumeClaim>,
): StatefulSetView {
  const name = sts.metadata?.name ?? '';
  const replicas = sts.spec?.replicas ?? 1;
  const update = sts.status?.updateRevision;
  const current = sts.status?.currentRevision;
  const strategy = sts.spec?.updateStrategy;
  const partition = strategy?.rollingUpdate?.partition ?? 0;
  const byOrdinal = new Map<number, V1Pod>();
  for (const p of pods) {
    const o = ordinalOf(p, name);
    if (o !== undefined && !p.metadata?.deletionTimestamp) byOrdinal.set(o, p);
  }
  const rows: OrdinalRow[] = [];
  const first = sts.spec?.ordinals?.start ?? 0;
  for (let o = first; o < first + Math.min(replicas, ORDINAL_CAP); o++) {
    const pod = byOrdinal.get(o);
    const revision = pod?.metadata?.labels?.['controller-revision-hash'];
    rows.push({
      ordinal: o,
      problem: pod ? podProblem(pod) : 'Missing',
      ...(pod ? { pod } : {}),
      ...(revision ? { revision } : {}),
    });
  }
  const rolling = update !== undefined && current !== undefined && update !== current;
  const stuck = rows.filter((r) => r.problem !== 'Healthy');
  // A rolling update goes from the highest ordinal down and waits for each updated pod to be
  // Ready; OrderedReady creation goes up and waits on the lowest. Either way that pod holds it.
  const blocker = rolling
    ? (stuck.filter((r) => r.ordinal >= partition && r.revision === update).at(-1) ?? stuck[0])
    : strategy?.type !== 'OnDelete' && sts.spec?.podManagementPolicy !== 'Parallel'
      ? stuck[0]
      : undefined;
  const items = [
    rolling
      ? `Update revision ${update}, current revision ${current}: ${sts.status?.updatedReplicas ?? 0} of ${replicas} updated`
      : `All ordinals on revision ${current ?? update ?? 'unknown'}`,
    strategy?.type === 'OnDelete'
      ? 'Update strategy OnDelete: pods change revision only when deleted'
      : `Partition ${partition}${partition > 0 ? `: ordinals below ${partition} keep the current revision` : ''}`,
  ];
  let blocking: string | undefined;
  if (blocker) {
    const what = rolling ? 'the rollout' : 'the StatefulSet';
    const who = `rdinal ${blocker.ordinal} (${name}-${blocker.ordinal}) blocks ${what}`;
    // Only a rollout held back makes the verdict; otherwise the pod's own diagnosis says it better.
    if (rolling) blocking = `o${who}`;
    items.push(`O${who}: ${blocker.problem}`);
  }
  const table: TableBlock = {
    type: 'table',
    title: replicas > ORDINAL_CAP ? `Ordinals (first ${ORDINAL_CAP} of ${replicas})` : 'Ordinals',
    headers: ['Ordinal', 'Pod', 'Revision', 'Problem', 'Volume claims'],
    rows: rows.map((r) => [
      String(r.ordinal),
      r.pod?.metadata?.name ?? '-',
      r.revision === undefined ? '-' : r.revision === update ? `${r.revision} (update)` : r.revision,
      r.problem,
      claimNames(sts, r.ordinal)
        .map((c) => `${c} ${claims.get(c)?.status?.phase ?? '?'}`)
        .join(', ') || '-',
    ]),
  };
  return {
    ...(blocking ? { blocking } : {}),
    blocks: [{ type: 'list', title: 'StatefulSet rollout', items }, table],
  };
}
