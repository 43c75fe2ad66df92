// Change tracking at ingest (the babysitter): a tracked workload's update is compared with the
// last pod template seen for its uid; a changed template becomes one `change` issue for its
// rule's destination, and a record by workload that incidents starting within the rule's window
// link back to (linkRecentChange). Status and replica updates change no template: nothing.

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
import type { ChangeTracking } from '../../domain/config/change-tracking.ts';
import type { Issue } from '../../domain/issue.ts';
import type { V1PodTemplateSpec } from '../../domain/kube.ts';
import type { StateStore } from '../../domain/state-store.ts';
import { BadRequestError } from '../../platform/errors.ts';
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

/** One ApiServerSource delivery of a Deployment, StatefulSet or DaemonSet (add or update). */
export async function trackChange(obj: TrackedObject, deps: ChangeDeps): Promise<ChangeResult> {
  const { metadata: m } = obj;
  const rule = changeRuleFor(deps.tracking, { kind: obj.kind, namespace: m.namespace, labels: m.labels });
  if (!rule) return { skipped: 'no changeTracking rule matches' };
  const { store, cluster } = deps;
  const key = seenKey(cluster, m.uid);
  const seen = readSeen(await store.get(key));
  const template = sealTemplate(templateOf(obj), deps.patterns);
  const keep = (change?: ChangeRecord) =>
    store.put(
      key,
      JSON.stringify({ generation: m.generation, rv: m.resourceVersion, template, change } satisfies Seen),
      TEMPLATE_TTL_SECONDS,
    );
  if (!seen) {
    await keep();
    return { skipped: 'first sight of the workload: its template is kept' };
  }
  // The redelivery of the update that made a change: the same issue again (dispatch drops it
  // as a duplicate when the first one got through; otherwise this is the one that does).
  if (seen.change && seen.change.rv === m.resourceVersion && seen.change.generation === m.generation)
    return { issue: changeIssue(seen.change, cluster) };
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
  await store.put(changeKey(cluster, workload), JSON.stringify(change), rule.window);
  await keep(change);
  return { issue: changeIssue(change, cluster) };
}
