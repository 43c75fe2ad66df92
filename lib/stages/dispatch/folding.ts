// A delivery whose alert goes into a summary rather than a thread of its own: a new alert of a
// storming group, or one the channel is too far behind to give its own thread (its digest). Its
// thread key remembers which summary it went into, so its later occurrences (repeats,
// resolution, re-fire) go to the same one.
import { canSummarize, type GroupKind, type SummaryDestination } from '../../domain/destination.ts';
import { UnavailableError } from '../../platform/errors.ts';
import type { Delivery } from './context.ts';
import { type DispatchResult, isLater, later, type RetryLater } from './outcome.ts';
import { retryAfterSeconds } from './pace.ts';
import type { ThreadSession } from './session.ts';
import { encode, type FoldedMarker } from './stored.ts';
import { DEFAULT_STORM } from './storm.ts';
import { type FoldDeps, type FoldResult, foldIntoGroup } from './storm-dispatch.ts';

/** A new alert becomes a line of its group's summary (or the channel's digest). */
export async function foldNew(
  d: Delivery,
  session: ThreadSession,
  labels: Record<string, string>,
  kind: GroupKind,
): Promise<DispatchResult | RetryLater> {
  const { issue } = d;
  const r = await foldIntoGroup(issue, labels, foldDeps(d, session), kind);
  if (isLater(r)) return r;
  const marker = { v: 1, folded: kind, labels, status: issue.status, firingSince: issue.startsAt } as const;
  await session.putAndRelease(encode.folded(marker), 'the fold');
  return shown(d, r, labels, kind);
}

/** A later occurrence of an alert that went into a summary: the summary shows it. */
export async function foldAgain(
  d: Delivery,
  session: ThreadSession,
  m: FoldedMarker,
): Promise<DispatchResult | RetryLater> {
  const { issue } = d;
  if (Date.parse(issue.startsAt) < Date.parse(m.firingSince))
    return { action: 'unchanged', status: m.status, reason: 'occurrence of an earlier firing period' };
  const kind: GroupKind = m.folded === 'digest' ? 'digest' : 'storm';
  const r = await foldIntoGroup(issue, m.labels, foldDeps(d, session), kind);
  if (isLater(r)) return r;
  if (m.status !== issue.status || m.firingSince !== issue.startsAt) {
    const { kind: _tag, ...rest } = m;
    await session.putAndRelease(
      encode.folded({ ...rest, status: issue.status, firingSince: issue.startsAt }),
      'the fold',
    );
  }
  return shown(d, r, m.labels, kind);
}

function foldDeps(d: Delivery, session: ThreadSession): FoldDeps {
  const { destination } = d;
  // Only a destination that can summarize ever folded; a marker found for another is corrupt.
  if (!canSummarize(destination))
    throw new UnavailableError('storm summary on a destination without summaries');
  return {
    store: d.store,
    destination: destination as typeof destination & SummaryDestination,
    // Folding turned off since: alerts already folded still finish in their summary.
    storm: d.deps.storm ?? DEFAULT_STORM,
    now: d.now,
    stateTtlSeconds: d.stateTtlSeconds,
    lockTtlMs: session.lock.ttlMs,
    log: d.log,
  };
}

/** What the fold did; the delivery comes back when it was picked to show the summary later. */
function shown(
  d: Delivery,
  r: FoldResult,
  labels: Record<string, string>,
  kind: GroupKind,
): DispatchResult | RetryLater {
  const what = kind === 'digest' ? 'the channel digest' : 'the storm summary';
  if (r.pendingMs !== undefined) d.deps.onStormPending?.(labels, r.pendingMs);
  if (r.retryAfterMs !== undefined)
    return later(
      retryAfterSeconds(r.retryAfterMs) * 1000,
      `${what} is shown at a bounded rate: come back to show it`,
    );
  const into = kind === 'digest' ? 'the channel digest' : 'a storm summary';
  const reason = r.changed ? `folded into ${into}` : `already in ${into}`;
  d.log?.debug({ fingerprint: d.issue.fingerprint, issueId: d.issue.id, reason }, 'folded');
  return r.ref
    ? { action: r.changed ? 'replied' : 'unchanged', ref: r.ref, status: d.issue.status, reason }
    : { action: 'unchanged', status: d.issue.status, reason };
}
