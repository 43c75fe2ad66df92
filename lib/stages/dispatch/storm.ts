// Storm folding, the pure part: which group an alert belongs to, the stored state of a group's
// summary (every alert in it, what the summary and its thread already show) and the view the
// destination renders. Effects (locks, Slack calls, deferrals) live in storm-dispatch.ts.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { GroupKind, SummaryLine, SummaryView } from '../../domain/destination.ts';
import type { Issue, Severity } from '../../domain/issue.ts';
import { Slot } from './pace.ts';

export interface StormOptions {
  /** More than this many new alerts of one group within the window fold into a summary. */
  threshold: number;
  windowSeconds: number;
  /** Labels that make a group; `namespace` falls back to the subject's namespace. */
  groupBy: string[];
  /** Least time between two edits (and thread batches) of one summary. */
  editIntervalMs: number;
  /** A batch of more new alerts than this goes to the thread as a file, not a message. */
  replyLines: number;
}

export const DEFAULT_STORM: StormOptions = {
  threshold: 5,
  windowSeconds: 60,
  groupBy: ['alertname', 'namespace'],
  editIntervalMs: 30_000,
  replyLines: 20,
};

/** The group an issue folds into, or undefined when none of the grouping labels is set. */
export function groupOf(issue: Issue, groupBy: readonly string[]): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const name of groupBy) {
    const v = issue.labels[name] ?? (name === 'namespace' ? issue.subject.namespace : undefined);
    if (v) labels[name] = v;
  }
  return Object.keys(labels).length > 0 ? labels : undefined;
}

/** A digest gathers one channel's held-back alerts per period of this length. */
export const DIGEST_PERIOD_MS = 15 * 60_000;

/** The labels of the digest a held-back alert goes into at `nowMs`: one per period. */
export function digestLabels(nowMs: number): Record<string, string> {
  const start = Math.floor(nowMs / DIGEST_PERIOD_MS) * DIGEST_PERIOD_MS;
  return { digest: new Date(start).toISOString() };
}

export interface GroupKeys {
  data: string;
  lock: string;
  /** Counter of new alerts in the current window; `window` is appended. */
  count: string;
}

export function groupKeys(destinationId: string, labels: Record<string, string>): GroupKeys {
  const id = createHash('sha256')
    .update(JSON.stringify(Object.entries(labels).sort()))
    .digest('hex')
    .slice(0, 20);
  const tag = `{${destinationId.replace(/[{}]/g, '_')}|storm:${id}}`;
  return { data: `ki:${tag}:group`, lock: `ki:${tag}:lock`, count: `ki:${tag}:count` };
}

/** One alert in a storm, kept compact: a storm of thousands is stored in one value. */
const Entry = z.object({
  /** fingerprint */
  f: z.string(),
  /** the object it is about (pod, node, ...) */
  n: z.string(),
  s: z.enum(['HIGH', 'LOW', 'INFO', 'DEBUG']),
  st: z.enum(['firing', 'resolved']),
  /** startsAt of its current firing, and when last seen */
  a: z.string(),
  z: z.string(),
  t: z.string(),
  /** its first verdict, for a digest (a storm's alerts share theirs; kept short) */
  v: z.string().optional(),
});
export type Entry = z.infer<typeof Entry>;

/** A digest line's verdict is cut here: the entry is one line of a message. */
export const ENTRY_VERDICT_CHARS = 200;

