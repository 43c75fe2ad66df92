// "What changed, and is it the cause": the newest revision against the one before it, the pods of
// each, the ConfigMaps the template reads that changed, and a verdict when the failure began
// shortly after a rollout, only in its pods, with the old pods healthy. Pure.
import type { Block, TableBlock } from '../issue.ts';
import type { PartialObjectMetadata, V1Pod, Workload } from '../kube.ts';
import { ago, formatDuration, pluralize, toMillis, truncate } from './describe.ts';
import { podProblem } from './diagnose.ts';
import { type Revision, revisionOfPod, templateImages } from './revisions.ts';
import { diffTemplates, type TemplateChange } from './template-diff.ts';

export type RolloutKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

export function isRolloutKind(kind: string): kind is RolloutKind {
  return kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet';
}

/** A ConfigMap the template reads and when it was last written (managedFields), if known. */
export interface ConfigMapChange {
  name: string;
  /** The newest managedFields time; absent when the API server sent none. */
  changedMs?: number;
  /** The field manager of that write (kubectl-client-side-apply, helm, argocd-controller, ...). */
  manager?: string;
  createdMs?: number;
}

export interface RolloutInput {
  kind: RolloutKind;
  workload: Workload;
  /** Newest first (revisions.ts). */
  revisions: Revision[];
  /**
   * The workload's pods, when they were listed. Without them a Deployment is judged by its
   * ReplicaSets' ready counts; a StatefulSet or DaemonSet is not judged.
   */
  pods: V1Pod[] | undefined;
  /** When the failure began (the issue's startsAt). */
  failureMs: number;
  now: number;
  /** How soon after a rollout a failure counts as following it. */
  windowMs: number;
  patterns: readonly RegExp[];
  configMaps: ConfigMapChange[];
  /** For a pod subject: the rollout is blamed only when this pod is of the new revision. */
  subjectPod?: V1Pod;
}

export interface RolloutView {
  current?: Revision;
  previous?: Revision;
  changes: TemplateChange[];
  /** Set when the rollout is the likely cause: "started 9m after the rollout to revision 7: ...". */
  blame?: string;
  /** The command that goes back, as text (never run). */
  undo?: string;
  /** ConfigMaps written within the window before the failure, "ConfigMap api-config changed 4m before". */
  configHints: string[];
  blocks: Block[];
}

/** Template changes listed one by one; a rewrite of a whole template is summed up past it. */
export const CHANGE_CAP = 25;

// A clock skew between the API server's timestamps and the alert's is tolerated this much.
const SKEW_MS = 60_000;

interface PodTally {
  total: number;
  failing: number;
  problems: Map<string, number>;
}

function tallyPods(pods: V1Pod[], revisions: Revision[]): Map<string, PodTally> {
  const out = new Map<string, PodTally>();
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const key = revisionOfPod(p, revisions)?.name ?? '?';
    const t = out.get(key) ?? { total: 0, failing: 0, problems: new Map() };
    t.total++;
    const problem = p.status?.phase === 'Succeeded' ? 'Healthy' : podProblem(p);
    if (problem !== 'Healthy') {
      t.failing++;
      t.problems.set(problem, (t.problems.get(problem) ?? 0) + 1);
    }
    out.set(key, t);
  }
  return out;
}

/** "image api:2.4.0 to 2.5.0, env CACHE_MODE added, +2 more": short enough for a verdict. */
export function summarizeChanges(changes: TemplateChange[], max = 3): string {
  const shown = changes.slice(0, max).map((c) => c.short);
  if (changes.length > max) shown.push(`+${changes.length - max} more`);
  return shown.join(', ');
}

export function undoCommand(kind: RolloutKind, w: Workload, to: number): string {
  return `kubectl rollout undo ${kind.toLowerCase()}/${w.metadata?.name ?? ''} -n ${w.metadata?.namespace ?? ''} --to-revision=${to}`;
}

/**
 * Whether only the new revision fails: from the pods when they were listed, else from the
 * ReplicaSets' own ready counts (a Deployment's; ControllerRevisions have none). Undefined: unknown.
 */
function onlyNewFails(input: RolloutInput, cur: Revision, tallies: Map<string, PodTally> | undefined) {
  if (tallies) {
    const mine = tallies.get(cur.name);
    if (!mine || mine.failing === 0) return false;
    for (const [name, t] of tallies) if (name !== cur.name && t.failing > 0) return false;
    return true;
  }
  if (!cur.counts) return undefined;
  const short = (r: Revision) => r.counts !== undefined && r.counts.ready < r.counts.desired;
  return short(cur) && !input.revisions.some((r) => r !== cur && short(r));
}

