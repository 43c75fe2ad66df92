// Delivers an issue into its thread: one thread per (destination, fingerprint), repeats
// deduplicated, resolution and re-fire edited into the root and replied in the thread. Safe
// under at-least-once delivery. The life of one delivery:
//   open the thread (its lock, and for a new thread its storm count, workload claim, channel
//   turn and attempt, in one round trip: domain/threads.ts) -> read what the key holds once
//   (stored.ts) -> decide what the issue changes (thread-state.ts, pure) -> fold it into a
//   summary (folding.ts), wait for its turn (pace.ts), or run the steps (steps.ts).
// A busy thread, a turn ahead or an edit interval ahead are results (outcome.ts: retryLater),
// never exceptions; lost posts are looked for before they are posted again (recovery.ts).
import { randomUUID } from 'node:crypto';
import { canSummarize } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import { MAX_TOKEN_HORIZON_MS } from '../../domain/state-store.ts';
import type { ThreadOpen, ThreadOpenRequest } from '../../domain/threads.ts';
import {
  DEFAULT_BACKLOG_MAX_WAIT_MS,
  DEFAULT_LOCK_TTL_MS,
  type Delivery,
  type DispatchDeps,
  decideContext,
  deliveryOf,
  unchanged,
} from './context.ts';
import { extendClaim, linkClaim, releaseClaim, resolveLink } from './correlation.ts';
import { foldAgain, foldNew } from './folding.ts';
import { type DispatchOutcome, type DispatchResult, isLater, later, type RetryLater } from './outcome.ts';
import { retryAfterSeconds, type Turn, takeTurn, turnOf } from './pace.ts';
import { adoptEarlierRoot } from './recovery.ts';
import { ThreadSession } from './session.ts';
import { callsOf, runSteps } from './steps.ts';
import { encode, parseStored, type Queued, type Stored } from './stored.ts';
import { digestLabels, groupOf } from './storm.ts';
import { stormCounter } from './storm-dispatch.ts';
import {
  decide,
  enrichmentStepsOf,
  pendingSteps,
  settledRepeatRef,
  type ThreadDraft,
  type ThreadState,
} from './thread-state.ts';

export { DEFAULT_LOCK_TTL_MS, DEFAULT_STATE_TTL_SECONDS, type DispatchDeps } from './context.ts';
export type { DispatchAction, DispatchOutcome, DispatchResult, RetryLater } from './outcome.ts';

/** How long a delivery that found the thread locked waits before it comes back. */
export const BUSY_RETRY_AFTER_MS = 1000;

/** How this delivery opens its thread, and what it asks for should the thread be new. */
interface OpenPlan {
  request: ThreadOpenRequest;
  /** The storm group a new firing alert counts in. */
  group?: Record<string, string> | undefined;
  /** The longest a new thread waits for its turn (the backlog bound, where a digest can take it). */
  newThreadWaitMs: number;
  /** A new thread too far behind in its channel goes into the channel's digest. */
  digest: boolean;
}

export async function dispatchIssue(issue: Issue, deps: DispatchDeps, peek = true): Promise<DispatchOutcome> {
  const d = deliveryOf(issue, deps);
  const plan = planOpen(d, peek);
  const opened = await d.threads.open(plan.request);
  if (!opened.locked) return later(BUSY_RETRY_AFTER_MS, 'thread busy with another delivery');
  if (opened.released) return settledDuplicate(d, opened.value) ?? dispatchIssue(issue, deps, false);
  const session = new ThreadSession(d, plan.request.lock, opened.attempted === true);
  try {
    return await inSession(d, session, plan, opened);
  } finally {
    await session.end();
  }
}

