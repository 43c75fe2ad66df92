// What a dispatch comes to: done (with what it did to the thread), or "come back later" — a
// result, not an exception: the thread is busy, a turn in the channel or an edit interval is
// ahead, an earlier post may still be landing. The function answers the latter with 429 and
// Retry-After, and logs the reason; exceptions are left for failures.
import type { MessageRef } from '../../domain/destination.ts';

export type DispatchAction = 'posted' | 'updated' | 'replied' | 'unchanged';

export interface DispatchResult {
  action: DispatchAction;
  /** The thread's root, when one exists. */
  ref?: MessageRef;
  status: 'firing' | 'resolved';
  /** Why nothing happened, for the log line. */
  reason?: string;
}

export interface RetryLater {
  retryLater: { afterMs: number; reason: string };
}

export type DispatchOutcome = DispatchResult | RetryLater;

export const later = (afterMs: number, reason: string): RetryLater => ({
  retryLater: { afterMs: Math.max(0, Math.ceil(afterMs)), reason },
});

export const isLater = (x: unknown): x is RetryLater =>
  typeof x === 'object' && x !== null && 'retryLater' in x;