function blameOf(
  input: RolloutInput,
  cur: Revision,
  tallies: Map<string, PodTally> | undefined,
  summary: string,
) {
  if (cur.createdMs === undefined) return undefined;
  const after = input.failureMs - cur.createdMs;
  if (after < -SKEW_MS || after > input.windowMs) return undefined;
  if (input.subjectPod && revisionOfPod(input.subjectPod, input.revisions) !== cur) return undefined;
  // Every failing pod is of the new revision; pods of older ones (if any are left) are healthy.
  if (onlyNewFails(input, cur, tallies) !== true) return undefined;
  return `started ${formatDuration(Math.max(0, after))} after the rollout to revision ${cur.number}${summary ? `: ${summary}` : ''}`;
}

function configHints(input: RolloutInput): { hints: string[]; lines: string[] } {
  const hints: string[] = [];
  const lines: string[] = [];
  for (const cm of input.configMaps) {
    const by = cm.manager ? ` by ${cm.manager}` : '';
    if (cm.changedMs === undefined) {
      lines.push(`ConfigMap ${cm.name}: no write times (managedFields) to tell when it last changed`);
      continue;
    }
    const before = input.failureMs - cm.changedMs;
    const when =
      before >= 0
        ? `${formatDuration(before)} before the failure`
        : `${formatDuration(-before)} after the failure began`;
    lines.push(
      `ConfigMap ${cm.name} last written ${ago(new Date(cm.changedMs).toISOString(), input.now)}${by} (${when})`,
    );
    if (before >= -SKEW_MS && before <= input.windowMs)
      hints.push(`ConfigMap ${cm.name} changed ${formatDuration(Math.max(0, before))} before${by}`);
  }
  return { hints, lines };
}

export function revisionsTable(
  revisions: Revision[],
  tallies: Map<string, PodTally> | undefined,
  now: number,
  cap = 5,
): TableBlock {
  const rows = revisions.slice(0, cap).map((r) => {
    const t = tallies?.get(r.name);
    const failing =
      t && t.failing > 0 ? [...t.problems].map(([p, n]) => `${n} ${p}`).join(', ') : t ? '0' : '-';
    return [
      String(r.number),
      r.name,
      truncate(templateImages(r.template), 120),
      ago(r.createdMs === undefined ? undefined : new Date(r.createdMs).toISOString(), now) ?? '',
      r.counts ? `${r.counts.ready}/${r.counts.desired}` : t ? `${t.total - t.failing}/${t.total}` : '-',
      r.counts ? String(r.counts.available) : '-',
      failing,
    ];
  });
  return {
    type: 'table',
    title: revisions.length > cap ? `Revisions (newest ${cap} of ${revisions.length})` : 'Revisions',
    headers: ['Revision', 'Name', 'Images', 'Created', 'Ready', 'Available', 'Failing pods'],
    rows,
  };
}

/** The newest revision against the previous one, and whether the failure follows from it. */
export function viewRollout(input: RolloutInput): RolloutView {
  const [current, previous] = input.revisions;
  const { hints, lines: cmLines } = configHints(input);
  if (!current) {
    const blocks: Block[] = cmLines.length ? [{ type: 'list', title: 'What changed', items: cmLines }] : [];
    return { changes: [], configHints: hints, blocks };
  }
  const changes = previous ? diffTemplates(previous.template, current.template, input.patterns) : [];
  const summary = summarizeChanges(changes);
  const tallies = input.pods ? tallyPods(input.pods, input.revisions) : undefined;
  const blame = previous ? blameOf(input, current, tallies, summary) : undefined;
  const undo = previous ? undoCommand(input.kind, input.workload, previous.number) : undefined;
  const created = current.createdMs === undefined ? undefined : new Date(current.createdMs).toISOString();
  const items = [
    `Revision ${current.number} (${current.name}) created ${ago(created, input.now) ?? 'at an unknown time'}${
      previous ? `; previous revision ${previous.number} (${previous.name})` : '; no earlier revision kept'
    }`,
  ];
  if (current.createdMs !== undefined) {
    const d = input.failureMs - current.createdMs;
    items.push(
      d >= 0
        ? `The failure began ${formatDuration(d)} after it`
        : `The failure began ${formatDuration(-d)} before it`,
    );
  }
  if (tallies) items.push(...podLines(tallies, current));
  else if (current.counts) items.push(...countLines(input.revisions, current));
  for (const c of changes.slice(0, CHANGE_CAP))
    items.push(c.container ? `${c.container}: ${c.detail}` : c.detail);
  if (changes.length > CHANGE_CAP) items.push(`… and ${changes.length - CHANGE_CAP} more changes`);
  if (previous && changes.length === 0) items.push('The pod template is the same as the previous revision');
  items.push(...cmLines);
  if (undo) items.push(`To go back (not run): ${undo}`);
  const title = previous
    ? `What changed: revision ${previous.number} to ${current.number}`
    : `Revision ${current.number}`;
  const blocks: Block[] = [
    { type: 'list', title, items },
    revisionsTable(input.revisions, tallies, input.now),
  ];
  return {
    current,
    changes,
    configHints: hints,
    blocks,
    ...(previous ? { previous } : {}),
    ...(blame ? { blame } : {}),
    ...(undo ? { undo } : {}),
  };
}

