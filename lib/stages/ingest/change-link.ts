// The line an incident gets when its workload changed just before it started (change tracking):
// "Changed 6m before: image api:2.4.0 to 2.5.0". Kubernetes issues are linked at ingest; alerts at
// dispatch, since alert-ingest keeps no state. Its own small module so dispatch loads nothing else
// of change tracking.

import type { ChangeRecord } from '../../domain/change.ts';
import type { ChangeTracking } from '../../domain/config/change-tracking.ts';
import type { Enrichment, Issue } from '../../domain/issue.ts';
import type { StateStore } from '../../domain/state-store.ts';
import { formatDuration } from '../../platform/duration.ts';
import { groupKey, workloadOfObject } from './workload.ts';

export const LINK_SOURCE = 'change-tracking';

/** Where a workload's last change is recorded, by namespace and name (as storms are grouped). */
export const changeKey = (cluster: string | undefined, workload: string): string =>
  `ki:{chg|${cluster ?? ''}|${workload}}:last`;

/** The line an incident starting at `startsAt` gets, or undefined when outside the window. */
export function changeLink(
  c: Pick<ChangeRecord, 'at' | 'until' | 'summary'>,
  startsAt: string,
): Enrichment | undefined {
  const at = Date.parse(c.at);
  const start = Date.parse(startsAt);
  if (!(start >= at && start <= c.until)) return undefined;
  const line = `Changed ${formatDuration(start - at)} before: ${c.summary}`;
  return {
    source: LINK_SOURCE,
    title: 'Recent change',
    verdict: line,
    blocks: [{ type: 'markdown', text: line }],
  };
}

/**
 * Adds the line to an incident about a workload (or a pod of it, by owner name as correlation
 * reads it) that starts within the window of the workload's last change.
 */
export async function linkRecentChange(
  issue: Issue,
  store: StateStore,
  cluster: string | undefined,
): Promise<Issue> {
  const s = issue.subject;
  if (issue.type === 'change' || !s.name || !s.namespace) return issue;
  if (issue.enrichments.some((e) => e.source === LINK_SOURCE)) return issue;
  const raw = await store.get(changeKey(cluster, groupKey(workloadOfObject(s.kind, s.name, s.namespace))));
  if (raw === null) return issue;
  let change: ChangeRecord;
  try {
    change = JSON.parse(raw) as ChangeRecord;
  } catch {
    return issue;
  }
  const link = changeLink(change, issue.startsAt);
  return link ? { ...issue, enrichments: [...issue.enrichments, link] } : issue;
}

/** At dispatch: a firing alert, when change tracking is on (one store read). */
export async function linkAlert(issue: Issue, store: StateStore, tracking: ChangeTracking): Promise<Issue> {
  if (issue.type !== 'alert' || issue.status !== 'firing' || tracking.rules.length === 0) return issue;
  return linkRecentChange(issue, store, issue.cluster);
}
