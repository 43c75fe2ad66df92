// enrich-pod logic: what an on-call engineer would run kubectl for (describe, logs --previous,
// events), for a pod or for the unhealthy pods of a workload, within a time budget. API trouble
// becomes a note, never an exception.

import { eventsTable, failureNote, noteBlock, truncate } from '../../domain/diagnose/describe.ts';
import { nodeProblems } from '../../domain/diagnose/node-health.ts';
import { containersTable, podSummaryTable, resourcesTable } from '../../domain/diagnose/pod-status.ts';
import type { Block, Enrichment, Issue, Subject } from '../../domain/issue.ts';
import type { KubeReader } from '../../domain/kube.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import { type EnrichResult, podTarget } from '../../domain/routing.ts';
import { attempt, startBudget } from './budget.ts';
import { enrichClaim } from './claim-enrich.ts';
import { enrichCronJob } from './cronjob-enrich.ts';
import { type Ctx, investigatePod, listObjectEvents, type PodEnrichOptions, SOURCE } from './investigate.ts';
import { readLogs } from './logs.ts';
import { rolloutOfPod } from './rollout-enrich.ts';
import { enrichWorkload } from './workload-enrich.ts';

export { keepTail } from './logs.ts';
export { type PodEnrichOptions, SOURCE };

export async function enrichPod(
  issue: Issue,
  kube: KubeReader | undefined,
  opts: PodEnrichOptions,
): Promise<EnrichResult> {
  // The same test routing plans with (planFor): an issue planned here always names one.
  const target = podTarget(issue.subject);
  if (!target) {
    const text = 'Not enriched: the issue does not name a pod or a workload.';
    return { enrichment: { source: SOURCE, blocks: [{ type: 'markdown', text }] } };
  }
  const { kind, name, namespace } = target;
  const isPod = kind === 'Pod';
  const title = `${kind} ${namespace}/${name}`;
  if (!kube) {
    const what = isPod ? 'pod details' : `${kind} status, pods`;
    const text = `No cluster access: ${what}, events and logs were not gathered.`;
    return { enrichment: { source: SOURCE, title, blocks: [{ type: 'markdown', text }] } };
  }
  const now = opts.now?.getTime() ?? Date.now();
  const budget = startBudget(opts.timeBudgetMs);
  const ctx: Ctx = { kube, budget, opts, now, nodes: new Map() };
  try {
    const result =
      kind === 'Pod'
        ? await enrichOnePod(ctx, issue, namespace, name, title)
        : kind === 'CronJob'
          ? await enrichCronJob(ctx, issue, namespace, name, title)
          : kind === 'PersistentVolumeClaim'
            ? await enrichClaim(ctx, namespace, name, title)
            : await enrichWorkload(ctx, issue, kind, namespace, name, title);
    // Files cut from these blocks are named after the pod or workload (`api-0 recent events.txt`).
    result.enrichment.about = name;
    return result;
  } finally {
    budget.done();
  }
}

async function enrichOnePod(
  ctx: Ctx,
  issue: Issue,
  namespace: string,
  name: string,
  title: string,
): Promise<EnrichResult> {
  const [podR, eventsR] = await Promise.all([
    attempt(ctx.budget.run((signal) => ctx.kube.readPod(namespace, name, { signal }))),
    listObjectEvents(ctx, namespace, 'Pod', name),
  ]);
  const blocks: Block[] = [];
  if (!podR.ok) {
    const notes = [failureNote('read the pod', podR.error)];
    const gone = isKubeApiError(podR.error) && podR.error.code === 404;
    if (eventsR.ok) {
      const table = eventsTable(eventsR.value.items, ctx.now, ctx.opts.eventLimit ?? 10);
      if (table) blocks.push(table);
    } else notes.push(failureNote('list events', eventsR.error));
    // Without the pod only the container the issue names can be asked for.
    if (!gone) {
      const logs = await readLogs(
        ctx.kube,
        ctx.budget,
        { namespace, name, pod: undefined, selected: undefined, named: issue.subject.container },
        ctx.opts,
      );
      if (logs.note) notes.push(logs.note);
      blocks.push(...noteBlock(notes));
      if (logs.file) blocks.push(logs.file);
    } else blocks.push(...noteBlock(notes));
    const enrichment: Enrichment = gone
      ? {
          source: SOURCE,
          title,
          verdict: `Pod ${namespace}/${name} not found: it was deleted or replaced`,
          blocks,
        }
      : { source: SOURCE, title, blocks };
    return { enrichment };
  }
  const pod = podR.value;
  const [inv, rollout] = await Promise.all([
    investigatePod(ctx, pod, issue.subject.container, eventsR),
    rolloutOfPod(ctx, issue, pod),
  ]);
  blocks.push(...inv.diagnosis.evidence);
  if (rollout?.view) blocks.push(...rollout.view.blocks);
  // The pod investigator's tables (status, containers, resources) can be switched off in the
  // configuration; the verdict, evidence, events and logs stay.
  if (ctx.opts.investigator !== false) {
    blocks.push(podSummaryTable(pod, ctx.now), containersTable(pod, ctx.now), resourcesTable(pod));
  }
  const table = eventsTable(inv.events, ctx.now, ctx.opts.eventLimit ?? 10);
  if (table) blocks.push(table);
  blocks.push(...noteBlock([...inv.notes, ...(rollout?.notes ?? [])]));
  if (inv.logs) blocks.push(inv.logs);
  // The rollout when it is to blame; else a ConfigMap the template reads written just before.
  const blame = rollout?.view?.blame ?? rollout?.view?.configHints[0];
  const verdict =
    blame && rollout
      ? truncate(
          `${rollout.kind.toLowerCase()}/${rollout.workload.metadata?.name}: ${blame} — ${inv.diagnosis.verdict}`,
          300,
        )
      : inv.diagnosis.verdict;
  const result: EnrichResult = { enrichment: { source: SOURCE, title, verdict, blocks } };
  const nodeName = pod.spec?.nodeName;
  if (nodeName) {
    result.subject = { ...issue.subject, node: nodeName } satisfies Subject;
    if (inv.node && nodeProblems(inv.node).length > 0) result.unhealthyNode = nodeName;
  }
  return result;
}