async function inSession(
  d: Delivery,
  session: ThreadSession,
  plan: OpenPlan,
  opened: ThreadOpen,
): Promise<DispatchOutcome> {
  const { issue } = d;
  const stored = parseStored(opened.value);
  if (stored.kind === 'folded') return foldAgain(d, session, stored.marker);
  const known = await knownThread(d, session, stored);
  if (isLater(known)) return known;
  const { state, lost, adopted } = known;
  const queued = stored.kind === 'queued' ? stored.queued : undefined;
  const decision = decide(state, issue, decideContext(d), lost);
  if (decision.kind === 'ignore') {
    if (adopted) await session.putAndRelease(encode.thread(decision.state), 'the adopted root');
    return unchanged(d, decision.state, decision.reason);
  }
  if (decision.kind === 'defer') {
    await session.putAndRelease(encode.thread(decision.state), 'the deferral');
    return later(decision.retryAfterMs, 'root edit deferred to keep to Slack’s edit rate');
  }
  // Only a brand-new firing alert may fold (the store counted it only when the thread was new).
  const fresh = state === null && !lost && !queued;
  const storm = plan.request.storm;
  if (fresh && plan.group && storm && opened.stormCount !== undefined && opened.stormCount > storm.threshold)
    return foldNew(d, session, plan.group, 'storm');
  const claimHolder = fresh ? opened.claimHolder : queued?.claimHolder;
  const draft = await linkedDraft(d, plan, decision.draft, state === null && !lost ? claimHolder : undefined);
  if (isLater(draft)) return draft;
  const pending = pendingSteps(draft, issue);
  if (pending.length === 0) {
    if (adopted) await session.putAndRelease(encode.thread(draft), 'the adopted root');
    return unchanged(d, draft, 'already delivered');
  }
  const turn = await turnFor(
    d,
    plan,
    fresh ? opened : undefined,
    state,
    queued,
    callsOf(pending, issue, d.destination),
  );
  if (turn.kind === 'over') {
    if (state === null && plan.digest) return foldIntoDigest(d, session, plan, claimHolder);
    return later(turn.waitMs, 'the channel’s queue is longer than its horizon');
  }
  if (turn.kind === 'wait') return waitForTurn(d, session, plan, turn, state, { queued, claimHolder, lost });
  // The turn is used now: it must not be stored for a later delivery to use again.
  delete draft.slot;
  return runSteps(d, session, {
    draft,
    pending,
    tokens: turn.tokens,
    queued: queued !== undefined,
    attemptSince: stored.kind === 'attempt' ? stored.attempt.since : undefined,
  });
}

/** What the key says of the thread: its state (null: none yet), adopting a root a lost post left. */
async function knownThread(
  d: Delivery,
  session: ThreadSession,
  stored: Exclude<Stored, { kind: 'folded' }>,
): Promise<{ state: ThreadState | null; lost: boolean; adopted: boolean } | RetryLater> {
  switch (stored.kind) {
    case 'thread':
      return { state: stored.state, lost: false, adopted: false };
    case 'unreadable':
      d.log?.warn(
        { fingerprint: d.issue.fingerprint, key: d.keys.data },
        'unreadable thread state: new root',
      );
      return { state: null, lost: true, adopted: false };
    case 'queued':
      return { state: null, lost: stored.queued.lost === true, adopted: false };
    case 'attempt': {
      const found = await adoptEarlierRoot(d, stored.attempt);
      if (isLater(found)) return found;
      // Not found: this delivery posts the root, under the attempt the key already holds.
      session.attemptHeld = found === null;
      return { state: found, lost: false, adopted: found !== null };
    }
    case 'empty':
      return { state: null, lost: false, adopted: false };
  }
}

/**
 * The lock, and for a brand-new thread what it needs besides, asked in the same round trip (the
 * store skips the extras for a known thread): its storm count, its workload claim, its channel
 * turn and the attempt that says its root is about to be posted.
 */
function planOpen(d: Delivery, peek: boolean): OpenPlan {
  const { issue, deps, destination, startMs, stateTtlSeconds } = d;
  const firing = issue.status === 'firing';
  const summaries = canSummarize(destination);
  const group = deps.storm && firing && summaries ? groupOf(issue, deps.storm.groupBy) : undefined;
  // A new alert waits for its turn up to the bound, then goes into the channel's digest.
  const backlogMs = deps.backlogMaxWaitMs ?? DEFAULT_BACKLOG_MAX_WAIT_MS;
  const digest = summaries && backlogMs > 0;
  const newThreadWaitMs = digest ? Math.min(backlogMs, MAX_TOKEN_HORIZON_MS) : MAX_TOKEN_HORIZON_MS;
  const lock = { key: d.keys.lock, token: randomUUID(), ttlMs: deps.lockTtlMs ?? DEFAULT_LOCK_TTL_MS };
  const request: ThreadOpenRequest = { lock, dataKey: d.keys.data };
  if (group && deps.storm) request.storm = stormCounter(destination.id, group, deps.storm, startMs);
  if (firing && destination.postLinked)
    request.claim = linkClaim(destination.id, issue, stateTtlSeconds, startMs);
  const pace = destination.pace;
  if (pace) {
    const root = { id: 'root', kind: 'root' as const, by: issue.id, done: false };
    const count = callsOf([root, ...enrichmentStepsOf(issue)], issue, destination);
    request.bucket = pace.bucket.request(pace.channel, { count, maxWaitMs: newThreadWaitMs, nowMs: startMs });
  }
  // The likely duplicate (a settled thread at this status and period) costs one round trip.
  if (peek) request.peek = { status: issue.status, firingSince: issue.startsAt };
  const at = startMs;
  const enriched = issue.enrichments.length > 0;
  const attempt = {
    v: 1 as const,
    by: issue.id,
    status: issue.status,
    firingSince: issue.startsAt,
    enriched,
    at,
  };
  request.attempt = { value: encode.attempt(attempt), ttlSeconds: stateTtlSeconds };
  return { request, group, newThreadWaitMs, digest };
}

