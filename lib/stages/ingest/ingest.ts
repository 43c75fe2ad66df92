// One ApiServerSource delivery (an Event or a Pod, added, updated or deleted) to at most one
// issue: filter, detect the signal, fold it into its (workload, reason) period, or resolve a
// period when its pods recovered. Plain data in, plain data out; the store is passed in.
import type { ChangeTracking } from '../../domain/config/change-tracking.ts';
import type { Issue } from '../../domain/issue.ts';
import { parseKubeEvent } from '../../domain/kube-events.ts';
import type { StateStore } from '../../domain/state-store.ts';
import type { Logger } from '../../platform/logger.ts';
import { parseTracked, trackChange } from './changes.ts';
import { refusedBy, type SignalFilter } from './filter.ts';
import { foldSignal } from './fold.ts';
import { markOpen, podRecovery, type WaitForRecovery } from './recovery.ts';
import { eventSignal, parsePod, podSignals, RECOVERABLE, type Signal } from './signals.ts';

export const APISERVER_PREFIX = 'dev.knative.apiserver.resource.';

export interface IngestSettings {
  cluster?: string | undefined;
  maxAgeSeconds: number;
  windowSeconds: number;
  imagePullGraceSeconds: number;
  recoveryStableSeconds: number;
  filter: SignalFilter;
}

export interface IngestDeps {
  store: StateStore;
  now: () => Date;
  settings: IngestSettings;
  log?: Logger;
  /** The configuration's `changeTracking:` (live) and the secret patterns; absent: off. */
  changes?: { tracking: ChangeTracking; patterns: readonly RegExp[] };
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export interface Delivery {
  /** The CloudEvent type, `dev.knative.apiserver.resource.{add,update,delete}`. */
  type: string;
  /** The object, already JSON-parsed. */
  data: unknown;
}

export type IngestResult =
  | { issue: Issue; fresh: boolean; folded: number; skipped?: undefined; retryLater?: undefined }
  | { issue?: undefined; skipped: string; retryLater?: undefined }
  /** Come back later (a recovered pod must stay Ready a while): a result, not an error. */
  | ({ issue?: undefined; skipped?: undefined } & WaitForRecovery);

const skip = (skipped: string): IngestResult => ({ skipped });

export async function ingest(delivery: Delivery, deps: IngestDeps): Promise<IngestResult> {
  if (!delivery.type.startsWith(APISERVER_PREFIX)) return skip('not an ApiServerSource resource event');
  const action = delivery.type.slice(APISERVER_PREFIX.length);
  const kind = (delivery.data as { kind?: unknown } | null)?.kind;
  if (kind === 'Event') {
    // An Event's deletion is its garbage collection (~1h), not news.
    if (action === 'delete') return skip('Event deleted');
    const signal = eventSignal(parseKubeEvent(delivery.data), signalOptions(deps));
    if (!signal) return skip('older than MAX_EVENT_AGE_SECONDS');
    return foldAll([signal], deps);
  }
  if (kind === 'Pod') {
    const pod = parsePod(delivery.data);
    const { store, settings } = deps;
    const recoveryDeps = {
      store,
      now: deps.now,
      windowSeconds: settings.windowSeconds,
      cluster: settings.cluster,
      stableSeconds: settings.recoveryStableSeconds,
    };
    if (action === 'delete') {
      const issue = await podRecovery(pod, true, recoveryDeps);
      if (issue && 'retryLater' in issue) return issue;
      return issue ? { issue, fresh: true, folded: 0 } : skip('Pod deleted');
    }
    const signals = await podSignals(pod, {
      ...signalOptions(deps),
      firstSeen: async (key) => {
        const k = `ki:{pod|${pod.metadata.namespace ?? ''}/${pod.metadata.name}}:${key}`;
        const nowIso = deps.now().toISOString();
        if (await store.setIfAbsent(k, nowIso, settings.windowSeconds)) return nowIso;
        return (await store.get(k)) ?? nowIso;
      },
    });
    if (signals.length > 0) return foldAll(signals, deps);
    const issue = await podRecovery(pod, false, recoveryDeps);
    if (issue && 'retryLater' in issue) return issue;
    return issue ? { issue, fresh: true, folded: 0 } : skip('no failure transition');
  }
  if (typeof kind === 'string' && WORKLOAD_KINDS.has(kind)) {
    // A deleted workload has no template left to change; its kept one expires.
    if (action === 'delete') return skip(`${kind} deleted`);
    if (!deps.changes?.tracking.rules.length) return skip('change tracking is off');
    const { store, now, settings } = deps;
    const r = await trackChange(parseTracked(delivery.data), {
      store,
      now,
      cluster: settings.cluster,
      ...deps.changes,
    });
    return r.issue ? { issue: r.issue, fresh: true, folded: 0 } : skip(r.skipped);
  }
  return skip(`kind ${typeof kind === 'string' ? kind : '(none)'} not handled`);
}

function signalOptions(deps: IngestDeps) {
  return {
    now: deps.now(),
    maxAgeSeconds: deps.settings.maxAgeSeconds,
    imagePullGraceSeconds: deps.settings.imagePullGraceSeconds,
  };
}

/**
 * Folds every signal that passes the filter. A reply carries one event, so the first signal's
 * issue is returned; the others are counted and show on their thread's next occurrence (two
 * different failures of one pod in one update are rare).
 */
async function foldAll(signals: Signal[], deps: IngestDeps): Promise<IngestResult> {
  const { settings, store } = deps;
  let first: { issue: Issue; fresh: boolean } | undefined;
  let refused: string | undefined;
  let folded = 0;
  for (const signal of signals) {
    const why = refusedBy(settings.filter, {
      type: signal.type,
      reasons: [signal.reason, signal.rawReason],
      kind: signal.object.kind,
      namespace: signal.object.namespace,
    });
    if (why) {
      refused ??= `filtered out by ${why}`;
      continue;
    }
    const result = await foldSignal(signal, {
      store,
      now: deps.now,
      windowSeconds: settings.windowSeconds,
      cluster: settings.cluster,
    });
    if (signal.object.kind === 'Pod' && RECOVERABLE.has(signal.reason))
      await markOpen(store, signal, result.fingerprint, result.counted, settings.windowSeconds);
    if (!result.fresh && !result.redelivery) continue;
    folded += 1;
    first ??= { issue: result.issue, fresh: result.fresh };
  }
  if (!first) return skip(refused ?? 'already reported');
  if (folded > 1) deps.log?.info({ folded }, 'several failures in one update: the first is replied');
  return { ...first, folded };
}
