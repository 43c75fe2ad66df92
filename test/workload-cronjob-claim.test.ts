// CronJob and PersistentVolumeClaim subjects: the schedule against what ran (missed runs, a Forbid
// policy behind a run still going, suspension, the last success), a failed run diagnosed like a
// Job; a claim Pending for its StorageClass, waiting for its first pod, Lost, or mid-resize, and the
// pods that use it. Pure functions, then enrich-pod at the TLS stand-in.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { claimVerdict } from '../lib/domain/diagnose/claim.ts';
import { previousSchedules, viewCronJob } from '../lib/domain/diagnose/cronjob.ts';
import type { Enrichment, TableBlock } from '../lib/domain/issue.ts';
import type { CoreV1Event, V1CronJob, V1Job, V1PersistentVolumeClaim, V1Pod } from '../lib/domain/kube.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';

const f = await loadKubeFixtures();
const NOW = Date.parse('2026-03-10T12:00:00Z');
const cronJob = f.workloads.find((w) => w.kind === 'CronJob') as V1CronJob;
const jobs = f.workloads.filter((w) => w.kind === 'Job') as V1Job[];
const OPTS: PodEnrichOptions = {
  timeBudgetMs: 4000,
  logTailLines: 100,
  logLimitBytes: 16384,
  now: new Date(NOW),
};

test('cronjob: schedule times come from the cron pattern in its time zone', (t) => {
  const iso = (ms: number[] | undefined) => ms?.map((x) => new Date(x).toISOString());
  t.deepEqual(iso(previousSchedules(cronJob, NOW, 2)), [
    '2026-03-10T11:00:00.000Z',
    '2026-03-09T11:00:00.000Z',
  ]);
  const berlin = { ...cronJob, spec: { ...cronJob.spec, timeZone: 'Europe/Berlin' } } as V1CronJob;
  t.deepEqual(
    iso(previousSchedules(berlin, NOW, 1)),
    ['2026-03-10T10:00:00.000Z'],
    '11:00 in Berlin is 10:00 UTC',
  );
  const hourly = { ...cronJob, spec: { ...cronJob.spec, schedule: '@hourly' } } as V1CronJob;
  t.deepEqual(iso(previousSchedules(hourly, NOW, 1)), ['2026-03-10T11:00:00.000Z'], 'strictly before now');
  t.deepEqual(iso(previousSchedules(hourly, NOW + 1000, 1)), ['2026-03-10T12:00:00.000Z']);
  const broken = { ...cronJob, spec: { ...cronJob.spec, schedule: '61 * * * *' } } as V1CronJob;
  t.is(previousSchedules(broken, NOW, 1), undefined);
});

test('cronjob: a failed last run, missed runs behind a Forbid run, and suspension read as such', (t) => {
  const v = viewCronJob(cronJob, jobs, NOW);
  t.is(v.headline, 'CronJob nightly-report: last run nightly-report-29541600 failed');
  t.is(v.failedJob?.metadata?.name, 'nightly-report-29541600');
  t.deepEqual(
    v.jobs.map((j) => j.metadata?.name),
    ['nightly-report-29541600', 'nightly-report-29539440'],
    'only its own Jobs, newest first',
  );
  // Hourly with Forbid: the 11:00 run is still going, so 12:00 (and the rest) did not start.
  const running = structuredClone(jobs.find((j) => j.metadata?.name === 'nightly-report-29541600')) as V1Job;
  running.status = { startTime: '2026-03-10T09:00:00Z', active: 1 };
  const hourly = structuredClone(cronJob);
  (hourly.spec as { schedule: string }).schedule = '0 * * * *';
  (hourly.status as { lastScheduleTime: string }).lastScheduleTime = '2026-03-10T09:00:00Z';
  t.is(
    viewCronJob(hourly, [running], NOW + 5 * 60_000).headline,
    'CronJob nightly-report: missed 3 runs since 2026-03-10T10:00:00Z (Forbid: job nightly-report-29541600 still running, started 3h5m ago)',
  );
  (hourly.spec as { suspend: boolean }).suspend = true;
  t.regex(
    viewCronJob(hourly, [], NOW + 5 * 60_000).headline,
    /: suspended; 3 runs not started since 2026-03-10T10:00:00Z$/,
  );
});

const claim = (name: string) =>
  structuredClone(f.persistentVolumeClaims.find((c) => c.metadata.name === name)) as V1PersistentVolumeClaim;
const facts = (
  pvc: V1PersistentVolumeClaim,
  o: { events?: CoreV1Event[]; users?: V1Pod[]; storageClass?: 'found' | 'missing' } = {},
) => ({
  pvc,
  events: o.events ?? [],
  storageClass: o.storageClass,
  users: o.users ?? [],
  now: NOW,
});

