// The stored state of one thread (destination x fingerprint) and the pure decision of what an
// arriving issue changes in it. Side effects are planned as steps with ids, so a redelivery after
// a partial failure recomputes the same plan and runs only what is not yet done.
import * as z from 'zod';
import type { RootView } from '../../domain/destination.ts';
import { type Issue, Occurrences } from '../../domain/issue.ts';
import { Slot } from './pace.ts';

export const StepKind = z.enum([
  'root',
  'link',
  'update',
  'reply-resolved',
  'reply-refired',
  'details',
  'files',
]);
export type StepKind = z.infer<typeof StepKind>;

export const Step = z.object({
  /** Unique within the period: `root`, `refire:<startsAt>`, `resolve:<endsAt>`, `details:<issue id>`, ... */
  id: z.string(),
  kind: StepKind,
  /** The issue id that planned it: only a delivery of that issue carries what the step needs. */
  by: z.string(),
  done: z.boolean(),
  /**
   * Epoch ms when a reply of this step was about to be sent, recorded before sending it: a
   * delivery that finds it set while the step is not done looks for that reply in the thread
   * before posting it (the earlier post may have landed without its record).
   */
  tried: z.number().optional(),
});
export type Step = z.infer<typeof Step>;

/** Steps that post a new reply into the thread, which would show twice if posted again. */
export const REPLY_KINDS: ReadonlySet<StepKind> = new Set(['reply-resolved', 'reply-refired', 'details']);

export const ThreadState = z.object({
  v: z.literal(1),
  channel: z.string(),
  ts: z.string(),
  /** Set when this issue's message is a reply in a related issue's thread (see correlation.ts). */
  threadTs: z.string().optional(),
  linkedTo: z.string().optional(),
  status: z.enum(['firing', 'resolved']),
  /** startsAt of the current firing period: every occurrence is compared against it. */
  firingSince: z.string(),
  resolvedAt: z.string().optional(),
  firingCount: z.number().int().positive(),
  verdicts: z.array(z.string()),
  continuesEarlier: z.boolean().optional(),
  /** Repeats as the root last showed them, and when the root was last edited for them. */
  occurrences: Occurrences.optional(),
  occurrencesShownAt: z.string().optional(),
  /** The newest repeat count waiting for the next allowed edit (its delivery was deferred). */
  occurrencesPending: Occurrences.optional(),
  /** Steps of the current period only, so the list stays a handful long. */
  steps: z.array(Step),
  /** The channel turn a deferred delivery reserved for its steps (pace.ts), until it is used. */
  slot: Slot.optional(),
});
export type ThreadState = z.infer<typeof ThreadState>;

/** Every step of the current period is done: a duplicate at its status and period has nothing to do. */
export const isSettled = (s: Pick<ThreadState, 'steps'>): boolean => s.steps.every((x) => x.done);

/** A state whose root may not be posted yet (a new thread before its `root` step ran). */
export type ThreadDraft = Omit<ThreadState, 'channel' | 'ts'> & { channel?: string; ts?: string };

export type Decision =
  | { kind: 'apply'; draft: ThreadDraft }
  | { kind: 'ignore'; reason: string; state: ThreadState }
  /** A newer repeat count than the root shows, too soon to edit: remember it, come back later. */
  | { kind: 'defer'; state: ThreadState; retryAfterMs: number };

export const MAX_VERDICTS = 5;
export const MAX_VERDICT_CHARS = 300;
// A period plans at most ~6 steps; the cap only guards against a state that grew by a bug.
const MAX_STEPS = 16;

export function verdictsOf(issue: Issue): string[] {
  return issue.enrichments
    .map((e) => e.verdict?.trim())
    .filter((v): v is string => !!v)
    .slice(0, MAX_VERDICTS)
    .map((v) => (v.length > MAX_VERDICT_CHARS ? `${v.slice(0, MAX_VERDICT_CHARS - 1)}…` : v));
}

/**
 * Details and files of an occurrence. uploadFiles runs whenever details do, not only when a file
 * block exists: the destination may move overflow (a table too long for a message) into a file,
 * and only it knows; with nothing to upload it does nothing.
 */
export function enrichmentSteps(id: string): Step[] {
  return [
    { id: `details:${id}`, kind: 'details', by: id, done: false },
    { id: `files:${id}`, kind: 'files', by: id, done: false },
  ];
}

export const enrichmentStepsOf = (issue: Issue): Step[] =>
  issue.enrichments.length === 0 ? [] : enrichmentSteps(issue.id);

const time = (iso: string): number => Date.parse(iso);

export interface DecideContext {
  now: Date;
  stateTtlSeconds: number;
  /**
   * Least time between two edits of a root for changed repeat counts: a BackOff repeated a
   * thousand times must not become a thousand chat.update calls (Slack allows ~50/minute).
   */
  minUpdateIntervalMs?: number;
}

export const DEFAULT_MIN_UPDATE_INTERVAL_MS = 30_000;

/** A resolution without a thread whose alert started this long ago is taken as state lost. */
export const ORPHAN_AGE_MS = 10 * 60_000;

