// Storm folding: every signal of one (workload, reason) in one period becomes the SAME issue
// (fingerprint and startsAt stable) with a growing occurrence count and the distinct objects
// affected, so dispatch edits one root message instead of posting one per event. Composed from
// the StateStore's primitives only; a redelivery recomputes the same issue instead of dropping it.

import { occurrenceId } from '../../domain/events.ts';
import type { Issue, Occurrences, Subject } from '../../domain/issue.ts';
import { planFor } from '../../domain/routing.ts';
import type { StateStore } from '../../domain/state-store.ts';
import { sha256Hex } from '../../platform/digest.ts';
import { UnavailableError } from '../../platform/errors.ts';
import type { Signal } from './signals.ts';
import { groupKey } from './workload.ts';

export const SAMPLE_SIZE = 5;
/** A claim older than this was left by a delivery that died: the next one takes it over. */
export const CLAIM_STALE_MS = 30_000;
// The resolution generation outlives every period it numbers, so a period is never reused.
const GENERATION_TTL_SECONDS = 30 * 24 * 3600;

export interface FoldDeps {
  store: StateStore;
  now: () => Date;
  /** How long a period may last and how long its counters and dedup marks are kept. */
  windowSeconds: number;
  cluster?: string | undefined;
}

/** The period an occurrence was counted in, recorded so its redelivery rebuilds the same issue. */
export interface Counted {
  n: number;
  gen: number;
  start: string;
  /** resourceVersion of the object whose delivery counted it. */
  by: string;
}

export const fingerprintOf = (s: Pick<Signal, 'workload' | 'reason'>, cluster: string | undefined): string =>
  sha256Hex([cluster ?? '', groupKey(s.workload), s.reason].join('\u0000')).slice(0, 16);

// All keys of one fingerprint share a hash tag: one Redis Cluster slot per storm.
export const tagOf = (fp: string): string => `ki:{ev|${fp}}`;
export const periodPrefix = (fp: string, c: Pick<Counted, 'gen' | 'start'>): string =>
  `${tagOf(fp)}:p${c.gen}.${Date.parse(c.start)}`;

/**
 * Runs `work` once per guard key and returns what it recorded; a later call returns the record
 * without running it. The guard holds a timestamped claim while `work` runs: a concurrent
 * duplicate is told to retry (503) rather than skip (or, with `busy: 'skip'`, goes on without
 * it), a failed `work` frees its claim for the redelivery, and a claim whose holder died is taken
 * over after CLAIM_STALE_MS (its counter may then count twice: the only inexactness, after a crash).
 */
export async function once(
  store: StateStore,
  guard: string,
  ttlSeconds: number,
  nowMs: number,
  work: () => Promise<string>,
  busy: 'retry' | 'skip' = 'retry',
): Promise<{ value: string; fresh: boolean }> {
  const claim = `claim:${nowMs}`;
  if (!(await store.setIfAbsent(guard, claim, ttlSeconds))) {
    const seen = await store.get(guard);
    if (seen !== null && !seen.startsWith('claim:')) return { value: seen, fresh: false };
    if (seen !== null && nowMs - Number(seen.slice(6)) < CLAIM_STALE_MS) {
      if (busy === 'skip') return { value: '', fresh: false };
      throw new UnavailableError('the same occurrence is being processed by another delivery', {
        retryAfter: 1,
      });
    }
    await store.put(guard, claim, ttlSeconds);
  }
  let value: string;
  try {
    value = await work();
  } catch (err) {
    await store.put(guard, 'claim:0', ttlSeconds).catch(() => undefined);
    throw err;
  }
  await store.put(guard, value, ttlSeconds);
  return { value, fresh: true };
}

async function currentPeriod(
  store: StateStore,
  fp: string,
  candidate: string,
  ttl: number,
): Promise<Pick<Counted, 'gen' | 'start'>> {
  const gen = Number((await store.get(`${tagOf(fp)}:gen`)) ?? 0);
  const key = `${tagOf(fp)}:start:${gen}`;
  // The first signal of a period fixes its start; every later one reads it (startsAt stays stable).
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await store.setIfAbsent(key, candidate, ttl)) return { gen, start: candidate };
    const start = await store.get(key);
    if (start !== null) return { gen, start };
  }
  throw new UnavailableError('could not settle the period start');
}

/** The resolution generation: resolving a period moves every later signal into a new one. */
export async function nextGeneration(store: StateStore, fp: string): Promise<number> {
  return store.increment(`${tagOf(fp)}:gen`, GENERATION_TTL_SECONDS);
}

export async function readObjects(
  store: StateStore,
  prefix: string,
): Promise<{ objects: number; sample: string[]; count: number }> {
  const [objects, count, ...sample] = await Promise.all([
    store.get(`${prefix}:objects`),
    store.get(`${prefix}:count`),
    ...Array.from({ length: SAMPLE_SIZE }, (_, i) => store.get(`${prefix}:sample:${i + 1}`)),
  ]);
  return {
    objects: Number(objects ?? 0),
    count: Number(count ?? 0),
    sample: sample.filter((s): s is string => s !== null),
  };
}

