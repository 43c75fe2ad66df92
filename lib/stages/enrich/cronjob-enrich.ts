// enrich-pod for a CronJob subject: the CronJob, its Jobs (listed in its namespace, told apart by
// ownerReferences) and its Events; when its newest run failed, that Job is looked into the way a
// Job subject is (failed pods, exit codes, logs).
import { jobsTable, viewCronJob } from '../../domain/diagnose/cronjob.ts';
import { eventsTable, failureNote, noteBlock, truncate } from '../../domain/diagnose/describe.ts';
import type { Block, Issue } from '../../domain/issue.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import type { EnrichResult } from '../../domain/routing.ts';
import { attempt } from './budget.ts';
import { type Ctx, listObjectEvents, SOURCE } from './investigate.ts';
import { collectPages } from './pages.ts';
import { enrichWorkload } from './workload-enrich.ts';

/** Jobs of the namespace read at most (successfulJobsHistoryLimit 3 and failedJobsHistoryLimit 1 by default). */
export const JOB_CAP = 500;

export async function enrichCronJob(
  ctx: Ctx,
  issue: Issue,
  namespace: string,
  name: string,
  title: string,
): Promise<EnrichResult> {
  const [cjR, jobsR, eventsR] = await Promise.all([
    attempt(ctx.budget.run((signal) => ctx.kube.readCronJob(namespace, name, { signal }))),
    attempt(collectPages(ctx.budget, (o) => ctx.kube.listJobs(namespace, o), JOB_CAP)),
    listObjectEvents(ctx, namespace, 'CronJob', name),
  ]);
  const notes: string[] = [];
  if (!jobsR.ok) notes.push(failureNote('list its jobs', jobsR.error));
  if (!eventsR.ok) notes.push(failureNote('list events', eventsR.error));
  const own = eventsR.ok ? eventsTable(eventsR.value.items, ctx.now, ctx.opts.eventLimit ?? 10) : undefined;
  if (!cjR.ok) {
    notes.push(failureNote('read the CronJob', cjR.error));
    const blocks: Block[] = [...(own ? [own] : []), ...noteBlock(notes)];
    const gone = isKubeApiError(cjR.error) && cjR.error.code === 404;
    const verdict = `CronJob ${namespace}/${name} not found: it was deleted`;
    return {
      enrichment: gone ? { source: SOURCE, title, verdict, blocks } : { source: SOURCE, title, blocks },
    };
  }
  const view = viewCronJob(cjR.value, jobsR.ok ? jobsR.value.items : [], ctx.now);
  const blocks: Block[] = [{ type: 'list', title: `CronJob ${name}`, items: view.items }];
  if (view.jobs.length) blocks.push(jobsTable(view.jobs, ctx.now));
  if (own) blocks.push({ ...own, title: `${own.title} of the CronJob` });
  let verdict = view.headline;
  const failed = view.failedJob?.metadata?.name;
  if (failed) {
    // The failed run is diagnosed like a Job subject: its failed pods, exit codes and logs.
    const job = await enrichWorkload(ctx, issue, 'Job', namespace, failed, title);
    if (job.enrichment.verdict) verdict = `${verdict} — ${job.enrichment.verdict}`;
    blocks.push(...job.enrichment.blocks);
  }
  blocks.push(...noteBlock(notes));
  return { enrichment: { source: SOURCE, title, verdict: truncate(verdict, 300), blocks } };
}
