// Change tracking at ingest (the babysitter): a tracked workload's update is compared with the
// last pod template seen for its uid; a changed template becomes one `change` issue for its
// rule's destination, and a record by workload that incidents starting within the rule's window
// link back to (linkRecentChange). Status and replica updates change no template: nothing.

import { randomUUID } from 'node:crypto';
import {
  type ChangeRecord,
  changeIssue,
  sealTemplate,
  summarize,
  TrackedObject,
  templateChanges,
  templateOf,
} from '../../domain/change.ts';
import { changeRuleFor } from '../../domain/config/change-rules.ts';
import type { ChangeRule, ChangeTracking } from '../../domain/config/change-tracking.ts';
import type { Issue } from '../../domain/issue.ts';
import type { V1PodTemplateSpec } from '../../domain/kube.ts';
import type { Lock, StateStore } from '../../domain/state-store.ts';
import { BadRequestError, UnavailableError } from '../../platform/errors.ts';
import { formatZodError } from '../../platform/zod.ts';
import { changeKey } from './change-link.ts';
import { groupKey, workloadOfObject } from './workload.ts';

/** How long a workload's last template is kept: one not updated for longer starts afresh. */
export const TEMPLATE_TTL_SECONDS = 30 * 24 * 3600;

export interface ChangeDeps {
  store: StateStore;
  now: () => Date;
  cluster?: string | undefined;
  tracking: ChangeTracking;
  /** Secret patterns: literals they match are sealed before they are stored or shown. */
  patterns: readonly RegExp[];
}

export type ChangeResult = { issue: Issue; skipped?: undefined } | { issue?: undefined; skipped: string };

/** What the store keeps per workload uid: the last template, and the last change seen. */
interface Seen {
  generation: number;
  rv: string;
  template: V1PodTemplateSpec;
  change?: ChangeRecord | undefined;
}

const seenKey = (cluster: string | undefined, uid: string) => `ki:{wl|${cluster ?? ''}|${uid}}:seen`;

export function parseTracked(data: unknown): TrackedObject {
  const parsed = TrackedObject.safeParse(data);
  if (!parsed.success) throw new BadRequestError(`invalid workload: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

function readSeen(raw: string | null): Seen | undefined {
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<Seen>;
    if (typeof v.generation !== 'number' || typeof v.rv !== 'string' || typeof v.template !== 'object')
      return undefined;
    return v as Seen;
  } catch {
    // Unreadable (an older format): taken as first sight, which only costs one change message.
    return undefined;
  }
}

/** How long the per-workload lock holds if its delivery dies mid-way. */
const LOCK_TTL_MS = 10_000;

/**
 * One ApiServerSource delivery of a Deployment, StatefulSet or DaemonSet (add or update). Two
 * deliveries of one workload compare one after the other (a lock per uid, sharing the kept
 * template's hash tag): otherwise both could compare with the same old template, and the older
 * could be kept last. The one that finds the lock taken is retried by the broker (503).
 */
export async function trackChange(obj: TrackedObject, deps: ChangeDeps): Promise<ChangeResult> {
  const { metadata: m } = obj;
  const rule = changeRuleFor(deps.tracking, { kind: obj.kind, namespace: m.namespace, labels: m.labels });
  if (!rule) return { skipped: 'no changeTracking rule matches' };
  const key = seenKey(deps.cluster, m.uid);
  const lock: Lock = {
    key: `${key.slice(0, -':seen'.length)}:lock`,
    token: randomUUID(),
    ttlMs: LOCK_TTL_MS,
  };
  const { locked, value } = await deps.store.lockAndGet(lock, key);
  if (!locked)
    throw new UnavailableError('the same workload is being compared by another delivery', { retryAfter: 1 });
  try {
    return await compare(obj, rule, readSeen(value), deps, async (seen) => {
      if (!(await deps.store.putLocked(lock, key, JSON.stringify(seen), TEMPLATE_TTL_SECONDS)))
        throw new UnavailableError('the workload lock expired before its template was kept', {
          retryAfter: 1,
        });
    });
  } finally {
    await deps.store.unlock(lock).catch(() => undefined);
  }
}

async function compare(
  obj: TrackedObject,
  rule: ChangeRule,
  seen: Seen | undefined,
  deps: ChangeDeps,
  keepSeen: (seen: Seen) => Promise<void>,
): Promise<ChangeResult> {
  const { metadata: m } = obj;
  const template = sealTemplate(templateOf(obj), deps.patterns);
  const keep = (change?: ChangeRecord) =>
    keepSeen({ generation: m.generation, rv: m.resourceVersion, template, change });
  if (!seen) {
    await keep();
    return { skipped: 'first sight of the workload: its template is kept' };
  }
  // The redelivery of the update that made a change: the same issue again (dispatch drops it
  // as a duplicate when the first one got through; otherwise this is the one that does).
  if (seen.change && seen.change.rv === m.resourceVersion && seen.change.generation === m.generation)
    return { issue: changeIssue(seen.change, deps.cluster) };
  if (m.generation < seen.generation) return { skipped: 'an older version than the one seen' };
  const changes = templateChanges(seen.template, template, deps.patterns);
  if (changes.length === 0) {
    if (m.generation > seen.generation) await keep(seen.change);
    return { skipped: 'pod template unchanged (status, replicas or strategy only)' };
  }
  const now = deps.now();
  const change: ChangeRecord = {
    kind: obj.kind,
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    generation: m.generation,
    rv: m.resourceVersion,
    at: now.toISOString(),
    summary: summarize(changes),
    details: changes.map((c) => (c.container ? `${c.container}: ${c.detail}` : c.detail)),
    destination: rule.destination,
    until: now.getTime() + rule.window * 1000,
  };
  const workload = groupKey(workloadOfObject(obj.kind, m.name, m.namespace));
  await deps.store.put(changeKey(deps.cluster, workload), JSON.stringify(change), rule.window);
  await keep(change);
  return { issue: changeIssue(change, deps.cluster) };
}