/**
 * A settled thread's duplicate, answered without holding the lock (the store gave it back);
 * undefined when the delivery has work after all and must open the thread again.
 */
function settledDuplicate(d: Delivery, value: string | null): DispatchResult | undefined {
  const { issue } = d;
  const ref = value === null ? undefined : settledRepeatRef(value, issue);
  if (ref) {
    d.log?.debug(
      { fingerprint: issue.fingerprint, issueId: issue.id, reason: 'already delivered' },
      'unchanged',
    );
    return { action: 'unchanged', ref, status: issue.status, reason: 'already delivered' };
  }
  const stored = parseStored(value);
  if (stored.kind !== 'thread') return undefined;
  const decision = decide(stored.state, issue, decideContext(d));
  if (decision.kind === 'ignore') return unchanged(d, decision.state, decision.reason);
  if (decision.kind === 'apply' && pendingSteps(decision.draft, issue).length === 0)
    return unchanged(d, decision.draft, 'already delivered');
  return undefined;
}

/** A new firing thread may belong in a related issue's thread (same workload, other source). */
async function linkedDraft(
  d: Delivery,
  plan: OpenPlan,
  draft: ThreadDraft,
  claimHolder: string | null | undefined,
): Promise<ThreadDraft | RetryLater> {
  const claim = plan.request.claim;
  if (!claim || claimHolder === undefined) return draft;
  const link = await resolveLink(d.store, d.destination.id, claim, claimHolder, d.issue, d.startMs);
  if (!link || isLater(link)) return link ?? draft;
  return {
    ...draft,
    channel: link.thread.channel,
    threadTs: link.thread.ts,
    linkedTo: link.fingerprint,
    steps: draft.steps.map((s) => (s.kind === 'root' ? { ...s, kind: 'link' } : s)),
  };
}

/** The channel turn for this delivery's calls: taken with the lock, held from a deferral, or reserved now. */
function turnFor(
  d: Delivery,
  plan: OpenPlan,
  freshOpen: ThreadOpen | undefined,
  state: ThreadState | null,
  queued: Queued | undefined,
  calls: number,
): Promise<Turn> | Turn {
  if (freshOpen?.bucketWaitMs !== undefined)
    return turnOf(freshOpen.bucketWaitMs, plan.request.bucket?.count ?? 1, plan.newThreadWaitMs, d.startMs);
  return takeTurn(d.store, d.destination, {
    calls,
    maxWaitMs: state === null ? plan.newThreadWaitMs : MAX_TOKEN_HORIZON_MS,
    held: queued?.queued ?? state?.slot,
    nowMs: d.now().getTime(),
  });
}

/**
 * Records the turn this delivery waits for and tells it to come back then. A new thread's key
 * holds the turn until its root is posted; a known thread keeps its state as it was, with it.
 */
async function waitForTurn(
  d: Delivery,
  session: ThreadSession,
  plan: OpenPlan,
  turn: Extract<Turn, { kind: 'wait' }>,
  state: ThreadState | null,
  seen: { queued: Queued | undefined; claimHolder: string | null | undefined; lost: boolean },
): Promise<RetryLater> {
  const reason = `waiting ${retryAfterSeconds(turn.waitMs)}s for its turn in the channel`;
  if (turn.slot) {
    const claim = plan.request.claim;
    // Holding the workload for this thread until its turn has come and gone.
    if (state === null && seen.claimHolder === null && claim)
      await d.store.put(claim.key, extendClaim(claim.value, turn.slot.at), claim.ttlSeconds);
    const value =
      state !== null
        ? encode.thread({ ...state, slot: turn.slot })
        : encode.queued({
            v: 1,
            queued: turn.slot,
            ...(seen.claimHolder === undefined ? {} : { claimHolder: seen.claimHolder }),
            ...(seen.lost ? { lost: true as const } : {}),
          });
    await session.putAndRelease(value, 'its turn');
  } else if (seen.queued) {
    // Its turn is already recorded: the key keeps it.
    session.attemptHeld = false;
  }
  d.log?.debug({ fingerprint: d.issue.fingerprint, issueId: d.issue.id, waitMs: turn.waitMs }, reason);
  return later(turn.waitMs, reason);
}

/** The channel is further behind than a new alert may wait: it goes into the channel's digest. */
async function foldIntoDigest(
  d: Delivery,
  session: ThreadSession,
  plan: OpenPlan,
  claimHolder: string | null | undefined,
): Promise<DispatchOutcome> {
  // Its own thread will not open: a related issue need not wait for it.
  if (claimHolder === null && plan.request.claim) await releaseClaim(d.store, plan.request.claim);
  return foldNew(d, session, digestLabels(d.startMs), 'digest');
}