test('claim: Pending says which of class, provisioner or first consumer it waits for; Lost and resize too', (t) => {
  const pending = claim('data-search-2');
  t.is(
    claimVerdict(facts(pending, { storageClass: 'missing' })),
    'PersistentVolumeClaim data-search-2 Pending: StorageClass gp3-encrypted does not exist',
  );
  const event = (reason: string, message: string) =>
    ({
      reason,
      message,
      type: 'Normal',
      lastTimestamp: '2026-03-10T11:50:00Z',
      involvedObject: {},
      metadata: {},
    }) as CoreV1Event;
  const search2 = f.pods.find((p) => p.metadata.name === 'search-2') as V1Pod;
  t.is(
    claimVerdict(
      facts(pending, {
        storageClass: 'found',
        events: [event('WaitForFirstConsumer', 'waiting for first consumer')],
        users: [search2],
      }),
    ),
    'PersistentVolumeClaim data-search-2 Pending: waiting for its first pod to be scheduled (WaitForFirstConsumer); pod search-2 is Unschedulable',
  );
  t.regex(
    claimVerdict(
      facts(pending, {
        storageClass: 'found',
        events: [event('ProvisioningFailed', 'VolumeLimitExceeded: gp3 limit')],
      }),
    ),
    /Pending: provisioning failed: VolumeLimitExceeded: gp3 limit$/,
  );
  const unnamed = claim('data-search-2');
  delete unnamed.spec?.storageClassName;
  t.regex(claimVerdict(facts(unnamed)), /Pending: no StorageClass: none named and no default class/);
  const lost = claim('data-queue-0');
  (lost.status as { phase: string }).phase = 'Lost';
  t.regex(
    claimVerdict(facts(lost)),
    /^PersistentVolumeClaim data-queue-0 Lost: its PersistentVolume pvc-\S+ no longer exists/,
  );
  t.regex(
    claimVerdict(facts(claim('uploads'))),
    /Bound to \S+ \(20Gi\); resize to 50Gi pending: .* grows when a pod \(re\)starts with it .*; no pod uses it$/,
  );
  const infeasible = claim('uploads');
  infeasible.status = {
    phase: 'Bound',
    capacity: { storage: '20Gi' },
    allocatedResourceStatuses: { storage: 'ControllerResizeInfeasible' },
  };
  t.regex(
    claimVerdict(facts(infeasible)),
    /resize to 50Gi refused \(ControllerResizeInfeasible\); still 20Gi/,
  );
});

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});
const table = (e: Enrichment, title: string) =>
  e.blocks.find((b): b is TableBlock => b.type === 'table' && b.title === title);

test.serial(
  'enrich-pod: a CronJob subject shows its schedule and runs and diagnoses its failed run',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const { enrichment: e } = await enrichPod(
      makeIssue({ subject: { kind: 'CronJob', name: 'nightly-report', namespace: 'shop' } }),
      reader,
      OPTS,
    );
    t.is(
      e.verdict,
      'CronJob nightly-report: last run nightly-report-29541600 failed — BackoffLimitExceeded: job nightly-report-29541600 failed 3 times (backoffLimit 2); last exit 2 (application error)',
    );
    t.deepEqual(
      table(e, 'Recent jobs')?.rows.map((r) => [r[0], r[2]]),
      [
        ['nightly-report-29541600', 'Failed'],
        ['nightly-report-29539440', 'Complete'],
      ],
    );
    t.truthy(table(e, 'Failed pods'), 'the failed run is diagnosed like a Job subject');
    t.true(
      kube.requests.some(
        (r) => r.path === '/apis/batch/v1/namespaces/shop/jobs' && r.query.limit !== undefined,
      ),
    );
  },
);

test.serial(
  'enrich-pod: a PersistentVolumeClaim subject names what it waits for and the pods using it',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const issue = (name: string, namespace: string) =>
      makeIssue({ subject: { kind: 'PersistentVolumeClaim', name, namespace } });
    const { enrichment: e } = await enrichPod(issue('data-search-2', 'shop'), reader, OPTS);
    t.is(e.verdict, 'PersistentVolumeClaim data-search-2 Pending: StorageClass gp3-encrypted does not exist');
    t.deepEqual(table(e, 'Pods using it')?.rows, [['search-2', '-', 'Unschedulable']]);
    t.true(kube.requests.some((r) => r.path === '/apis/storage.k8s.io/v1/storageclasses/gp3-encrypted'));
    const resize = await enrichPod(issue('uploads', 'orders'), reader, OPTS);
    t.regex(resize.enrichment.verdict ?? '', /resize to 50Gi pending/);
    const gone = await enrichPod(issue('nothing-here', 'orders'), reader, OPTS);
    t.is(gone.enrichment.verdict, 'PersistentVolumeClaim orders/nothing-here not found: it was deleted');
  },
);