function occurrencesChanged(next: Occurrences, shown: Occurrences | undefined): boolean {
  return !shown || next.count !== shown.count || (next.objects ?? 0) !== (shown.objects ?? 0);
}

/** Orders repeat snapshots: a higher count (or as many, over more objects, or seen later) is newer. */
function newer(a: Occurrences, b: Occurrences | undefined): boolean {
  if (!b) return true;
  if (a.count !== b.count) return a.count > b.count;
  if ((a.objects ?? 0) !== (b.objects ?? 0)) return (a.objects ?? 0) > (b.objects ?? 0);
  return Date.parse(a.lastSeen) > Date.parse(b.lastSeen);
}

/**
 * A repeat whose count differs from what the root shows. Edits are rate-bounded: inside the
 * interval the newest snapshot is remembered and its delivery deferred (429 with Retry-After,
 * so the broker brings it back when the edit is allowed); older snapshots are superseded and
 * acknowledged. The count a storm ends on therefore reaches the root, at Slack's pace.
 */
function repeatDecision(state: ThreadState, issue: Issue, occ: Occurrences, ctx: DecideContext): Decision {
  if (state.steps.some((s) => s.by === issue.id)) return { kind: 'apply', draft: state };
  if (!newer(occ, state.occurrences)) return { kind: 'ignore', reason: 'older repeat than shown', state };
  const pending = state.occurrencesPending;
  if (pending && newer(pending, occ))
    return { kind: 'ignore', reason: 'superseded by a newer repeat', state };
  const shownAt = state.occurrencesShownAt ? time(state.occurrencesShownAt) : 0;
  const wait = shownAt + (ctx.minUpdateIntervalMs ?? DEFAULT_MIN_UPDATE_INTERVAL_MS) - ctx.now.getTime();
  if (wait > 0) {
    const samePending = pending && !newer(occ, pending);
    return {
      kind: 'defer',
      retryAfterMs: wait,
      state: samePending ? state : { ...state, occurrencesPending: occ },
    };
  }
  const { occurrencesPending: _done, ...rest } = state;
  const draft: ThreadDraft = {
    ...rest,
    occurrences: occ,
    occurrencesShownAt: ctx.now.toISOString(),
    steps: capSteps([
      ...state.steps,
      {
        id: `repeat:${occ.count}:${occ.objects ?? 0}:${occ.lastSeen}`,
        kind: 'update',
        by: issue.id,
        done: false,
      },
    ]),
  };
  return { kind: 'apply', draft };
}

/** The plan of a thread no state is known for: its root, then this occurrence's details. */
export function newThread(issue: Issue, ctx: DecideContext, lost = false): ThreadDraft {
  const resolved = issue.status === 'resolved';
  const draft: ThreadDraft = {
    v: 1,
    status: issue.status,
    firingSince: issue.startsAt,
    firingCount: 1,
    verdicts: verdictsOf(issue),
    steps: [{ id: 'root', kind: 'root', by: issue.id, done: false }, ...enrichmentStepsOf(issue)],
  };
  if (issue.occurrences) {
    draft.occurrences = issue.occurrences;
    draft.occurrencesShownAt = ctx.now.toISOString();
  }
  if (resolved) draft.resolvedAt = issue.endsAt ?? ctx.now.toISOString();
  // Firing since before the state TTL window: the thread existed and its state expired.
  const expired = time(issue.startsAt) < ctx.now.getTime() - ctx.stateTtlSeconds * 1000;
  // A resolution with no thread, of an alert that started long ago, most likely had its thread
  // state lost (Redis restarted without persistence): say so rather than look like a new alert.
  // A resolution merely overtaking its firing (reordered delivery) is recent and not marked.
  const orphaned = resolved && time(issue.startsAt) < ctx.now.getTime() - ORPHAN_AGE_MS;
  if (lost || expired || orphaned) draft.continuesEarlier = true;
  return draft;
}

/**
 * What `issue` does to the thread. `state` null means no thread is known; `lost` says a state
 * existed but could not be read (the new root then says it continues an earlier one).
 */