function countLines(revisions: Revision[], current: Revision): string[] {
  const c = current.counts as NonNullable<Revision['counts']>;
  const old = revisions.filter((r) => r !== current && r.counts && r.counts.desired > 0);
  const oldShort = old.filter((r) => (r.counts?.ready ?? 0) < (r.counts?.desired ?? 0));
  return [
    `Revision ${current.number}: ${c.ready}/${c.desired} ready (ReplicaSet counts)`,
    old.length === 0
      ? 'No older revision runs pods'
      : `Older revisions: ${oldShort.length === 0 ? 'all ready' : `${oldShort.length} not fully ready`} (ReplicaSet counts)`,
  ];
}

function podLines(tallies: Map<string, PodTally>, current: Revision): string[] {
  const mine = tallies.get(current.name);
  let oldTotal = 0;
  let oldFailing = 0;
  for (const [name, t] of tallies) {
    if (name === current.name) continue;
    oldTotal += t.total;
    oldFailing += t.failing;
  }
  const lines = [
    `Pods of revision ${current.number}: ${mine?.total ?? 0}, failing ${mine?.failing ?? 0}`,
    oldTotal === 0
      ? 'No pods of older revisions are left'
      : `Pods of older revisions: ${oldTotal}, ${oldFailing === 0 ? 'all healthy' : `failing ${oldFailing}`}`,
  ];
  return lines;
}

/** How the rollout itself stands, when it is not simply complete: stalled or still going. */
export function rolloutStatus(kind: RolloutKind, w: Workload): string | undefined {
  const s = (w.status ?? {}) as Record<string, unknown>;
  if (kind === 'Deployment') {
    const conds = (s.conditions ?? []) as Array<{ type: string; status: string; reason?: string }>;
    const p = conds.find((c) => c.type === 'Progressing');
    if (p?.reason === 'ProgressDeadlineExceeded') return 'rollout stalled (ProgressDeadlineExceeded)';
    const want = (w.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const updated = (s.updatedReplicas as number | undefined) ?? 0;
    return updated < want
      ? `rollout in progress: ${updated} of ${pluralize(want, 'pod')} updated`
      : undefined;
  }
  if (kind === 'StatefulSet') {
    if (s.updateRevision === undefined || s.updateRevision === s.currentRevision) return undefined;
    const want = (w.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    return `rolling out ${String(s.updateRevision)}: ${Number(s.updatedReplicas ?? 0)} of ${pluralize(want, 'pod')} updated`;
  }
  const desired = Number(s.desiredNumberScheduled ?? 0);
  const updated = Number(s.updatedNumberScheduled ?? desired);
  return updated < desired
    ? `rollout in progress: ${updated} of ${pluralize(desired, 'node')} updated`
    : undefined;
}

/** When a ConfigMap was last written, from its metadata alone (managedFields times). */
export function configMapChange(name: string, meta: PartialObjectMetadata | undefined): ConfigMapChange {
  let changedMs: number | undefined;
  let manager: string | undefined;
  for (const f of meta?.metadata?.managedFields ?? []) {
    const t = toMillis(f.time);
    if (t !== undefined && (changedMs === undefined || t > changedMs)) {
      changedMs = t;
      manager = f.manager;
    }
  }
  const createdMs = toMillis(meta?.metadata?.creationTimestamp);
  return {
    name,
    ...(changedMs !== undefined ? { changedMs } : {}),
    ...(manager ? { manager } : {}),
    ...(createdMs !== undefined ? { createdMs } : {}),
  };
}
