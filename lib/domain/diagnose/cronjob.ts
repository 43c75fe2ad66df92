// A CronJob read as its schedule says it should have run: the recent schedule times, the runs it
// missed since the last one (suspended, a Forbid policy behind a run still going, a deadline),
// the concurrency policy, the last success, and its recent Jobs. Pure, with the clock passed in.
import { Cron } from 'croner';
import type { TableBlock } from '../issue.ts';
import type { V1CronJob, V1Job } from '../kube.ts';
import { ago, formatDuration, pluralize, toMillis } from './describe.ts';

export const SCHEDULED_AT = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** The controller gives up counting (and starting) past this many missed schedules. */
const TOO_MANY_MISSED = 100;

/** The schedule times of `schedule` before `now`, newest first; undefined when it does not parse. */
export function previousSchedules(cj: V1CronJob, now: number, n: number): number[] | undefined {
  try {
    // No callback: croner only evaluates the pattern, it starts no timer.
    const cron = new Cron(cj.spec?.schedule ?? '', {
      ...(cj.spec?.timeZone ? { timezone: cj.spec.timeZone } : { timezone: 'Etc/UTC' }),
    });
    return cron.previousRuns(n, new Date(now)).map((d) => d.getTime());
  } catch {
    return undefined;
  }
}

export type JobState = 'Complete' | 'Failed' | 'Running' | 'Suspended';

export function jobState(job: V1Job): JobState {
  const cond = (t: string) => job.status?.conditions?.some((c) => c.type === t && c.status === 'True');
  if (cond('Complete')) return 'Complete';
  if (cond('Failed')) return 'Failed';
  if (cond('Suspended')) return 'Suspended';
  return 'Running';
}

/** The CronJob's own Jobs (ownerReferences), newest schedule first. */
export function ownJobs(cj: V1CronJob, jobs: V1Job[]): V1Job[] {
  const uid = cj.metadata?.uid;
  const at = (j: V1Job) =>
    toMillis(j.metadata?.annotations?.[SCHEDULED_AT] ?? j.metadata?.creationTimestamp) ?? 0;
  return jobs
    .filter((j) => uid !== undefined && j.metadata?.ownerReferences?.some((r) => r.uid === uid))
    .sort((a, b) => at(b) - at(a));
}

export interface CronJobView {
  /** "missed 3 runs since 09:00 (Forbid: job x still running)", "last run x failed", ... */
  headline: string;
  items: string[];
  jobs: V1Job[];
  /** The newest failed Job: whose pods to look into. */
  failedJob?: V1Job;
}

function missedRuns(cj: V1CronJob, now: number): { missed: number[]; parsed: boolean } {
  const last = toMillis(cj.status?.lastScheduleTime) ?? toMillis(cj.metadata?.creationTimestamp) ?? now;
  const recent = previousSchedules(cj, now - 60_000, TOO_MANY_MISSED + 1);
  if (!recent) return { missed: [], parsed: false };
  return { missed: recent.filter((t) => t > last), parsed: true };
}

export function viewCronJob(cj: V1CronJob, jobs: V1Job[], now: number): CronJobView {
  const name = cj.metadata?.name ?? '';
  const own = ownJobs(cj, jobs);
  const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
  const tz = cj.spec?.timeZone ?? 'the controller time zone (UTC)';
  const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
  const items = [`Schedule ${cj.spec?.schedule} in ${tz}; concurrency policy ${policy}`];
  const recent = previousSchedules(cj, now, 3);
  if (recent) items.push(`Recent schedule times: ${recent.map(iso).join(', ')}`);
  else items.push(`The schedule ${JSON.stringify(cj.spec?.schedule)} does not parse`);
  items.push(
    `Last scheduled ${ago(cj.status?.lastScheduleTime, now) ?? 'never'}; last success ${ago(cj.status?.lastSuccessfulTime, now) ?? 'never'}`,
  );
  if (cj.spec?.startingDeadlineSeconds !== undefined)
    items.push(`startingDeadlineSeconds ${cj.spec.startingDeadlineSeconds}`);
  const active = own.filter((j) => jobState(j) === 'Running');
  const { missed } = missedRuns(cj, now);
  let headline: string;
  if (cj.spec?.suspend) {
    headline = `suspended${missed.length ? `; ${pluralize(missed.length, 'run')} not started since ${iso(missed.at(-1) as number)}` : ''}`;
  } else if (missed.length > TOO_MANY_MISSED) {
    headline = `more than ${TOO_MANY_MISSED} missed runs: the controller starts no more (set startingDeadlineSeconds)`;
  } else if (missed.length > 0) {
    const blocker = policy === 'Forbid' && active[0];
    const since = ago(blocker ? blocker.status?.startTime : undefined, now);
    headline = `missed ${pluralize(missed.length, 'run')} since ${iso(missed.at(-1) as number)}${
      blocker
        ? ` (Forbid: job ${blocker.metadata?.name} still running${since ? `, started ${since}` : ''})`
        : ''
    }`;
  } else headline = active.length > 0 ? `${active.length} running` : 'no run missed';
  const failedJob = own[0] && jobState(own[0]) === 'Failed' ? own[0] : undefined;
  if (failedJob) {
    const rest = headline === 'no run missed' ? '' : `; ${headline}`;
    headline = `last run ${failedJob.metadata?.name} failed${rest}`;
  }
  const success = toMillis(cj.status?.lastSuccessfulTime);
  const failedSince = own.filter(
    (j) =>
      jobState(j) === 'Failed' &&
      (success === undefined || (toMillis(j.metadata?.creationTimestamp) ?? 0) > success),
  );
  if (failedSince.length > 1) items.push(`${failedSince.length} runs failed since the last success`);
  const out: CronJobView = { headline: `CronJob ${name}: ${headline}`, items, jobs: own };
  if (failedJob) out.failedJob = failedJob;
  return out;
}

export function jobsTable(jobs: V1Job[], now: number, cap = 10): TableBlock {
  return {
    type: 'table',
    title: jobs.length > cap ? `Recent jobs (${cap} of ${jobs.length})` : 'Recent jobs',
    headers: ['Job', 'Scheduled', 'State', 'Ran for', 'Failed pods'],
    rows: jobs.slice(0, cap).map((j) => {
      const start = toMillis(j.status?.startTime);
      const end =
        toMillis(j.status?.completionTime) ??
        toMillis(j.status?.conditions?.find((c) => c.type === 'Failed')?.lastTransitionTime);
      return [
        j.metadata?.name ?? '',
        ago(j.metadata?.annotations?.[SCHEDULED_AT] ?? j.metadata?.creationTimestamp, now) ?? '',
        jobState(j),
        start === undefined ? '-' : formatDuration((end ?? now) - start),
        String(j.status?.failed ?? 0),
      ];
    }),
  };
}
