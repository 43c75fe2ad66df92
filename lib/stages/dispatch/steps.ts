// Running a thread's planned steps in order (post the root, edit it, reply, upload), each one
// recorded as done before the next, so that a redelivery after a partial failure runs only what
// is missing. Replies, which would show twice if posted again, record their try before the post;
// a retry that finds a try without its record looks for that reply first (recovery.ts).
import type { Destination } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import { UnavailableError } from '../../platform/errors.ts';
import { ChannelBusyError } from './channel-bucket.ts';
import { type Delivery, refOf } from './context.ts';
import { type DispatchAction, type DispatchResult, isLater, later, type RetryLater } from './outcome.ts';
import { replyLanded } from './recovery.ts';
import type { ThreadSession } from './session.ts';
import { encode, LOOKBACK_SECONDS, SETTLE_MS } from './stored.ts';
import { REPLY_KINDS, type Step, type ThreadDraft, viewOf } from './thread-state.ts';

export interface StepRun {
  draft: ThreadDraft;
  /** The steps this delivery runs, in plan order (pendingSteps). */
  pending: Step[];
  /** Channel calls its turn already paid for (pace.ts); the rest take their tokens as they go. */
  tokens: number;
  /** The key held this thread's queued turn: the root's attempt is written just before its post. */
  queued: boolean;
  /** From when the destination's history may hold an earlier attempt's root (epoch s). */
  attemptSince?: number | undefined;
}

export async function runSteps(
  d: Delivery,
  session: ThreadSession,
  run: StepRun,
): Promise<DispatchResult | RetryLater> {
  const { issue, log } = d;
  const { draft, pending } = run;
  let tokens = run.tokens;
  const ran: Step[] = [];
  // Replies an earlier delivery was about to send and never recorded as sent.
  const triedBefore = new Set(pending.filter((s) => s.tried !== undefined));
  for (const [i, step] of pending.entries()) {
    const reply = REPLY_KINDS.has(step.kind);
    if (reply && triedBefore.has(step)) {
      const landed = await replyLanded(d, step, draft);
      if (isLater(landed)) return landed;
      if (landed) {
        ran.push(step);
        await save(d, session, draft, step, pending[i + 1]);
        continue;
      }
    }
    if (reply && step.tried === undefined) {
      // The try is recorded before the post; after a step of this delivery, with its record.
      step.tried = d.now().getTime();
      await session.put(encode.thread(draft));
    }
    const opening = ran.length === 0 && (step.kind === 'root' || step.kind === 'link');
    try {
      session.posting ||= opening;
      if (opening && run.queued && !session.attemptHeld) await markAttempt(d, session);
      const paid = tokens > 0 && callsOf([step], issue, d.destination) > 0;
      if (paid) tokens -= 1;
      await runStep(step, draft, issue, d.destination, paid);
    } catch (err) {
      const deferred = await failed(d, session, run, step, ran.length === 0, err);
      if (deferred) return deferred;
      throw err;
    }
    ran.push(step);
    await save(d, session, draft, step, pending[i + 1]);
  }
  const ref = refOf(draft);
  log?.info(
    { fingerprint: issue.fingerprint, issueId: issue.id, steps: ran.map((s) => s.id), ...ref },
    'dispatched',
  );
  const action = actionOf(ran);
  return ref ? { action, ref, status: draft.status } : { action, status: draft.status };
}

/**
 * Bookkeeping after a step failed: what did not land needs no lookup, a root that may have
 * landed leaves its plan for the redelivery to adopt. A step the channel's own bucket refused is
 * a turn to wait for (later); anything else is the caller's to rethrow.
 */
async function failed(
  d: Delivery,
  session: ThreadSession,
  run: StepRun,
  step: Step,
  first: boolean,
  err: unknown,
): Promise<RetryLater | undefined> {
  const notSent = !(err instanceof UnavailableError && err.maybeApplied);
  // Refused, or never sent: that post did not land.
  if (first && notSent) session.posting = false;
  // Nor did this reply: its retry need not look for it.
  if (REPLY_KINDS.has(step.kind) && notSent) {
    delete step.tried;
    await session.putAndReleaseQuietly(encode.thread(run.draft), 'that a reply was not sent');
  }
  // The destination may have posted the root although its answer was lost: look first next time.
  if (first && step.kind === 'root' && !notSent) {
    const { issue } = d;
    const since = run.attemptSince ?? Math.floor(d.startMs / 1000) - LOOKBACK_SECONDS;
    const at = d.now().getTime();
    const attempt = { v: 1 as const, by: issue.id, status: issue.status, firingSince: issue.startsAt };
    const mark = { ...attempt, enriched: issue.enrichments.length > 0, at, since, lookAt: at + SETTLE_MS };
    await session.putAndReleaseQuietly(encode.attempt({ ...mark, draft: run.draft }), 'the lost root post');
  }
  // Our bucket refused a call past the turn's paid ones: come back at the channel's next token.
  if (err instanceof ChannelBusyError)
    return later((err.retryAfter ?? 1) * 1000, `waiting for a turn in channel ${err.channel}`);
  return undefined;
}

/** Records a finished step, and the try of the next one when that is a reply; the last releases the lock. */
async function save(
  d: Delivery,
  session: ThreadSession,
  draft: ThreadDraft,
  step: Step,
  next: Step | undefined,
): Promise<void> {
  step.done = true;
  // A done step needs no try: the state stays as short as before.
  delete step.tried;
  if (next && REPLY_KINDS.has(next.kind) && next.tried === undefined) next.tried = d.now().getTime();
  const value = encode.thread(draft);
  if (next) await session.put(value);
  else await session.putAndRelease(value, 'the last step');
}

/** Before a queued root is posted, the key says a post may be under way (stored.ts: attempt). */
async function markAttempt(d: Delivery, session: ThreadSession): Promise<void> {
  const { issue } = d;
  const at = d.now().getTime();
  const by = issue.id;
  await session.put(
    encode.attempt({
      v: 1,
      by,
      status: issue.status,
      firingSince: issue.startsAt,
      enriched: issue.enrichments.length > 0,
      at,
    }),
  );
  session.attemptHeld = true;
}

function actionOf(ran: Step[]): DispatchAction {
  if (ran.some((s) => s.kind === 'root' || s.kind === 'link')) return 'posted';
  if (ran.some((s) => s.kind === 'update')) return 'updated';
  return ran.length > 0 ? 'replied' : 'unchanged';
}

/**
 * Channel calls `steps` make: one each; a files step one when the destination has something to
 * upload (further batches, and overflow only rendering finds, take their own tokens).
 */
export function callsOf(steps: readonly Step[], issue: Issue, destination: Destination): number {
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
  const paid = { step: step.id, ...opts };
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
