// enrich-pod for a workload subject: read the workload, list its pods through the selector page by
// page, look into the unhealthy ones (different failures first) and say in one line how it stands.

import { eventsTable, failureNote, noteBlock, truncate } from '../../domain/diagnose/describe.ts';
import { nodeProblems } from '../../domain/diagnose/node-health.ts';
import {
  podsTable,
  podsToInvestigate,
  viewJob,
  viewWorkload,
  workloadSelector,
  workloadTable,
} from '../../domain/diagnose/workload.ts';
import type { Block, Issue, Subject } from '../../domain/issue.ts';
import type { CoreV1Event, V1Job, V1Pod, Workload, WorkloadKind } from '../../domain/kube.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import type { EnrichResult } from '../../domain/routing.ts';
import { attempt } from './budget.ts';
import { type Ctx, type Investigation, investigatePod, listObjectEvents, SOURCE } from './investigate.ts';
import { collectPages } from './pages.ts';
import { readKindDetails } from './workload-kinds.ts';

export async function enrichWorkload(
  ctx: Ctx,
  issue: Issue,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  title: string,
): Promise<EnrichResult> {
  const notes: string[] = [];
  const blocks: Block[] = [];
  const [wR, eventsR] = await Promise.all([
    attempt(ctx.budget.run((signal) => ctx.kube.readWorkload(kind, namespace, name, { signal }))),
    listObjectEvents(ctx, namespace, kind, name),
  ]);
  const ownEvents: CoreV1Event[] = eventsR.ok ? eventsR.value.items : [];
  if (!eventsR.ok) notes.push(failureNote('list events', eventsR.error));
  if (!wR.ok) {
    notes.push(failureNote(`read the ${kind}`, wR.error));
    const table = eventsTable(ownEvents, ctx.now, ctx.opts.eventLimit ?? 10);
    if (table) blocks.push(table);
    blocks.push(...noteBlock(notes));
    const gone = isKubeApiError(wR.error) && wR.error.code === 404;
    return {
      enrichment: gone
        ? { source: SOURCE, title, verdict: `${kind} ${namespace}/${name} not found: it was deleted`, blocks }
        : { source: SOURCE, title, blocks },
    };
  }
  const w: Workload = wR.value;
  const selector = workloadSelector(w);
  let pods: V1Pod[] = [];
  let listedAll = true;
  if (selector === undefined) notes.push(`The ${kind} has no usable pod selector.`);
  else {
    const podsR = await attempt(
      collectPages(ctx.budget, (o) => ctx.kube.listPods(namespace, selector, o), ctx.opts.podLimit ?? 500),
    );
    if (podsR.ok) {
      pods = podsR.value.items;
      listedAll = podsR.value.complete;
      if (podsR.value.error) notes.push(failureNote('list all of its pods', podsR.value.error));
    } else notes.push(failureNote('list its pods', podsR.error));
  }

  const view = viewWorkload(kind, w, pods, listedAll);
  const job = kind === 'Job' ? viewJob(w as V1Job, pods, ctx.now) : undefined;
  const targets = job
    ? job.failed.slice(0, ctx.opts.investigate ?? 3)
    : podsToInvestigate(view, ctx.opts.investigate ?? 3);
  // One pod after the other: each may read logs, and the budget is shared. What the kind adds
  // (revisions, ordinals, nodes) is read alongside.
  const detailsP = readKindDetails(ctx, issue, kind, w, pods, listedAll);
  const found: Array<{ pod: V1Pod; inv: Investigation }> = [];
  for (const pod of targets) {
    found.push({ pod, inv: await investigatePod(ctx, pod, issue.subject.container) });
  }
  const details = await detailsP;
  notes.push(...details.notes);
  const worst = found[0]?.inv.diagnosis.verdict;
  const head = [details.changed, view.headline, details.status].filter((x) => x !== undefined).join('; ');
  const verdict = job?.verdict
    ? job.verdict
    : truncate(`${kind} ${name}: ${head}${worst ? ` — ${worst}` : ''}`, 300);
  if (job) blocks.push(...job.blocks);
  blocks.push(workloadTable(kind, w, ctx.now), ...details.blocks);
  if (view.unhealthy.length > 0 && !job) blocks.push(podsTable(view.unhealthy, ctx.now));
  for (const { pod, inv } of found) {
    for (const b of inv.diagnosis.evidence) {
      blocks.push(
        'title' in b && b.title !== undefined ? { ...b, title: `${b.title} — pod ${pod.metadata?.name}` } : b,
      );
    }
  }
  const own = eventsTable(ownEvents, ctx.now, ctx.opts.eventLimit ?? 10);
  if (own) blocks.push({ ...own, title: `${own.title} of the ${kind}` });
  const podEvents = found.flatMap((f) => f.inv.events);
  const podTable = eventsTable(podEvents, ctx.now, ctx.opts.eventLimit ?? 10);
  if (podTable) blocks.push({ ...podTable, title: `${podTable.title} of the pods above` });
  for (const f of found) notes.push(...f.inv.notes.map((n) => `${f.pod.metadata?.name}: ${n}`));
  blocks.push(...noteBlock(notes));
  for (const f of found) if (f.inv.logs) blocks.push(f.inv.logs);

  const result: EnrichResult = { enrichment: { source: SOURCE, title, verdict, blocks } };
  // The node that hosts most unhealthy pods, when it is unhealthy itself, gets enrich-node's look.
  const byNode = new Map<string, number>();
  for (const p of view.unhealthy) {
    const n = p.spec?.nodeName;
    if (n) byNode.set(n, (byNode.get(n) ?? 0) + 1);
  }
  const sick = found
    .map((f) => f.inv.node)
    .filter((n) => n !== undefined && nodeProblems(n).length > 0)
    .map((n) => n?.metadata?.name as string)
    .sort((a, b) => (byNode.get(b) ?? 0) - (byNode.get(a) ?? 0));
  const onlyNode = byNode.size === 1 ? [...byNode.keys()][0] : undefined;
  const node = sick[0] ?? onlyNode;
  if (node) result.subject = { ...issue.subject, node } satisfies Subject;
  if (sick[0]) result.unhealthyNode = sick[0];
  return result;
}
