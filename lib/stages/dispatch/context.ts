// What every part of one delivery reads: the issue, its destination, the stores, the clock and
// the thread's keys, built once per dispatchIssue() call.

import { type ThreadKeys, threadKeys, threadRepository } from '../../adapters/store/index.ts';
import type { Destination, MessageRef } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import type { StateStore } from '../../domain/state-store.ts';
import type { ThreadRepository } from '../../domain/threads.ts';
import type { Logger } from '../../platform/logger.ts';
import type { DispatchAction, DispatchResult } from './outcome.ts';
import type { StormOptions } from './storm.ts';
import type { DecideContext, ThreadDraft } from './thread-state.ts';

export const DEFAULT_LOCK_TTL_MS = 30_000;
export const DEFAULT_STATE_TTL_SECONDS = 14 * 24 * 3600;
/** Default of DispatchDeps.backlogMaxWaitMs: the longest a new alert waits for its turn. */
export const DEFAULT_BACKLOG_MAX_WAIT_MS = 60_000;

export interface DispatchDeps {
  store: StateStore;
  /** Threads over `store` (default: the repository that fits it, adapters/store/threads.ts). */
  threads?: ThreadRepository | undefined;
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
   * Told when a summary has something left to show and how soon it may: a flusher in the
   * process shows it then, ahead of the one delivery deferred for it (the durable fallback).
   */
  onStormPending?: ((labels: Record<string, string>, inMs: number) => void) | undefined;
  log?: Logger | undefined;
}

export interface Delivery {
  issue: Issue;
  deps: DispatchDeps;
  store: StateStore;
  threads: ThreadRepository;
  destination: Destination;
  log: Logger | undefined;
  now: () => Date;
  stateTtlSeconds: number;
  /** When this delivery began, epoch ms. */
  startMs: number;
  keys: ThreadKeys;
}

export function deliveryOf(issue: Issue, deps: DispatchDeps): Delivery {
  const now = deps.now ?? (() => new Date());
  return {
    issue,
    deps,
    store: deps.store,
    threads: deps.threads ?? threadRepository(deps.store),
    destination: deps.destination,
    log: deps.log,
    now,
    stateTtlSeconds: deps.stateTtlSeconds ?? DEFAULT_STATE_TTL_SECONDS,
    startMs: now().getTime(),
    keys: threadKeys(deps.destination.id, issue.fingerprint),
  };
}

export function decideContext(d: Delivery): DecideContext {
  const ctx: DecideContext = { now: d.now(), stateTtlSeconds: d.stateTtlSeconds };
  if (d.deps.minUpdateIntervalMs !== undefined) ctx.minUpdateIntervalMs = d.deps.minUpdateIntervalMs;
  return ctx;
}

export const refOf = (s: {
  channel?: string | undefined;
  ts?: string | undefined;
  threadTs?: string | undefined;
}): MessageRef | undefined => {
  if (s.channel === undefined || s.ts === undefined) return undefined;
  return s.threadTs === undefined
    ? { channel: s.channel, ts: s.ts }
    : { channel: s.channel, ts: s.ts, threadTs: s.threadTs };
};

/** A result that changed nothing, with the thread's root when it has one. */
export function unchanged(d: Delivery, s: ThreadDraft, reason: string): DispatchResult {
  d.log?.debug({ fingerprint: d.issue.fingerprint, issueId: d.issue.id, reason }, 'unchanged');
  const ref = refOf(s);
  const action: DispatchAction = 'unchanged';
  return ref ? { action, ref, status: s.status, reason } : { action, status: s.status, reason };
}