export function decide(state: ThreadState | null, issue: Issue, ctx: DecideContext, lost = false): Decision {
  if (state === null) return { kind: 'apply', draft: newThread(issue, ctx, lost) };
  const resolved = issue.status === 'resolved';
  // Only for the branches that change the thread (not for the duplicate under load).
  const endsAt = () => issue.endsAt ?? ctx.now.toISOString();
  // A resolution without endsAt is keyed by its occurrence id, so its redelivery maps to the same step.
  const endKey = issue.endsAt ?? issue.id;

  // The same text is the same instant: a duplicate (the common case under load) parses nothing.
  const samePeriodText = issue.startsAt === state.firingSince;
  const start = samePeriodText ? 0 : time(issue.startsAt);
  const since = samePeriodText ? 0 : time(state.firingSince);
  if (start < since) return { kind: 'ignore', reason: 'occurrence of an earlier firing period', state };

  if (start === since) {
    if (!resolved || state.status === 'resolved') {
      // Repeat, HA duplicate or redelivery: only steps this occurrence planned and has not finished,
      // plus an edit of the root when a folded repeat count moved and the last edit is old enough.
      // The period's root was posted by a repeat that carried no enrichments (a folded Kubernetes
      // Event overtook the enriched first occurrence): the details still belong in the thread.
      if (
        !resolved &&
        state.status === 'firing' &&
        issue.enrichments.length > 0 &&
        !state.steps.some((s) => s.kind === 'details')
      ) {
        return {
          kind: 'apply',
          draft: { ...state, steps: capSteps([...state.steps, ...enrichmentStepsOf(issue)]) },
        };
      }
      const occ = issue.occurrences;
      if (!resolved && state.status === 'firing' && occ && occurrencesChanged(occ, state.occurrences)) {
        return repeatDecision(state, issue, occ, ctx);
      }
      return { kind: 'apply', draft: state };
    }
    const draft: ThreadDraft = {
      ...state,
      status: 'resolved',
      resolvedAt: endsAt(),
      steps: capSteps([
        ...state.steps,
        { id: `resolve:${endKey}`, kind: 'update', by: issue.id, done: false },
        { id: `reply:resolved:${endKey}`, kind: 'reply-resolved', by: issue.id, done: false },
      ]),
    };
    return { kind: 'apply', draft };
  }

  // A later firing period. Out of order, a firing can start after the period began yet not
  // after its recorded resolution: that one is stale.
  if (state.status === 'resolved' && state.resolvedAt !== undefined && start <= time(state.resolvedAt)) {
    return { kind: 'ignore', reason: 'firing that started before the recorded resolution', state };
  }
  const verdicts = verdictsOf(issue);
  const reply: Step = resolved
    ? { id: `reply:resolved:${endKey}`, kind: 'reply-resolved', by: issue.id, done: false }
    : { id: `reply:refired:${issue.startsAt}`, kind: 'reply-refired', by: issue.id, done: false };
  const { resolvedAt: _previous, ...rest } = state;
  const draft: ThreadDraft = {
    ...rest,
    status: issue.status,
    firingSince: issue.startsAt,
    firingCount: state.firingCount + 1,
    verdicts: verdicts.length > 0 ? verdicts : state.verdicts,
    steps: [
      { id: `refire:${issue.startsAt}`, kind: 'update', by: issue.id, done: false },
      reply,
      ...enrichmentStepsOf(issue),
    ],
  };
  if (resolved) draft.resolvedAt = endsAt();
  return { kind: 'apply', draft };
}

/**
 * decide()'s answer for a state the store found settled (its `settled` flag, isSettled() when
 * written) at the issue's status and firing period — the duplicate under load — read from the
 * raw JSON without validating all of it: the thread's root when there is nothing to do, undefined when that takes the full
 * decision (a first occurrence's details to add, a repeat count to show) or the state is not
 * plainly one. Property-tested against decide().
 */
export function settledRepeatRef(
  raw: string,
  issue: Issue,
): { channel: string; ts: string; threadTs?: string } | undefined {
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof s !== 'object' || s === null || s.v !== 1 || s.kind !== 'thread' || s.settled !== true)
    return undefined;
  if (s.status !== issue.status || s.firingSince !== issue.startsAt) return undefined;
  const { channel, ts, threadTs, steps, occurrences } = s;
  if (typeof channel !== 'string' || typeof ts !== 'string') return undefined;
  if (threadTs !== undefined && typeof threadTs !== 'string') return undefined;
  if (!Array.isArray(steps)) return undefined;
  if (issue.status === 'firing') {
    if (issue.enrichments.length > 0 && !steps.some((x) => x.kind === 'details')) return undefined;
    const occ = issue.occurrences;
    if (occ) {
      const shown = occurrences as { count?: unknown; objects?: unknown } | null | undefined;
      if (typeof shown !== 'object' || shown === null) return undefined;
      if (shown.count !== occ.count || (shown.objects ?? 0) !== (occ.objects ?? 0)) return undefined;
    }
  }
  return threadTs === undefined ? { channel, ts } : { channel, ts, threadTs };
}

function capSteps(steps: Step[]): Step[] {
  if (steps.length <= MAX_STEPS) return steps;
  const open = steps.filter((s) => !s.done);
  const done = steps.filter((s) => s.done);
  return [...done.slice(-(MAX_STEPS - open.length)), ...open];
}

/** The steps this delivery must still run, in plan order. */
export function pendingSteps(draft: ThreadDraft, issue: Issue): Step[] {
  return draft.steps.filter((s) => !s.done && s.by === issue.id);
}

export function viewOf(draft: ThreadDraft, issue: Issue): RootView {
  const view: RootView = {
    issue,
    status: draft.status,
    firingSince: draft.firingSince,
    firingCount: draft.firingCount,
    verdicts: draft.verdicts,
  };
  if (draft.resolvedAt !== undefined) view.resolvedAt = draft.resolvedAt;
  if (draft.continuesEarlier) view.continuesEarlier = true;
  if (draft.linkedTo) view.linked = true;
  const occ = issue.occurrences ?? draft.occurrences;
  if (occ) view.occurrences = occ;
  return view;
}