export interface Folded {
  issue: Issue;
  counted: Counted;
  fingerprint: string;
  /** False when this occurrence was counted before (a redelivery or replay). */
  fresh: boolean;
  /**
   * Counted before, by a delivery of this same object version: a redelivery, whose issue must go
   * out again (the first reply may have been lost). A later version saying the same is not news.
   */
  redelivery: boolean;
}

/** Counts one signal into its (workload, reason) period and returns the period's issue. */
export async function foldSignal(signal: Signal, deps: FoldDeps): Promise<Folded> {
  const { store, windowSeconds: ttl } = deps;
  const fp = fingerprintOf(signal, deps.cluster);
  const nowMs = deps.now().getTime();
  const guard = `${tagOf(fp)}:occ:${signal.occurrenceKey}`;
  const { value, fresh } = await once(store, guard, ttl, nowMs, async () => {
    const period = await currentPeriod(store, fp, signal.at, ttl);
    const prefix = periodPrefix(fp, period);
    // An object another delivery is counting right now is counted by that one.
    const obj = await once(
      store,
      `${prefix}:obj:${signal.object.name}`,
      ttl,
      nowMs,
      async () => String(await store.increment(`${prefix}:objects`, ttl)),
      'skip',
    );
    const k = Number(obj.value);
    if (obj.fresh && k <= SAMPLE_SIZE) await store.put(`${prefix}:sample:${k}`, signal.object.name, ttl);
    // Objects are counted before the occurrence: the issue holding the highest count then reads
    // an object total that includes every occurrence counted before it (exact final figures).
    const n = await store.increment(`${prefix}:count`, ttl);
    return JSON.stringify({ n, ...period, by: signal.objectVersion } satisfies Counted);
  });
  const counted = parseCounted(value);
  const { objects, sample } = await readObjects(store, periodPrefix(fp, counted));
  return {
    issue: buildIssue(signal, fp, counted, { objects, sample, cluster: deps.cluster }),
    counted,
    fingerprint: fp,
    fresh,
    redelivery: !fresh && counted.by === signal.objectVersion,
  };
}

function parseCounted(raw: string): Counted {
  const v = JSON.parse(raw) as Partial<Counted>;
  if (typeof v.n !== 'number' || typeof v.gen !== 'number' || typeof v.start !== 'string')
    throw new UnavailableError('unreadable occurrence record');
  return { n: v.n, gen: v.gen, start: v.start, by: typeof v.by === 'string' ? v.by : '' };
}

const WORKLOAD_LABELS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet']);

export function titleOf(s: Pick<Signal, 'reason' | 'workload'>): string {
  const w = s.workload;
  return `${s.reason}: ${w.kind} ${[w.namespace, w.name].filter(Boolean).join('/')}`.slice(0, 1000);
}

export interface BuildOptions {
  objects: number;
  sample: string[];
  cluster?: string | undefined;
  resolvedAt?: string;
  description?: string;
}

/**
 * The issue for occurrence `c.n` of a period. Only the period's first occurrence is enriched
 * (its thread gets the details once); repeats go straight to dispatch, which edits the count.
 */
export function buildIssue(signal: Signal, fp: string, c: Counted, o: BuildOptions): Issue {
  const obj = signal.object;
  const subject: Subject = { kind: obj.kind, name: obj.name.slice(0, 253) };
  if (obj.namespace) subject.namespace = obj.namespace.slice(0, 63);
  if (signal.node) subject.node = signal.node.slice(0, 253);
  if (signal.container) subject.container = signal.container.slice(0, 253);
  const w = signal.workload;
  const labels: Record<string, string> = {
    reason: signal.reason,
    kind: obj.kind,
    workload: `${w.kind}/${w.name}`,
  };
  if (signal.rawReason !== signal.reason) labels.k8sreason = signal.rawReason;
  if (obj.namespace) labels.namespace = obj.namespace;
  labels[obj.kind.toLowerCase()] = obj.name;
  if (WORKLOAD_LABELS.has(w.kind)) labels[w.kind.toLowerCase()] = w.name;
  if (signal.container) labels.container = signal.container;
  const resolved = o.resolvedAt !== undefined;
  const occurrences: Occurrences = { count: c.n, lastSeen: signal.at };
  if (o.objects > 1) {
    occurrences.objects = o.objects;
    occurrences.sample = o.sample.map((s) => s.slice(0, 253));
  }
  const issue: Issue = {
    id: occurrenceId('kube', fp, String(c.gen), c.start, resolved ? 'resolved' : String(c.n)),
    fingerprint: fp,
    type: 'event',
    source: 'kubernetes',
    title: titleOf(signal),
    severity: signal.severity,
    status: resolved ? 'resolved' : 'firing',
    subject,
    labels,
    annotations: { ...signal.annotations, lastSeen: signal.at },
    links: [],
    startsAt: c.start,
    enrichments: [],
    plan: c.n === 1 ? planFor(subject, { status: resolved ? 'resolved' : 'firing' }) : ['dispatch'],
  };
  if (!resolved) issue.occurrences = occurrences;
  if (o.resolvedAt !== undefined) issue.endsAt = o.resolvedAt;
  const description = o.description ?? signal.message;
  if (description) issue.description = description.slice(0, 20000);
  if (o.cluster) issue.cluster = o.cluster;
  return issue;
}
