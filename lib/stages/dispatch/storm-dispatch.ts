// Storm folding, the effects: records an alert in its group's summary under the group's lock
// and shows what changed (summary root posted or edited, new alerts into its thread) at a
// bounded rate. When the summary may not change yet, exactly one delivery is told to come back
// (retryLater: the broker brings it back to flush), the others are acknowledged: every alert is
// already recorded, so nothing is lost and nothing sleeps in-process.
import { randomUUID } from 'node:crypto';
import type { Destination, GroupKind, MessageRef, SummaryDestination } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import type { Lock, StateStore } from '../../domain/state-store.ts';
import { RateLimitedError, UnavailableError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import { later, type RetryLater } from './outcome.ts';
import { takeTurn } from './pace.ts';
import {
  countOwnThreads,
  type GroupState,
  groupKeys,
  isOver,
  lineOf,
  newGroup,
  parseGroupState,
  record,
  type StormOptions,
  summaryView,
} from './storm.ts';

/** How long a deferred flusher keeps the role past its Retry-After (the broker's retry horizon). */
const PENDING_LEASE_MS = 150_000;
const BUSY_RETRY_AFTER_SECONDS = 1;

export interface FoldDeps {
  store: StateStore;
  destination: Destination & SummaryDestination;
  storm: StormOptions;
  now: () => Date;
  stateTtlSeconds: number;
  lockTtlMs: number;
  log?: Logger | undefined;
}

/** What flushing a group needs: any destination able to show summaries. */
export type FlushDeps = Omit<FoldDeps, 'destination'> & {
  destination: SummaryDestination & Pick<Destination, 'id' | 'pace'>;
};

export interface FoldResult {
  /** The summary's root, once posted. */
  ref?: MessageRef;
  /** Set when this delivery must come back later to flush the summary (answer 429). */
  retryAfterMs?: number;
  /** Set whenever something is left to show, and how soon it may be shown (for a flusher). */
  pendingMs?: number;
  /** False for a duplicate the group already knew. */
  changed: boolean;
}

/** The counter of new alerts of a group in the current window, and past what it storms. */
export function stormCounter(
  destinationId: string,
  labels: Record<string, string>,
  storm: StormOptions,
  nowMs: number,
): { key: string; ttlSeconds: number; threshold: number } {
  const window = Math.floor(nowMs / (storm.windowSeconds * 1000));
  return {
    key: `${groupKeys(destinationId, labels).count}:${window}`,
    ttlSeconds: storm.windowSeconds * 2,
    threshold: storm.threshold,
  };
}

/** Writes a group's state under its lock (releasing it when `unlock`); throws when the lock was lost. */
function saver(
  deps: Pick<FoldDeps, 'store' | 'stateTtlSeconds'>,
  lock: Lock,
  key: string,
  state: () => GroupState,
): (unlock: boolean) => Promise<void> {
  return async (unlock) => {
    const json = JSON.stringify(state());
    const ok = unlock
      ? await deps.store.putAndUnlock(lock, key, json, deps.stateTtlSeconds)
      : await deps.store.putLocked(lock, key, json, deps.stateTtlSeconds);
    if (!ok) throw new UnavailableError('lost the storm summary lock');
  };
}

export async function foldIntoGroup(
  issue: Issue,
  labels: Record<string, string>,
  deps: FoldDeps,
  kind: GroupKind = 'storm',
): Promise<FoldResult | RetryLater> {
  const { store, destination, storm, log } = deps;
  const keys = groupKeys(destination.id, labels);
  const lock: Lock = { key: keys.lock, token: randomUUID(), ttlMs: deps.lockTtlMs };
  const { locked, value } = await store.lockAndGet(lock, keys.data);
  if (!locked) return later(BUSY_RETRY_AFTER_SECONDS * 1000, 'the summary is busy with another delivery');
  let released = false;
  try {
    const now = deps.now();
    const nowIso = now.toISOString();
    let g = parseGroupState(value);
    if (value !== null && !g) log?.warn({ key: keys.data }, 'unreadable storm summary state: new summary');
    if (!g || isOver(g, now.getTime(), storm.windowSeconds)) g = newGroup(labels, nowIso, kind);
    const isNew = !g.entries.some((e) => e.f === issue.fingerprint);
    const changed = record(g, issue, nowIso);
    if (changed && isNew && issue.status === 'firing')
      countOwnThreads(g, Math.floor(now.getTime() / (storm.windowSeconds * 1000)), storm.threshold);
    const group = g;
    const save = saver(deps, lock, keys.data, () => group);

    let waitMs: number | undefined;
    try {
      waitMs = await flush(g, deps, now, () => save(false));
    } catch (err) {
      // Whatever was shown before the failure is recorded; the redelivery continues from there.
      released = true;
      await save(true);
      throw err;
    }
    let retryAfterMs: number | undefined;
    if (waitMs === undefined) {
      if (g.pendingBy !== undefined && g.posted === g.entries.length && g.version === g.shownVersion) {
        delete g.pendingBy;
        delete g.pendingUntil;
      }
    } else {
      const leaseOver = g.pendingUntil === undefined || Date.parse(g.pendingUntil) < now.getTime();
      if (g.pendingBy === undefined || g.pendingBy === issue.id || leaseOver) {
        g.pendingBy = issue.id;
        g.pendingUntil = new Date(now.getTime() + waitMs + PENDING_LEASE_MS).toISOString();
        retryAfterMs = waitMs;
      }
    }
    if (!changed && retryAfterMs === undefined && value !== null && JSON.stringify(g) === value) {
      // A duplicate that changed nothing: release without rewriting the state.
      released = true;
      await store.unlock(lock);
    } else {
      released = true;
      await save(true);
    }
    const result: FoldResult = { changed };
    if (g.channel !== undefined && g.ts !== undefined) result.ref = { channel: g.channel, ts: g.ts };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    if (waitMs !== undefined) result.pendingMs = waitMs;
    return result;
  } finally {
    if (!released) await store.unlock(lock).catch(() => false);
  }
}

/**
 * Shows what a group's summary lacks without a new alert: the work a deferred delivery would
 * do when it comes back, done as soon as the summary may change. Returns how long to wait
 * before the next try, or undefined when the summary shows everything (or is gone).
 */
export async function flushGroup(
  labels: Record<string, string>,
  deps: FlushDeps,
): Promise<number | undefined> {
  const { store } = deps;
  const keys = groupKeys(deps.destination.id, labels);
  const lock: Lock = { key: keys.lock, token: randomUUID(), ttlMs: deps.lockTtlMs };
  const { locked, value } = await store.lockAndGet(lock, keys.data);
  if (!locked) return BUSY_RETRY_AFTER_SECONDS * 1000;
  let released = false;
  try {
    const g = parseGroupState(value);
    if (!g) return undefined;
    const before = JSON.stringify(g);
    const save = saver(deps, lock, keys.data, () => g);
    let waitMs: number | undefined;
    try {
      waitMs = await flush(g, deps, deps.now(), () => save(false));
    } finally {
      released = true;
      if (JSON.stringify(g) === before) await store.unlock(lock);
      else await save(true);
    }
    return waitMs;
  } finally {
    if (!released) await store.unlock(lock).catch(() => false);
  }
}

/**
 * Shows what the summary lacks: the root at once, then edits and batches of new alerts each at
 * most once per edit interval, in a channel turn reserved for those calls (pace.ts). Returns
 * how long to wait when something is left to show.
 */
async function flush(
  g: GroupState,
  deps: Pick<FlushDeps, 'destination' | 'storm' | 'store'>,
  now: Date,
  checkpoint: () => Promise<void>,
): Promise<number | undefined> {
  const { destination, storm } = deps;
  const t = now.getTime();
  const waitFor = (at: string | undefined) =>
    at === undefined ? 0 : Math.max(0, Date.parse(at) + storm.editIntervalMs - t);
  const editWanted = () => g.version !== g.shownVersion;
  const linesWanted = () => g.posted < g.entries.length;
  const rootWanted = g.channel === undefined || g.ts === undefined;
  const calls =
    (rootWanted ? 1 : 0) +
    (linesWanted() && waitFor(g.linesAt) === 0 ? 1 : 0) +
    (!rootWanted && editWanted() && waitFor(g.shownAt) === 0 ? 1 : 0);
  const turn = await takeTurn(deps.store, destination, { calls, held: g.slot, nowMs: t });
  if (turn.kind !== 'go') {
    if (turn.kind === 'wait' && turn.slot) {
      g.slot = turn.slot;
      await checkpoint();
    }
    return Math.max(1000, turn.waitMs);
  }
  let tokens = turn.tokens;
  if (g.slot) delete g.slot;
  const paid = () => {
    if (tokens === 0) return undefined;
    tokens -= 1;
    return { tokenTaken: true };
  };
  try {
    const view = summaryView(g);
    if (g.channel === undefined || g.ts === undefined) {
      const ref = await destination.postSummary(view, paid());
      g.channel = ref.channel;
      g.ts = ref.ts;
      g.shownVersion = g.version;
      g.shownAt = now.toISOString();
      await checkpoint();
    }
    // New alerts first: with the channel at its rate, a line makes an alert visible while an
    // edit only refreshes counts.
    if (linesWanted() && waitFor(g.linesAt) === 0) {
      const lines = g.entries.slice(g.posted).map(lineOf);
      await destination.postSummaryLines(
        { channel: g.channel, ts: g.ts },
        view,
        lines,
        lines.length > storm.replyLines,
        paid(),
      );
      g.posted = g.entries.length;
      g.linesAt = now.toISOString();
      await checkpoint();
    }
    if (editWanted() && waitFor(g.shownAt) === 0) {
      await destination.updateSummary({ channel: g.channel, ts: g.ts }, view, paid());
      g.shownVersion = g.version;
      g.shownAt = now.toISOString();
      await checkpoint();
    }
  } catch (err) {
    // The channel's bucket or Slack itself said wait: keep what is recorded, show it later.
    if (err instanceof RateLimitedError) return Math.max(1000, (err.retryAfter ?? 1) * 1000);
    throw err;
  }
  const waits = [
    ...(g.ts === undefined ? [0] : []),
    ...(editWanted() ? [waitFor(g.shownAt)] : []),
    ...(linesWanted() ? [waitFor(g.linesAt)] : []),
  ];
  return waits.length === 0 ? undefined : Math.max(1000, Math.min(...waits));
}
