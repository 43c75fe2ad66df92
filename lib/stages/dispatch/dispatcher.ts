// Delivers an issue into its thread: one thread per (destination, fingerprint), repeats
// deduplicated, resolution and re-fire edited into the root and replied in the thread. Safe
// under at-least-once delivery: a per-thread lock plus resumable steps recorded in the store.
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { threadKeys } from '../../adapters/store/keys.ts';
import type { Destination, MessageRef } from '../../domain/destination.ts';
import { canSummarize, type GroupKind } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import {
  encodeRootAttempt,
  type Lock,
  MAX_TOKEN_HORIZON_MS,
  type OpenThreadExtras,
  type RootAttempt,
  type StateStore,
} from '../../domain/state-store.ts';
import { DependencyError, RateLimitedError, UnavailableError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import { extendClaim, linkClaim, releaseClaim, resolveLink } from './correlation.ts';
import { retryAfterSeconds, Slot, type Turn, takeTurn, turnOf } from './pace.ts';
import {
  DEFAULT_STORM,
  digestLabels,
  type FoldedMarker,
  groupOf,
  parseFoldedMarker,
  type StormOptions,
} from './storm.ts';
import { type FoldResult, foldIntoGroup, stormCounter } from './storm-dispatch.ts';
import {
  decide,
  enrichmentSteps,
  enrichmentStepsOf,
  newThread,
  parseThreadState,
  pendingSteps,
  REPLY_KINDS,
  type Step,
  settledRepeatRef,
  type ThreadDraft,
  ThreadState,
  verdictsOf,
  viewOf,
} from './thread-state.ts';

export const DEFAULT_LOCK_TTL_MS = 30_000;
export const DEFAULT_STATE_TTL_SECONDS = 14 * 24 * 3600;
/** Seconds a delivery that found the thread locked is told to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 1;
/** How far before a lost post its lookup starts (clock skew between us and Slack). */
const LOOKBACK_SECONDS = 60;
/** A slow post can still land after the client gave up: look only once this has passed. */
const SETTLE_MS = 10_000;

/**
 * What a thread key holds while a new thread's root may exist without its state. Written with
 * the lock before the post (openThread's attempt: who posts, not the plan) and replaced by the
 * state once the root is recorded; rewritten with the plan when the post's answer was lost. A
 * delivery that dies, whose record fails (Redis full or gone) or whose answer was lost leaves
 * its redelivery a reason to look for that root before posting one.
 */
interface RootAttemptMarker {
  v: 1;
  /** since: epoch seconds from which the destination's history may hold that root; lookAt:
   * epoch ms before which a retry is told to come back (the post may still be landing). */
  rootAttempt: { since: number; lookAt: number } & Partial<RootAttempt>;
  /** The thread as planned when the root was posted: adopted with the root found. */
  draft?: ThreadDraft;
}

function parseRootAttempt(raw: string | null): RootAttemptMarker | undefined {
  if (raw === null || !raw.includes('"rootAttempt"')) return undefined;
  try {
    const m = JSON.parse(raw) as Partial<RootAttemptMarker>;
    const a = m.rootAttempt as Partial<RootAttempt & { since: number; lookAt: number }> | undefined;
    if (!a) return undefined;
    if (Number.isFinite(a.at) && a.since === undefined) {
      a.since = Math.floor((a.at as number) / 1000) - LOOKBACK_SECONDS;
      a.lookAt = (a.at as number) + SETTLE_MS;
    }
    if (!Number.isFinite(a.since) || !Number.isFinite(a.lookAt)) return undefined;
    if (m.draft !== undefined) {
      if (typeof m.draft !== 'object' || m.draft === null || !Array.isArray(m.draft.steps)) return undefined;
    } else if (
      typeof a.by !== 'string' ||
      (a.status !== 'firing' && a.status !== 'resolved') ||
      typeof a.firingSince !== 'string' ||
      typeof a.enriched !== 'boolean'
    ) {
      return undefined;
    }
    return m as RootAttemptMarker;
  } catch {
    return undefined;
  }
}

/**
 * What a new thread's key holds while its delivery waits for its turn in the channel (pace.ts):
 * nothing is posted yet. The turn is used by whichever delivery of the alert holds the lock
 * when it comes; `claimHolder` is what the workload claim found when the thread was opened
 * (null: this thread holds it), since a re-open of a known key makes no claim.
 */
const QueuedMarker = z.object({
  v: z.literal(1),
  queued: Slot,
  claimHolder: z.string().nullable().optional(),
  /** The key held a state no one could read: the root says it continues an earlier thread. */
  lost: z.literal(true).optional(),
});
type QueuedMarker = z.infer<typeof QueuedMarker>;

function parseQueued(raw: string | null): QueuedMarker | undefined {
  if (raw === null || !raw.includes('"queued"')) return undefined;
  try {
    const parsed = QueuedMarker.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Default of DispatchDeps.backlogMaxWaitMs: the longest a new alert waits for its turn. */
export const DEFAULT_BACKLOG_MAX_WAIT_MS = 60_000;

export interface DispatchDeps {
  store: StateStore;
  destination: Destination;
  now?: () => Date;
  /** Must outlast one step (a Slack call); every recorded step renews it. Default 30s. */
  lockTtlMs?: number;
  /** How long a thread is remembered after its last change. Default 14 days. */
  stateTtlSeconds?: number;
  /** Least time between root edits for changed repeat counts (default 30 s). */
  minUpdateIntervalMs?: number;
  /**
   * Storm folding; off when unset or when the destination cannot show summaries. Past
   * `threshold` new alerts of one group within the window, the rest become lines of one summary
   * instead of threads of their own.
   */
  storm?: StormOptions | undefined;
  /**
   * The longest a new alert waits for its turn in a paced channel before it goes into the
   * channel's digest instead (default 60 s); 0 never digests, it always waits. Only for
   * destinations that can show summaries.
   */
  backlogMaxWaitMs?: number | undefined;
  /**
   * Told when a storm summary has something left to show and how soon it may: a flusher in the
   * process shows it then, ahead of the one delivery deferred for it (the durable fallback).
   */
  onStormPending?: ((labels: Record<string, string>, inMs: number) => void) | undefined;
  log?: Logger | undefined;
}

export type DispatchAction = 'posted' | 'updated' | 'replied' | 'unchanged';

export interface DispatchResult {
  action: DispatchAction;
  /** The thread's root, when one exists. */
  ref?: MessageRef;
  status: 'firing' | 'resolved';
  /** Why nothing happened, for the log line. */
  reason?: string;
}

const refOf = (d: {
  channel?: string | undefined;
  ts?: string | undefined;
  threadTs?: string | undefined;
}): MessageRef | undefined => {
  if (d.channel === undefined || d.ts === undefined) return undefined;
  return d.threadTs === undefined
    ? { channel: d.channel, ts: d.ts }
    : { channel: d.channel, ts: d.ts, threadTs: d.threadTs };
};

function actionOf(ran: Step[]): DispatchAction {
  if (ran.some((s) => s.kind === 'root' || s.kind === 'link')) return 'posted';
  if (ran.some((s) => s.kind === 'update')) return 'updated';
  return ran.length > 0 ? 'replied' : 'unchanged';
}

/**
 * Throws RateLimitedError (429, retryable) at once when another delivery holds the thread: it
 * never waits in-process, the broker retries later and that retry sees the finished state. Any
 * error from the destination propagates after the finished steps are recorded, so the
 * redelivery runs only the missing ones.
 */
export async function dispatchIssue(issue: Issue, deps: DispatchDeps, peek = true): Promise<DispatchResult> {
  const { store, destination, log } = deps;
  const now = deps.now ?? (() => new Date());
  const stateTtlSeconds = deps.stateTtlSeconds ?? DEFAULT_STATE_TTL_SECONDS;
  const keys = threadKeys(destination.id, issue.fingerprint);
  const lock: Lock = { key: keys.lock, token: randomUUID(), ttlMs: deps.lockTtlMs ?? DEFAULT_LOCK_TTL_MS };

  // What a brand-new thread needs besides its lock (storm count, workload claim, the channel
  // turn for its first calls, the attempt) rides in the same round trip; the store skips it for
  // a known thread.
  const startMs = now().getTime();
  const firing = issue.status === 'firing';
  const summaries = canSummarize(destination);
  const groupLabels = deps.storm && firing && summaries ? groupOf(issue, deps.storm.groupBy) : undefined;
  // A new alert waits for its turn up to the bound, then goes into the channel's digest.
  const backlogMs = deps.backlogMaxWaitMs ?? DEFAULT_BACKLOG_MAX_WAIT_MS;
  const newThreadWaitMs =
    summaries && backlogMs > 0 ? Math.min(backlogMs, MAX_TOKEN_HORIZON_MS) : MAX_TOKEN_HORIZON_MS;
  const newThreadCalls = callsOf(
    [{ id: 'root', kind: 'root', by: issue.id, done: false }, ...enrichmentStepsOf(issue)],
    issue,
    destination,
  );
  const extras: OpenThreadExtras = {};
  if (groupLabels && deps.storm)
    extras.storm = stormCounter(destination.id, groupLabels, deps.storm, startMs);
  if (firing && destination.postLinked)
    extras.claim = linkClaim(destination.id, issue, stateTtlSeconds, startMs);
  const pace = destination.pace;
  if (pace)
    extras.bucket = pace.bucket.request(pace.channel, {
      count: newThreadCalls,
      maxWaitMs: newThreadWaitMs,
      nowMs: startMs,
    });
  // The likely duplicate (a settled thread at this status and period) costs one round trip.
  if (peek) extras.peek = { status: issue.status, firingSince: issue.startsAt };
  extras.attempt = {
    by: issue.id,
    status: issue.status,
    firingSince: issue.startsAt,
    enriched: issue.enrichments.length > 0,
    at: startMs,
    ttlSeconds: stateTtlSeconds,
  };

  const opened = await store.openThread(lock, keys.data, extras);
  const { locked, value } = opened;
  if (!locked) {
    throw new RateLimitedError('thread busy with another delivery', { retryAfter: BUSY_RETRY_AFTER_SECONDS });
  }

  const decideCtx = () =>
    deps.minUpdateIntervalMs === undefined
      ? { now: now(), stateTtlSeconds }
      : { now: now(), stateTtlSeconds, minUpdateIntervalMs: deps.minUpdateIntervalMs };
  if (opened.released) {
    // The store gave the lock back: fine for a duplicate, anything else re-opens with it. The
    // plain duplicate is answered from the raw state, without the full parse.
    const ref = value === null ? undefined : settledRepeatRef(value, issue);
    if (ref) {
      log?.debug(
        { fingerprint: issue.fingerprint, issueId: issue.id, reason: 'already delivered' },
        'unchanged',
      );
      return { action: 'unchanged', ref, status: issue.status, reason: 'already delivered' };
    }
    const { state } = parseThreadState(value);
    const decision = state ? decide(state, issue, decideCtx()) : undefined;
    if (decision?.kind === 'ignore') return unchanged(decision.state, decision.reason);
    if (decision?.kind === 'apply' && pendingSteps(decision.draft, issue).length === 0)
      return unchanged(decision.draft, 'already delivered');
    return dispatchIssue(issue, deps, false);
  }

  let released = false;
  // The thread key holds an attempt: this delivery's, or an earlier one's whose root Slack
  // turned out not to have. Taken back when this delivery ends before its post could land.
  let attemptHeld = opened.attempted === true;
  let posting = false;
  try {
    const marker = parseFoldedMarker(value);
    if (marker) return await foldedAgain(marker);
    // A new thread still waiting for its turn: nothing of it is posted yet.
    const queued = parseQueued(value);
    // A root post whose answer was lost: adopt that root if Slack has it, else start over.
    const attempt = queued ? undefined : parseRootAttempt(value);
    let { state, lost } =
      attempt || queued ? { state: null, lost: queued?.lost === true } : parseThreadState(value);
    let adopted = false;
    if (attempt) {
      state = await adoptEarlierRoot(attempt);
      adopted = state !== null;
      attemptHeld = !adopted;
      lost = false;
    }
    if (lost)
      log?.warn({ fingerprint: issue.fingerprint, key: keys.data }, 'unreadable thread state: new root');
    const decision = decide(state, issue, decideCtx(), lost);
    if (decision.kind === 'ignore') {
      if (adopted) await keep(decision.state);
      return unchanged(decision.state, decision.reason);
    }
    if (decision.kind === 'defer') {
      const ok = await store.putAndUnlock(lock, keys.data, JSON.stringify(decision.state), stateTtlSeconds);
      released = true;
      if (!ok) throw new UnavailableError('thread lock expired before the deferral was recorded');
      throw new RateLimitedError('root edit deferred to keep to Slack’s rate', {
        retryAfter: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
      });
    }
    // Only a brand-new firing alert may fold (the store counted it only when the thread was
    // new): an existing thread keeps its own story.
    const fresh = state === null && !lost && !queued;
    const group = fresh && opened.stormCount !== undefined ? groupLabels : undefined;
    if (group && extras.storm && (opened.stormCount ?? 0) > extras.storm.threshold) return await fold(group);
    let draft = decision.draft;
    // A new firing thread may belong in a related issue's thread (same workload, other source).
    const claimHolder = fresh ? opened.claimHolder : queued?.claimHolder;
    if (state === null && !lost && extras.claim && claimHolder !== undefined) {
      const link = await resolveLink(store, destination.id, extras.claim, claimHolder, issue, startMs);
      if (link) {
        draft = {
          ...draft,
          channel: link.thread.channel,
          threadTs: link.thread.ts,
          linkedTo: link.fingerprint,
          steps: draft.steps.map((s) => (s.kind === 'root' ? { ...s, kind: 'link' } : s)),
        };
      }
    }
    const pending = pendingSteps(draft, issue);
    if (pending.length === 0) {
      if (adopted) await keep(draft);
      return unchanged(draft, 'already delivered');
    }

    // The channel turn for this delivery's calls: taken with the lock for a new thread, held
    // from an earlier deferral, or reserved now.
    const turn: Turn =
      fresh && opened.bucketWaitMs !== undefined
        ? turnOf(opened.bucketWaitMs, extras.bucket?.count ?? 1, newThreadWaitMs, startMs)
        : await takeTurn(store, destination, {
            calls: callsOf(pending, issue, destination),
            maxWaitMs: state === null ? newThreadWaitMs : MAX_TOKEN_HORIZON_MS,
            held: queued?.queued ?? state?.slot,
            nowMs: now().getTime(),
          });
    if (turn.kind === 'over') {
      if (state === null && summaries && backlogMs > 0) return await foldIntoDigest(claimHolder);
      throw new RateLimitedError('channel queue past its horizon: come back later', {
        retryAfter: retryAfterSeconds(turn.waitMs),
      });
    }
    if (turn.kind === 'wait') return await waitForTurn(turn, state, queued, claimHolder, lost);
    let tokens = turn.kind === 'go' ? turn.tokens : 0;
    // The turn is used now: it must not be stored for a later delivery to use again.
    delete draft.slot;

    const ran: Step[] = [];
    // Replies an earlier delivery was about to send and never recorded as sent.
    const triedBefore = new Set(pending.filter((s) => s.tried !== undefined));
    for (const [i, step] of pending.entries()) {
      const last = i === pending.length - 1;
      const reply = REPLY_KINDS.has(step.kind);
      if (reply && triedBefore.has(step) && (await replyLanded(step, draft))) {
        ran.push(step);
        await save(draft, step, last, pending[i + 1]);
        released = last;
        continue;
      }
      if (reply && step.tried === undefined) {
        // The try is recorded before the post; after a step of this delivery, with its record.
        step.tried = now().getTime();
        if (!(await store.putLocked(lock, keys.data, JSON.stringify(draft), stateTtlSeconds)))
          throw new UnavailableError('lost the thread lock during dispatch');
      }
      try {
        const opening = ran.length === 0 && (step.kind === 'root' || step.kind === 'link');
        posting ||= opening;
        if (opening && queued && !attemptHeld) await markAttempt();
        const paid = tokens > 0 && callsOf([step], issue, destination) > 0;
        if (paid) tokens -= 1;
        await runStep(step, draft, issue, destination, paid);
      } catch (err) {
        const notSent = !(err instanceof UnavailableError && err.maybeApplied);
        // Refused, or never sent: that post did not land.
        if (ran.length === 0 && notSent) posting = false;
        // Nor did this reply: its retry need not look for it.
        if (reply && notSent) await untry(draft, step);
        // Slack may have posted the root although its answer was lost: remember to look first.
        if (ran.length === 0 && step.kind === 'root' && err instanceof UnavailableError && err.maybeApplied) {
          const since = attempt?.rootAttempt.since ?? Math.floor(startMs / 1000) - LOOKBACK_SECONDS;
          const mark: RootAttemptMarker = {
            v: 1,
            rootAttempt: { since, lookAt: now().getTime() + SETTLE_MS },
            draft,
          };
          await store.putAndUnlock(lock, keys.data, JSON.stringify(mark), stateTtlSeconds);
          released = true;
        }
        throw err;
      }
      ran.push(step);
      await save(draft, step, last, pending[i + 1]);
      released = last;
    }
    const ref = refOf(draft);
    log?.info(
      { fingerprint: issue.fingerprint, issueId: issue.id, steps: ran.map((s) => s.id), ...ref },
      'dispatched',
    );
    return ref
      ? { action: actionOf(ran), ref, status: draft.status }
      : { action: actionOf(ran), status: draft.status };
  } finally {
    if (!released) await (attemptHeld && !posting ? drop() : release());
  }

  /**
   * Records the turn this delivery waits for and tells it to come back then (429 +
   * Retry-After). A new thread's key holds the turn until its root is posted; a known thread
   * keeps its state as it was, with the turn.
   */
  async function waitForTurn(
    turn: Extract<Turn, { kind: 'wait' }>,
    state: ThreadState | null,
    queued: QueuedMarker | undefined,
    claimHolder: string | null | undefined,
    lost: boolean,
  ): Promise<never> {
    const reason = `waiting ${retryAfterSeconds(turn.waitMs)}s for its turn in the channel`;
    if (turn.slot) {
      const value =
        state === null
          ? JSON.stringify(queuedMarker(turn.slot, claimHolder, lost))
          : JSON.stringify({ ...state, slot: turn.slot });
      // Holding the workload for this thread until its turn has come and gone.
      if (state === null && claimHolder === null && extras.claim)
        await store.put(
          extras.claim.key,
          extendClaim(extras.claim.value, turn.slot.at),
          extras.claim.ttlSeconds,
        );
      const ok = await store.putAndUnlock(lock, keys.data, value, stateTtlSeconds);
      released = true;
      if (!ok) throw new UnavailableError('thread lock expired before its turn was recorded');
    } else if (queued) {
      // Its turn is already recorded: the key keeps it.
      attemptHeld = false;
    }
    log?.debug({ fingerprint: issue.fingerprint, issueId: issue.id, waitMs: turn.waitMs }, reason);
    throw new RateLimitedError(reason, { retryAfter: retryAfterSeconds(turn.waitMs) });
  }

  function queuedMarker(slot: Slot, claimHolder: string | null | undefined, lost: boolean): QueuedMarker {
    const m: QueuedMarker = { v: 1, queued: slot };
    if (claimHolder !== undefined) m.claimHolder = claimHolder;
    if (lost) m.lost = true;
    return m;
  }

  /** Before a queued (or re-tried) root is posted, the key says a post may be under way. */
  async function markAttempt(): Promise<void> {
    const { ttlSeconds, ...a } = extras.attempt as NonNullable<OpenThreadExtras['attempt']>;
    if (
      !(await store.putLocked(lock, keys.data, encodeRootAttempt({ ...a, at: now().getTime() }), ttlSeconds))
    )
      throw new UnavailableError('lost the thread lock before posting its root');
    attemptHeld = true;
  }

  /** The channel is further behind than a new alert may wait: it goes into the digest. */
  async function foldIntoDigest(claimHolder: string | null | undefined): Promise<DispatchResult> {
    // Its own thread will not open: a related issue need not wait for it.
    if (claimHolder === null && extras.claim) await releaseClaim(store, extras.claim);
    return fold(digestLabels(startMs), 'digest');
  }

  function folded(r: FoldResult, kind: GroupKind): DispatchResult {
    const into = kind === 'digest' ? 'the channel digest' : 'a storm summary';
    const reason = r.changed ? `folded into ${into}` : `already in ${into}`;
    log?.debug({ fingerprint: issue.fingerprint, issueId: issue.id, reason }, 'folded');
    return r.ref
      ? { action: r.changed ? 'replied' : 'unchanged', ref: r.ref, status: issue.status, reason }
      : { action: 'unchanged', status: issue.status, reason };
  }

  function foldDeps() {
    // Only a destination that can summarize ever folded; a marker found for another is corrupt.
    if (!canSummarize(destination))
      throw new UnavailableError('storm summary on a destination without summaries');
    return {
      store,
      destination,
      // Folding turned off since: alerts already folded still finish in their summary.
      storm: deps.storm ?? DEFAULT_STORM,
      now,
      stateTtlSeconds,
      lockTtlMs: lock.ttlMs,
      log,
    };
  }

  /** A new alert becomes a line of its group's summary; its thread key remembers where it went. */
  async function fold(labels: Record<string, string>, kind: GroupKind = 'storm'): Promise<DispatchResult> {
    const r = await foldIntoGroup(issue, labels, foldDeps(), kind);
    const m: FoldedMarker = {
      v: 1,
      folded: kind,
      labels,
      status: issue.status,
      firingSince: issue.startsAt,
    };
    const ok = await store.putAndUnlock(lock, keys.data, JSON.stringify(m), stateTtlSeconds);
    released = true;
    if (!ok) throw new UnavailableError('thread lock expired before the fold was recorded');
    return deferIfAsked(r, labels, kind);
  }

  /** A later occurrence (repeat, resolution, re-fire) of an alert that went into a summary. */
  async function foldedAgain(m: FoldedMarker): Promise<DispatchResult> {
    if (Date.parse(issue.startsAt) < Date.parse(m.firingSince))
      return { action: 'unchanged', status: m.status, reason: 'occurrence of an earlier firing period' };
    const kind: GroupKind = m.folded === 'digest' ? 'digest' : 'storm';
    const r = await foldIntoGroup(issue, m.labels, foldDeps(), kind);
    if (m.status !== issue.status || m.firingSince !== issue.startsAt) {
      const next: FoldedMarker = { ...m, status: issue.status, firingSince: issue.startsAt };
      const ok = await store.putAndUnlock(lock, keys.data, JSON.stringify(next), stateTtlSeconds);
      released = true;
      if (!ok) throw new UnavailableError('thread lock expired before the fold was recorded');
    }
    return deferIfAsked(r, m.labels, kind);
  }

  function deferIfAsked(r: FoldResult, labels: Record<string, string>, kind: GroupKind): DispatchResult {
    if (r.pendingMs !== undefined) deps.onStormPending?.(labels, r.pendingMs);
    if (r.retryAfterMs !== undefined) {
      const what = kind === 'digest' ? 'the channel digest' : 'the storm summary';
      throw new RateLimitedError(`${what} is shown at a bounded rate: come back to show it`, {
        retryAfter: retryAfterSeconds(r.retryAfterMs),
      });
    }
    return folded(r, kind);
  }

  /**
   * The thread as the lost attempt planned it, with the root Slack has (null: not found, post
   * afresh). Until a slow post may have landed, the delivery is told to come back (429).
   */
  async function adoptEarlierRoot(m: RootAttemptMarker): Promise<ThreadState | null> {
    const { findRoot } = destination;
    if (!findRoot) return null;
    const found = await lookForEarlier('root post', m.rootAttempt.lookAt, () =>
      findRoot.call(destination, issue.fingerprint, m.rootAttempt.since),
    );
    if (!found) return null;
    const planned = m.draft ?? plannedBy(m.rootAttempt as RootAttempt);
    const steps = planned.steps.map((s) => (s.kind === 'root' ? { ...s, done: true } : s));
    const parsed = ThreadState.safeParse({ ...planned, channel: found.channel, ts: found.ts, steps });
    if (!parsed.success) return null;
    log?.info({ fingerprint: issue.fingerprint, ...found }, 'adopted the root an earlier attempt posted');
    return parsed.data;
  }

  /**
   * The thread the attempt's delivery planned: exactly this one's plan when it is that delivery
   * again; else its root and, if it carried them, its details (which only its own redelivery
   * can post), shown with this occurrence's verdicts.
   */
  function plannedBy(a: RootAttempt): ThreadDraft {
    if (a.by === issue.id) return newThread(issue, decideCtx());
    const steps: Step[] = [{ id: 'root', kind: 'root', by: a.by, done: false }];
    if (a.enriched) steps.push(...enrichmentSteps(a.by));
    return {
      v: 1,
      status: a.status === 'resolved' ? 'resolved' : 'firing',
      firingSince: a.firingSince,
      firingCount: 1,
      verdicts: verdictsOf(issue),
      steps,
    };
  }

  /** Records an adopted thread when this delivery has nothing else to do in it. */
  async function keep(d: ThreadDraft): Promise<void> {
    const ok = await store.putAndUnlock(lock, keys.data, JSON.stringify(d), stateTtlSeconds);
    released = true;
    if (!ok) throw new UnavailableError('thread lock expired before the adopted root was recorded');
  }

  function unchanged(s: ThreadDraft, reason: string): DispatchResult {
    log?.debug({ fingerprint: issue.fingerprint, issueId: issue.id, reason }, 'unchanged');
    const ref = refOf(s);
    return ref
      ? { action: 'unchanged', ref, status: s.status, reason }
      : { action: 'unchanged', status: s.status, reason };
  }

  /**
   * Records one finished step, and the try of the next one when that is a reply; the last one
   * also releases the lock (one round trip).
   */
  async function save(draft: ThreadDraft, step: Step, last: boolean, next: Step | undefined): Promise<void> {
    step.done = true;
    // A done step needs no try: the state stays as short as before.
    delete step.tried;
    if (next && REPLY_KINDS.has(next.kind) && next.tried === undefined) next.tried = now().getTime();
    const value = JSON.stringify(draft);
    const ok = last
      ? await store.putAndUnlock(lock, keys.data, value, stateTtlSeconds)
      : await store.putLocked(lock, keys.data, value, stateTtlSeconds);
    if (!ok) {
      // The lock expired mid-delivery and someone else may hold the thread now: writing would
      // overwrite newer state. A redelivery will see whatever that holder recorded.
      throw new UnavailableError('lost the thread lock during dispatch');
    }
  }

  /**
   * Whether the reply an earlier delivery tried is in the thread already; a destination that
   * cannot look posts.
   */
  async function replyLanded(step: Step, d: ThreadDraft): Promise<boolean> {
    const { findReply } = destination;
    const ref = refOf(d);
    if (!findReply || !ref || step.tried === undefined) return false;
    const since = Math.floor(step.tried / 1000) - LOOKBACK_SECONDS;
    const found = await lookForEarlier('reply', step.tried + SETTLE_MS, () =>
      findReply.call(destination, ref, issue.fingerprint, step.id, since),
    );
    if (found)
      log?.info(
        { fingerprint: issue.fingerprint, step: step.id },
        'found the reply an earlier attempt posted',
      );
    return found === true;
  }

  /**
   * What `look` finds of a post an earlier delivery may have made. Until `lookAt` (epoch ms) a
   * slow post may still land, so the delivery is told to come back (429). Undefined when the
   * destination cannot look (no history scope, not in the channel): post, as before these
   * checks existed.
   */
  async function lookForEarlier<T>(
    what: string,
    lookAt: number,
    look: () => Promise<T>,
  ): Promise<T | undefined> {
    const wait = lookAt - now().getTime();
    if (wait > 0)
      throw new RateLimitedError(`an earlier ${what} may still be landing: look for it later`, {
        retryAfter: Math.ceil(wait / 1000),
      });
    try {
      return await look();
    } catch (err) {
      if (!(err instanceof DependencyError)) throw err;
      log?.warn({ err, fingerprint: issue.fingerprint }, `cannot look for an earlier ${what}: posting`);
      return undefined;
    }
  }

  /** Forgets the try of a reply that was not sent, so its retry posts without looking first. */
  async function untry(d: ThreadDraft, step: Step): Promise<void> {
    delete step.tried;
    try {
      await store.putAndUnlock(lock, keys.data, JSON.stringify(d), stateTtlSeconds);
      released = true;
    } catch (err) {
      log?.warn({ err, key: keys.data }, 'could not clear a reply try: its retry looks first');
    }
  }

  /** Takes this attempt back with the lock; failing, the redelivery looks for a root first. */
  async function drop(): Promise<void> {
    try {
      await store.dropAndUnlock(lock, keys.data);
    } catch (err) {
      log?.warn({ err, key: keys.data }, 'could not take back a root attempt');
    }
  }

  async function release(): Promise<void> {
    try {
      await store.unlock(lock);
    } catch (err) {
      // The lock expires by itself; failing here would turn a finished delivery into a retry.
      log?.warn({ err, key: keys.lock }, 'could not release thread lock');
    }
  }
}

/**
 * Channel calls `steps` make: one each; a files step one when the destination has something to
 * upload (further batches, and overflow only rendering finds, take their own tokens).
 */
function callsOf(steps: readonly Step[], issue: Issue, destination: Destination): number {
  let n = 0;
  for (const s of steps) n += s.kind === 'files' ? Math.min(1, destination.uploadCalls?.(issue) ?? 1) : 1;
  return n;
}

async function runStep(
  step: Step,
  draft: ThreadDraft,
  issue: Issue,
  destination: Destination,
  tokenTaken: boolean,
): Promise<void> {
  const view = viewOf(draft, issue);
  const opts = tokenTaken ? { tokenTaken } : undefined;
  if (step.kind === 'root') {
    const ref = await destination.postRoot(view, opts);
    draft.channel = ref.channel;
    draft.ts = ref.ts;
    return;
  }
  if (step.kind === 'link') {
    if (!destination.postLinked || draft.channel === undefined || draft.threadTs === undefined) {
      throw new Error(`step ${step.id} links without a thread to join`);
    }
    const ref = await destination.postLinked({ channel: draft.channel, ts: draft.threadTs }, view, opts);
    draft.ts = ref.ts;
    return;
  }
  const ref = refOf(draft);
  // Only a root step creates a ref, and it is planned first in every new thread.
  if (!ref) throw new Error(`step ${step.id} planned before the thread's root exists`);
  const tag = { step: step.id };
  const paid = { ...tag, ...opts };
  switch (step.kind) {
    case 'update':
      return destination.updateRoot(ref, view, opts);
    case 'reply-resolved':
      return destination.postStatusReply(ref, view, 'resolved', paid);
    case 'reply-refired':
      return destination.postStatusReply(ref, view, 'refired', paid);
    case 'details':
      return destination.postDetails(ref, issue, paid);
    case 'files':
      return destination.uploadFiles(ref, issue, opts);
  }
}
