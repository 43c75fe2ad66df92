// Where a dispatched issue ends up: a Slack channel or the terminal. The dispatcher's thread
// and dedup logic talks only to this interface; each destination renders for itself.
import type { RateLimitedError } from '../platform/errors.ts';
import type { Issue, Occurrences, Severity } from './issue.ts';
import type { TokenRequest } from './state-store.ts';

/** A posted root message: Slack's channel ID and message `ts` (the thread key). */
export interface MessageRef {
  channel: string;
  ts: string;
  /**
   * The thread this message lives in, when it is itself a reply: an issue linked into another
   * issue's thread (an alert and an Event about the same workload) owns a reply, not a root.
   */
  threadTs?: string;
}

/** What the root message shows; re-rendered on every status change of the thread. */
export interface RootView {
  /** The newest occurrence of the issue (firing or resolved). */
  issue: Issue;
  status: 'firing' | 'resolved';
  /** When the thread's current firing period began (ISO time). */
  firingSince: string;
  /** When it resolved (ISO time), for "resolved after 14m". */
  resolvedAt?: string;
  /** How many times it fired (1 for the first firing; re-fires count up). */
  firingCount: number;
  /** One-line verdicts of the enrichers, kept from the firing so a resolved root still shows them. */
  verdicts: string[];
  /** Set when the thread's state was lost and this root continues an earlier one. */
  continuesEarlier?: boolean;
  /** Repeats folded into this thread (Event counts, grouped storms), as last shown. */
  occurrences?: Occurrences;
  /** Set when this issue joined the thread of a related issue from another source. */
  linked?: boolean;
}

export type StatusReplyKind = 'resolved' | 'refired';

export interface PostOptions {
  /**
   * The channel's token for this call was already taken (see Destination.pace): the
   * dispatcher reserved the turn. For a call that makes several (file batches), the first.
   */
  tokenTaken?: boolean;
  /**
   * The thread step this message is (`reply:resolved:<endsAt>`, `details:<issue id>`, ...),
   * carried invisibly with it so that findReply can tell it was posted.
   */
  step?: string;
}

export interface Destination {
  /** Stable identity used in state keys: `slack:<channel>` or `terminal`. */
  readonly id: string;
  /**
   * The channel pace this destination draws a token from before each call, so a new thread's
   * root token can be taken in the same store round trip as its lock. Unset: no pacing.
   */
  readonly pace?: { bucket: ChannelBucket; channel: string } | undefined;
  /** Posts the root message of a new thread. */
  postRoot(view: RootView, opts?: PostOptions): Promise<MessageRef>;
  /**
   * Posts the issue's own message as a reply in a related issue's thread (same workload, other
   * source); it is then edited in place like a root. Destinations without it never link.
   */
  postLinked?(thread: MessageRef, view: RootView, opts?: PostOptions): Promise<MessageRef>;
  /**
   * The root this destination posted for `fingerprint` since `since` (epoch seconds), found in
   * the channel's history: after a post whose answer was lost (timeout), the retry adopts it
   * instead of posting a second root. Undefined when not found; destinations without it repost.
   */
  findRoot?(fingerprint: string, since: number): Promise<MessageRef | undefined>;
  /**
   * Whether the reply of step `step` of the thread of `fingerprint` is in the thread `ref`
   * belongs to (posted since `since`, epoch seconds): after a reply Slack took whose record
   * failed (Redis full or gone, the process killed), the retry finds it instead of posting it
   * again. Destinations without it post again.
   */
  findReply?(ref: MessageRef, fingerprint: string, step: string, since: number): Promise<boolean>;
  /** Re-renders the root message in place (color, status line, "resolved after"). */
  updateRoot(ref: MessageRef, view: RootView, opts?: PostOptions): Promise<void>;
  /** Posts the enrichment details (tables, text) as a reply in the thread, never broadcast. */
  postDetails(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void>;
  /** Uploads the issue's file blocks (logs) and any overflow into the thread. */
  uploadFiles(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void>;
  /**
   * How many channel calls uploadFiles makes for `issue` (0 when it has nothing to upload), so
   * a turn reserves no call it will not make. Destinations without it count one.
   */
  uploadCalls?(issue: Issue): number;
  /** A short status reply in the thread: resolved after N minutes, or firing again. */
  postStatusReply(ref: MessageRef, view: RootView, kind: StatusReplyKind, opts?: PostOptions): Promise<void>;
}

// A channel's pace, as destinations and the dispatcher use it (lib/stages/dispatch/channel-bucket.ts).

export interface ChannelRate {
  /** Calls per second the channel sustains (Slack: about 1). */
  perSecond: number;
  /** Calls allowed back to back; the bucket refills over burst / perSecond seconds. */
  burst: number;
}

export interface BucketRequest extends TokenRequest {
  /** The error for a call refused after `waitMs` (Retry-After: that wait, in whole seconds). */
  refuse(waitMs: number): RateLimitedError;
}

export interface ChannelBucket {
  /** Takes one call's worth for `channel`, or throws RateLimitedError with the wait (Retry-After). */
  take(channel: string): Promise<void>;
  /**
   * The token request for `channel`, for a caller that sends it itself (StateStore.openThread,
   * a reserved turn): one token now unless `opts` asks for more, a wait allowed, or its own clock.
   */
  request(channel: string, opts?: { count?: number; maxWaitMs?: number; nowMs?: number }): BucketRequest;
}

// Summaries: storms and digests (lib/stages/dispatch/storm.ts keeps their state).

/**
 * What a summary gathers: a storm (more than the threshold of new alerts of one group within
 * the window) or a channel's digest (new alerts that would have waited longer than the backlog
 * bound for their turn).
 */
export type GroupKind = 'storm' | 'digest';

export interface SummaryView {
  kind: GroupKind;
  labels: Record<string, string>;
  status: 'firing' | 'resolved';
  severity: Severity;
  /** Every alert of the storm or digest: the folded ones and those with threads of their own. */
  total: number;
  /** A storm's alerts posted in threads of their own before it stormed (not in `byObject`). */
  own: number;
  /** Of the folded alerts: */
  firing: number;
  resolved: number;
  firstSeen: string;
  lastSeen: string;
  /** [object, firing, resolved], most firing first. */
  byObject: Array<[string, number, number]>;
  bySeverity: Array<[Severity, number]>;
  /** A title the alerts share (the first one's). */
  title: string;
  /** The only folded alert, when there is just one: a digest of one shows it as itself. */
  single?: SummaryLine;
  /** The first few folded alerts, firing first: a digest lists them with their verdicts. */
  sample: SummaryLine[];
}

/** One alert as a thread line (or a file line). */
export interface SummaryLine {
  object: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  since: string;
  title: string;
  fingerprint: string;
  /** The alert's verdict (digests). */
  verdict?: string;
}

/** A destination that can show storms; destinations without it never fold. */
export interface SummaryDestination {
  postSummary(view: SummaryView, opts?: PostOptions): Promise<MessageRef>;
  updateSummary(ref: MessageRef, view: SummaryView, opts?: PostOptions): Promise<void>;
  /** New alerts into the summary's thread: a message, or a file when `asFile`. */
  postSummaryLines(
    ref: MessageRef,
    view: SummaryView,
    lines: SummaryLine[],
    asFile: boolean,
    opts?: PostOptions,
  ): Promise<void>;
}

export function canSummarize(d: object): d is SummaryDestination {
  const s = d as Partial<SummaryDestination>;
  return (
    typeof s.postSummary === 'function' &&
    typeof s.updateSummary === 'function' &&
    typeof s.postSummaryLines === 'function'
  );
}
