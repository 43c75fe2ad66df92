// What one thread key holds, read once into a tagged union. Each value is written with its
// `kind`; values written before the tag existed are recognised by their fields.
//   thread:   the thread's state (thread-state.ts), with the `settled` flag the store peeks at;
//   folded:   the alert went into a storm summary or a channel digest, not a thread of its own;
//   attempt:  a new thread's root is (or was) being posted: its redelivery looks for that root
//             before posting one (recovery.ts);
//   queued:   a new thread waits for its turn in the channel (pace.ts): nothing is posted yet.
import * as z from 'zod';
import { Slot } from './pace.ts';
import { isSettled, type ThreadDraft, ThreadState } from './thread-state.ts';

/** How far before a lost post its lookup starts (clock skew between us and Slack). */
export const LOOKBACK_SECONDS = 60;
/** A slow post can still land after the client gave up: look only once this has passed. */
export const SETTLE_MS = 10_000;

/** A ThreadDraft (thread-state.ts): the thread as planned before its root's channel and ts exist. */
const Draft = ThreadState.partial({ channel: true, ts: true });

export const FoldedMarker = z.object({
  v: z.literal(1),
  kind: z.literal('folded').optional(),
  /** The summary's kind (GroupKind); older markers say 'storm'. */
  folded: z.string(),
  /** The group's labels as folded, so a resolution finds the same summary after a config change. */
  labels: z.record(z.string(), z.string()),
  status: z.enum(['firing', 'resolved']),
  firingSince: z.string(),
});
export type FoldedMarker = z.infer<typeof FoldedMarker>;

export const Attempt = z.object({
  v: z.literal(1),
  kind: z.literal('attempt').optional(),
  /** The occurrence whose delivery took the lock to post the root. */
  by: z.string(),
  status: z.enum(['firing', 'resolved']),
  firingSince: z.string(),
  /** That occurrence carried enrichments: its details follow the root. */
  enriched: z.boolean(),
  /** When the lock was taken, epoch ms. */
  at: z.number(),
  /** Epoch seconds from which the destination's history may hold the root (default: at - 60 s). */
  since: z.number().optional(),
  /** Epoch ms before which a retry is told to come back: the post may still be landing (default: at + 10 s). */
  lookAt: z.number().optional(),
  /** The thread as planned when the root was posted and its answer lost: adopted with the root. */
  draft: Draft.optional(),
});
export type Attempt = z.infer<typeof Attempt>;

export const Queued = z.object({
  v: z.literal(1),
  kind: z.literal('queued').optional(),
  queued: Slot,
  /** What the workload claim found when the thread was opened (null: this thread holds it). */
  claimHolder: z.string().nullable().optional(),
  /** The key held a state no one could read: the root says it continues an earlier thread. */
  lost: z.literal(true).optional(),
});
export type Queued = z.infer<typeof Queued>;

export type Stored =
  | { kind: 'empty' }
  | { kind: 'unreadable' }
  | { kind: 'thread'; state: ThreadState }
  | { kind: 'folded'; marker: FoldedMarker }
  | { kind: 'attempt'; attempt: Attempt & { since: number; lookAt: number } }
  | { kind: 'queued'; queued: Queued };

/** The value of a thread key (null: absent). Anything unreadable is reported, never thrown. */
export function parseStored(raw: string | null): Stored {
  if (raw === null) return { kind: 'empty' };
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    return { kind: 'unreadable' };
  }
  if (typeof o !== 'object' || o === null) return { kind: 'unreadable' };
  switch (kindOf(o as Record<string, unknown>)) {
    case 'folded': {
      const p = FoldedMarker.safeParse(o);
      return p.success ? { kind: 'folded', marker: p.data } : { kind: 'unreadable' };
    }
    case 'attempt': {
      const p = Attempt.safeParse(legacyAttempt(o as Record<string, unknown>));
      if (!p.success) return { kind: 'unreadable' };
      const { since, lookAt, at } = p.data;
      return {
        kind: 'attempt',
        attempt: {
          ...p.data,
          since: since ?? Math.floor(at / 1000) - LOOKBACK_SECONDS,
          lookAt: lookAt ?? at + SETTLE_MS,
        },
      };
    }
    case 'queued': {
      const p = Queued.safeParse(o);
      return p.success ? { kind: 'queued', queued: p.data } : { kind: 'unreadable' };
    }
    default: {
      const p = ThreadState.safeParse(o);
      return p.success ? { kind: 'thread', state: p.data } : { kind: 'unreadable' };
    }
  }
}

/** The tag, or for a value written before tags the field that told it apart. */
function kindOf(o: Record<string, unknown>): string {
  if (typeof o.kind === 'string') return o.kind;
  if ('folded' in o) return 'folded';
  if ('rootAttempt' in o) return 'attempt';
  if ('queued' in o) return 'queued';
  return 'thread';
}

/** `{v, rootAttempt: {...}, draft?}` as written before tags: the same fields, nested. */
function legacyAttempt(o: Record<string, unknown>): unknown {
  const nested = o.rootAttempt;
  if (typeof nested !== 'object' || nested === null) return o;
  const a = { v: 1, ...(nested as object), ...(o.draft === undefined ? {} : { draft: o.draft }) };
  // A lost answer's marker had no attempt fields of its own, only the plan.
  const draft = o.draft as Partial<ThreadDraft> | undefined;
  return draft && !('by' in (nested as object))
    ? { by: '', status: draft.status, firingSince: draft.firingSince, enriched: false, at: 0, ...a }
    : a;
}

/** Writers: each value with its tag. A thread also carries `settled`, the one rule the store peeks at. */
export const encode = {
  thread: (s: ThreadDraft): string => JSON.stringify({ kind: 'thread', settled: isSettled(s), ...s }),
  folded: (m: Omit<FoldedMarker, 'kind'>): string => JSON.stringify({ ...m, kind: 'folded' }),
  attempt: (a: Omit<Attempt, 'kind'>): string => JSON.stringify({ ...a, kind: 'attempt' }),
  queued: (q: Omit<Queued, 'kind'>): string => JSON.stringify({ ...q, kind: 'queued' }),
};
