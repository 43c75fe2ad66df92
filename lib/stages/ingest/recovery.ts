// Recovery: a pod that failed (crash loop, OOM kill, image pull) and is Ready again, or gone, is
// counted as recovered in its period; when every affected pod has, the period's issue resolves
// (dispatch edits the root to resolved and replies in the thread). Stability is awaited with the
// broker as the timer: the Ready update is answered 429 + Retry-After until it has held.

import type { Issue } from '../../domain/issue.ts';
import { severityForReason } from '../../domain/kube-events.ts';
import type { StateStore } from '../../domain/state-store.ts';
import {
  buildIssue,
  type Counted,
  type FoldDeps,
  nextGeneration,
  once,
  periodPrefix,
  readObjects,
} from './fold.ts';
import { type Pod, podReady, podWorkload, runningSince, type Signal } from './signals.ts';

/** Per pod: the periods it is open in, and when it last failed. */
interface OpenRecord {
  periods: Record<string, { gen: number; start: string; reason: string }>;
  lastAt: string;
}

export const openKey = (namespace: string | undefined, name: string): string =>
  `ki:{pod|${namespace ?? ''}/${name}}:open`;

function parseOpen(raw: string | null): OpenRecord | undefined {
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as OpenRecord;
    return v && typeof v.lastAt === 'string' && typeof v.periods === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remembers that the pod is failing in this period. Read-modify-write: a pod's failures are
 * seconds apart (kubelet back-off), so two writers of one pod's record are not expected.
 */
export async function markOpen(
  store: StateStore,
  signal: Signal,
  fp: string,
  c: Counted,
  ttlSeconds: number,
): Promise<void> {
  const key = openKey(signal.object.namespace, signal.object.name);
  const rec = parseOpen(await store.get(key)) ?? { periods: {}, lastAt: signal.at };
  const known = rec.periods[fp];
  const changed = !known || known.gen !== c.gen || known.start !== c.start || signal.at > rec.lastAt;
  if (!changed) return;
  rec.periods[fp] = { gen: c.gen, start: c.start, reason: signal.reason };
  if (signal.at > rec.lastAt) rec.lastAt = signal.at;
  await store.put(key, JSON.stringify(rec), ttlSeconds);
}

/** Too early to call the pod recovered: the delivery comes back when it has stayed Ready long enough. */
export interface WaitForRecovery {
  retryLater: { afterMs: number; reason: string };
}

export interface RecoveryDeps extends FoldDeps {
  /** How long a pod must stay Ready after its last (re)start before it counts as recovered. */
  stableSeconds: number;
}

/**
 * The resolved issue when this Pod update (or deletion) completes the recovery of a period,
 * else undefined. Idempotent: a redelivery returns the same resolved issue.
 */
export async function podRecovery(
  pod: Pod,
  deleted: boolean,
  deps: RecoveryDeps,
): Promise<Issue | undefined | WaitForRecovery> {
  const { store } = deps;
  const name = pod.metadata.name;
  const rec = parseOpen(await store.get(openKey(pod.metadata.namespace, name)));
  if (!rec) return undefined;
  const now = deps.now();
  let endsAt: string;
  if (deleted) {
    endsAt = new Date(Date.parse(pod.metadata.deletionTimestamp ?? now.toISOString())).toISOString();
  } else {
    const since = runningSince(pod);
    if (!podReady(pod) || since === undefined) return undefined;
    // It failed again after this start: still failing.
    if (Date.parse(rec.lastAt) > Date.parse(since)) return undefined;
    const waitMs = Date.parse(since) + deps.stableSeconds * 1000 - now.getTime();
    if (waitMs > 0)
      return { retryLater: { afterMs: waitMs, reason: 'pod Ready again: waiting to see it stay Ready' } };
    endsAt = since;
  }
  const workload = podWorkload(pod);
  let resolved: Issue | undefined;
  for (const [fp, p] of Object.entries(rec.periods).sort()) {
    const prefix = periodPrefix(fp, p);
    const ttl = deps.windowSeconds;
    await once(store, `${prefix}:rec:${name}`, ttl, now.getTime(), async () =>
      String(await store.increment(`${prefix}:recovered`, ttl)),
    );
    const [{ objects, count, sample }, recovered] = await Promise.all([
      readObjects(store, prefix),
      store.get(`${prefix}:recovered`),
    ]);
    if (Number(recovered ?? 0) < objects) continue;
    // Every affected pod is back: later failures start a new period (a re-fire in the same thread).
    await once(store, `${prefix}:resolved`, ttl, now.getTime(), async () =>
      String(await nextGeneration(store, fp)),
    );
    if (resolved) continue;
    const signal: Signal = {
      reason: p.reason,
      rawReason: p.reason,
      type: 'Normal',
      // The severity it fired with: a resolution never changes what kind of problem it was.
      severity: severityForReason(p.reason),
      workload,
      object: { kind: 'Pod', name, ...(pod.metadata.namespace ? { namespace: pod.metadata.namespace } : {}) },
      occurrenceKey: `recovered:${name}`,
      objectVersion: pod.metadata.resourceVersion ?? '',
      at: endsAt,
      message: '',
      source: 'pod',
      annotations: {},
    };
    const counted: Counted = { n: Math.max(count, 1), gen: p.gen, start: p.start, by: '' };
    const pods = objects > 1 ? `All ${objects} affected pods` : `Pod ${name}`;
    resolved = buildIssue(signal, fp, counted, {
      objects,
      sample,
      cluster: deps.cluster,
      resolvedAt: Date.parse(endsAt) < Date.parse(p.start) ? p.start : endsAt,
      description: `${pods} recovered: ${deleted ? `the last one, ${name}, was deleted` : `Ready again since ${endsAt}`}.`,
    });
  }
  return resolved;
}