export const GroupState = z.object({
  v: z.literal(1),
  /** Absent in states written before digests existed: a storm. */
  kind: z.enum(['storm', 'digest']).optional(),
  labels: z.record(z.string(), z.string()),
  /**
   * A storm's alerts that got threads of their own before it stormed (the threshold, once per
   * window it stormed in; `ownWindow` is the last such window): counted in the summary's total.
   */
  own: z.number().int().nonnegative().optional(),
  ownWindow: z.number().int().optional(),
  channel: z.string().optional(),
  ts: z.string().optional(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  entries: z.array(Entry),
  /** entries[0..posted) are already in the thread (a message or a file). */
  posted: z.number().int().nonnegative(),
  /** Bumped on every change; the summary is stale while shownVersion lags behind. */
  version: z.number().int().nonnegative(),
  shownVersion: z.number().int().nonnegative(),
  shownAt: z.string().optional(),
  /** When the last batch of alerts went into the thread. */
  linesAt: z.string().optional(),
  /** The one delivery deferred to flush later (its broker retry brings it back), and until when. */
  pendingBy: z.string().optional(),
  pendingUntil: z.string().optional(),
  /** The channel turn reserved for the summary's next calls (pace.ts), until it is used. */
  slot: Slot.optional(),
});
export type GroupState = z.infer<typeof GroupState>;

/** What a folded alert's own thread key holds: which summary it went into. */
export const FoldedMarker = z.object({
  v: z.literal(1),
  /** The summary's kind (GroupKind); older markers say 'storm'. */
  folded: z.string(),
  /** The group's labels as folded, so a resolution finds the same summary after a config change. */
  labels: z.record(z.string(), z.string()),
  status: z.enum(['firing', 'resolved']),
  firingSince: z.string(),
});
export type FoldedMarker = z.infer<typeof FoldedMarker>;

export function parseFoldedMarker(raw: string | null): FoldedMarker | undefined {
  // Cheap test first: ordinary thread states never contain the field.
  if (raw === null || !raw.includes('"folded"')) return undefined;
  try {
    const parsed = FoldedMarker.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function parseGroupState(raw: string | null): GroupState | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = GroupState.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function firstVerdict(issue: Issue): string | undefined {
  const v = issue.enrichments.map((e) => e.verdict?.trim()).find((x) => !!x);
  if (!v) return undefined;
  return v.length > ENTRY_VERDICT_CHARS ? `${v.slice(0, ENTRY_VERDICT_CHARS - 1)}…` : v;
}

const objectName = (issue: Issue): string =>
  issue.subject.name ?? issue.labels.pod ?? issue.labels.instance ?? issue.fingerprint;

export function newGroup(labels: Record<string, string>, now: string, kind: GroupKind = 'storm'): GroupState {
  const g: GroupState = {
    v: 1,
    labels,
    firstSeen: now,
    lastSeen: now,
    entries: [],
    posted: 0,
    version: 0,
    shownVersion: 0,
  };
  if (kind === 'digest') g.kind = 'digest';
  return g;
}

export const kindOf = (g: GroupState): GroupKind => g.kind ?? 'storm';

/**
 * A storm folds only past `threshold` new alerts of its window, so that many got threads of
 * their own first: counted once per window the storm goes on in.
 */
export function countOwnThreads(g: GroupState, window: number, threshold: number): void {
  if (kindOf(g) !== 'storm' || g.ownWindow === window) return;
  g.own = (g.own ?? 0) + threshold;
  g.ownWindow = window;
}

/**
 * A storm whose alerts all resolved and that has been quiet for a window is over: the next
 * storm of the same group gets a fresh summary instead of reviving an old message.
 */
export function isOver(g: GroupState, nowMs: number, windowSeconds: number): boolean {
  return g.entries.every((e) => e.st === 'resolved') && Date.parse(g.lastSeen) + windowSeconds * 1000 < nowMs;
}

/**
 * Records what `issue` says about its alert. Returns false when the group already knew it
 * (a duplicate or redelivery): nothing to show.
 */
export function record(g: GroupState, issue: Issue, now: string): boolean {
  const e = g.entries.find((x) => x.f === issue.fingerprint);
  const seen = issue.endsAt && issue.status === 'resolved' ? issue.endsAt : now;
  if (!e) {
    const entry: Entry = {
      f: issue.fingerprint,
      n: objectName(issue),
      s: issue.severity,
      st: issue.status,
      a: issue.startsAt,
      z: seen,
      t: issue.title,
    };
    const verdict = kindOf(g) === 'digest' ? firstVerdict(issue) : undefined;
    if (verdict) entry.v = verdict;
    g.entries.push(entry);
  } else {
    const start = Date.parse(issue.startsAt);
    if (start < Date.parse(e.a)) return false;
    if (start === Date.parse(e.a) && (e.st === issue.status || e.st === 'resolved')) return false;
    e.st = issue.status;
    e.a = issue.startsAt;
    e.z = seen;
  }
  if (seen > g.lastSeen) g.lastSeen = seen;
  g.version += 1;
  return true;
}

/** How many alerts SummaryView.sample holds. */
export const SAMPLE_SIZE = 8;

const RANK: Record<Severity, number> = { HIGH: 0, LOW: 1, INFO: 2, DEBUG: 3 };

export function summaryView(g: GroupState): SummaryView {
  const objects = new Map<string, [number, number]>();
  const severities = new Map<Severity, number>();
  let firing = 0;
  for (const e of g.entries) {
    const o = objects.get(e.n) ?? [0, 0];
    if (e.st === 'firing') {
      o[0] += 1;
      firing += 1;
    } else o[1] += 1;
    objects.set(e.n, o);
    severities.set(e.s, (severities.get(e.s) ?? 0) + 1);
  }
  const bySeverity = [...severities].sort((a, b) => RANK[a[0]] - RANK[b[0]]);
  const own = g.own ?? 0;
  const only = g.entries.length === 1 ? g.entries[0] : undefined;
  return {
    kind: kindOf(g),
    labels: g.labels,
    status: firing > 0 ? 'firing' : 'resolved',
    severity: bySeverity[0]?.[0] ?? 'INFO',
    total: g.entries.length + own,
    own,
    firing,
    resolved: g.entries.length - firing,
    firstSeen: g.firstSeen,
    lastSeen: g.lastSeen,
    byObject: [...objects]
      .map(([n, [f, r]]): [string, number, number] => [n, f, r])
      .sort((a, b) => b[1] - a[1] || b[2] - a[2] || a[0].localeCompare(b[0])),
    bySeverity,
    title: g.entries[0]?.t ?? '',
    ...(only && own === 0 ? { single: lineOf(only) } : {}),
    sample: sampleOf(g.entries),
  };
}

function sampleOf(entries: readonly Entry[]): SummaryLine[] {
  const out: SummaryLine[] = [];
  for (const st of ['firing', 'resolved'] as const)
    for (const e of entries) {
      if (out.length === SAMPLE_SIZE) return out;
      if (e.st === st) out.push(lineOf(e));
    }
  return out;
}

export const lineOf = (e: Entry): SummaryLine => ({
  object: e.n,
  severity: e.s,
  status: e.st,
  since: e.a,
  title: e.t,
  fingerprint: e.f,
  ...(e.v ? { verdict: e.v } : {}),
});
