// Turns in a channel's queue. A delivery that meets its channel at Slack's rate reserves the
// calls it needs at the first moment they fit (StateStore.takeToken with a wait allowed),
// records that turn with its thread (or summary) and comes back then through the broker's
// retry, instead of racing every other deferred delivery for the next free token.
import * as z from 'zod';
import type { Destination } from '../../domain/destination.ts';
import { granted, MAX_TOKEN_HORIZON_MS, type StateStore } from '../../domain/state-store.ts';

/** A reserved turn: `tokens` calls paid for, to be made from `at` (epoch ms). */
export const Slot = z.object({ at: z.number().int(), tokens: z.number().int().positive() });
export type Slot = z.infer<typeof Slot>;

/**
 * How late a turn may still be used. The broker brings a deferred delivery back after the
 * larger of its Retry-After (whole seconds, so up to a second late) and its own backoff; a turn
 * used late adds its calls to whatever the bucket has granted since, so lateness is bounded.
 * Past this the turn is forgotten and a new one reserved.
 */
export const SLOT_GRACE_MS = 10_000;

export type Turn =
  /** Go now, with this many of the calls already paid for (0: take each as it goes). */
  | { kind: 'go'; tokens: number }
  /** Come back in waitMs; `slot` is a turn reserved just now, which the caller must record. */
  | { kind: 'wait'; waitMs: number; slot?: Slot }
  /** The queue is longer than the caller may wait: nothing was reserved. */
  | { kind: 'over'; waitMs: number };

/** What the store answered for `count` tokens with `maxWaitMs` allowed, as a turn. */
export function turnOf(waitMs: number, count: number, maxWaitMs: number, nowMs: number): Turn {
  if (!granted({ maxWaitMs }, waitMs)) return { kind: 'over', waitMs };
  if (waitMs === 0) return { kind: 'go', tokens: count };
  return { kind: 'wait', waitMs, slot: { at: nowMs + waitMs, tokens: count } };
}

/** A recorded turn: go when it has come, wait while it has not, undefined once too late. */
export function heldTurn(slot: Slot | undefined, nowMs: number): Turn | undefined {
  if (!slot) return undefined;
  if (nowMs < slot.at) return { kind: 'wait', waitMs: slot.at - nowMs };
  if (nowMs - slot.at > SLOT_GRACE_MS) return undefined;
  return { kind: 'go', tokens: slot.tokens };
}

export interface TurnRequest {
  /** Calls the work needs: each one shows something in the channel. */
  calls: number;
  /** The longest wait to reserve for (default: the store's horizon). */
  maxWaitMs?: number;
  /** A turn recorded earlier, used when it has come. */
  held?: Slot | undefined;
  nowMs: number;
}

/**
 * The turn for work of `calls` channel calls: a held turn when it is usable, else a new
 * reservation (at most the bucket's burst of calls; the rest take their tokens as they go).
 * Destinations without a pace always go.
 */
export async function takeTurn(
  store: StateStore,
  destination: Pick<Destination, 'pace'>,
  req: TurnRequest,
): Promise<Turn> {
  const pace = destination.pace;
  if (!pace || req.calls === 0) return { kind: 'go', tokens: 0 };
  const held = heldTurn(req.held, req.nowMs);
  if (held) return held;
  const maxWaitMs = req.maxWaitMs ?? MAX_TOKEN_HORIZON_MS;
  const token = pace.bucket.request(pace.channel, { count: req.calls, maxWaitMs, nowMs: req.nowMs });
  const waitMs = await store.takeToken(token);
  return turnOf(waitMs, Math.min(req.calls, token.burst), maxWaitMs, req.nowMs);
}

/** Whole seconds for Retry-After, never before the turn. */
export const retryAfterSeconds = (waitMs: number): number => Math.max(1, Math.ceil(waitMs / 1000));
