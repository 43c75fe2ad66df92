// Cross-source threading: an alert and a Kubernetes Event about the same workload (a crash-
// looping pod seen by Prometheus and by the kubelet) share one Slack thread. The first thread of
// a workload is recorded per destination; an issue from the OTHER source that starts while that
// thread is firing posts its own message as a reply there. Issues of the same source keep their
// own threads (two different alerts stay two messages).

import { threadKeys } from '../../adapters/store/keys.ts';
import type { MessageRef } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import type { StateStore } from '../../domain/state-store.ts';
import { groupKey, workloadOfObject } from '../ingest/workload.ts';
import { later, type RetryLater } from './outcome.ts';

/** Kinds whose issues can be about the same running workload. */
const KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
/** How long a thread that is being opened holds the workload for its own source. */
const CLAIM_MS = 30_000;

export interface CorrelationRecord {
  source: Issue['source'];
  /** The thread that opened first for the workload; its own state says where it is. */
  fingerprint: string;
  /** Until then a thread still without its root is being opened, not abandoned. */
  claimUntil: number;
}

/** `cluster|namespace/workload`, or undefined for issues that are not about a workload. */
export function correlationKey(
  issue: Pick<Issue, 'subject' | 'cluster'> & { type?: Issue['type'] },
): string | undefined {
  const s = issue.subject;
  // A change message is not an incident: later incidents link to it by a line, not a thread.
  if (issue.type === 'change') return undefined;
  if (!KINDS.has(s.kind) || !s.name || !s.namespace) return undefined;
  return `${issue.cluster ?? ''}|${groupKey(workloadOfObject(s.kind, s.name, s.namespace))}`;
}

const recordKey = (destinationId: string, key: string) => `ki:{${destinationId}|corr:${key}}:thread`;

function parse(raw: string | null): CorrelationRecord | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as CorrelationRecord;
  } catch {
    return undefined;
  }
}

export interface LinkTarget {
  thread: MessageRef;
  fingerprint: string;
}

/**
 * The claim a brand-new firing thread makes on its workload (undefined when it is not about
 * one): the first thread of a workload records its fingerprint; the claim goes to the store in
 * the same round trip as the thread's lock (StateStore.openThread).
 */
export function linkClaim(
  destinationId: string,
  issue: Issue,
  ttlSeconds: number,
  now: number,
): { key: string; value: string; ttlSeconds: number } | undefined {
  const key = correlationKey(issue);
  if (!key) return undefined;
  const mine: CorrelationRecord = {
    source: issue.source,
    fingerprint: issue.fingerprint,
    claimUntil: now + CLAIM_MS,
  };
  return { key: recordKey(destinationId, key), value: JSON.stringify(mine), ttlSeconds };
}

/**
 * The claim re-written to hold the workload until `untilMs` + the usual margin: a thread that
 * waits for its turn in the channel keeps the workload while it waits.
 */
export function extendClaim(value: string, untilMs: number): string {
  const rec = parse(value);
  return rec ? JSON.stringify({ ...rec, claimUntil: untilMs + CLAIM_MS }) : value;
}

/** Gives up a claim this thread made (it will not open): a related issue need not wait for it. */
export async function releaseClaim(
  store: StateStore,
  claim: { key: string; value: string; ttlSeconds: number },
): Promise<void> {
  const rec = parse(claim.value);
  if (rec) await store.put(claim.key, JSON.stringify({ ...rec, claimUntil: 0 }), claim.ttlSeconds);
}

/**
 * What the claim found: null (this thread claimed the workload) or the holder's record. The
 * thread to join when the holder is the other source's thread and still fires; undefined to
 * open its own. While another source's first thread is still being opened, coming back later
 * keeps the two from both posting a root.
 */
export async function resolveLink(
  store: StateStore,
  destinationId: string,
  claim: { key: string; value: string; ttlSeconds: number },
  holder: string | null,
  issue: Issue,
  now: number,
): Promise<LinkTarget | undefined | RetryLater> {
  if (holder === null) return undefined;
  const rec = parse(holder);
  if (!rec || rec.source === issue.source || rec.fingerprint === issue.fingerprint) return undefined;
  const raw = await store.get(threadKeys(destinationId, rec.fingerprint).data);
  const primary = raw
    ? (JSON.parse(raw) as { status?: string; channel?: string; ts?: string; threadTs?: string })
    : undefined;
  if (primary?.status === 'firing' && primary.channel && primary.ts && !primary.threadTs) {
    return { thread: { channel: primary.channel, ts: primary.ts }, fingerprint: rec.fingerprint };
  }
  if (!primary?.ts && rec.claimUntil > now) {
    return later(2000, 'a related thread for this workload is being opened');
  }
  // The related thread resolved (or was never opened): this one becomes the workload's thread.
  await store.put(claim.key, claim.value, claim.ttlSeconds);
  return undefined;
}
