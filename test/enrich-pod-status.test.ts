// Unit tests of the pure parts of enrich-pod: exit code meanings, which container is looked at,
// owner naming, log tail cutting, quantities and the time budget. No network.
import test from 'ava';
import {
  exitCodeMeaning,
  formatBytes,
  formatDuration,
  parseQuantity,
} from '../lib/domain/diagnose/describe.ts';
import { describeOwner, podVerdict, selectContainer } from '../lib/domain/diagnose/pod-status.ts';
import type { V1Pod } from '../lib/domain/kube.ts';
import { isKubeApiError } from '../lib/domain/kube-errors.ts';
import { attempt, startBudget } from '../lib/stages/enrich/budget.ts';
import { keepTail } from '../lib/stages/enrich/pod.ts';
import { loadKubeFixtures } from './support/kube-standin.ts';

const fixtures = await loadKubeFixtures();
const NOW = Date.parse('2026-03-10T12:00:00Z');
function pod(name: string): V1Pod {
  const p = fixtures.pods.find((x) => x.metadata.name === name);
  if (!p) throw new Error(`no fixture pod ${name}`);
  return structuredClone(p) as V1Pod;
}

test('exit codes: the common container exit codes get their usual meaning', (t) => {
  t.is(exitCodeMeaning(0), 'success');
  t.is(exitCodeMeaning(1), 'application error');
  t.is(exitCodeMeaning(126), 'command not executable');
  t.is(exitCodeMeaning(127), 'command not found');
  t.is(exitCodeMeaning(137), 'SIGKILL: OOM kill or forced stop');
  t.is(exitCodeMeaning(137, 'OOMKilled'), 'SIGKILL: out of memory');
  t.is(exitCodeMeaning(139), 'SIGSEGV: segmentation fault');
  t.is(exitCodeMeaning(143), 'SIGTERM: asked to stop');
  t.is(exitCodeMeaning(134), 'killed by signal 6 (SIGABRT)');
  t.is(exitCodeMeaning(3), 'application error');
});

test('container selection: the crash-looping container is picked over healthy ones', (t) => {
  const p = pod('api-7d9f8b6c5d-x2x4q');
  p.spec?.containers.push({ name: 'proxy', image: 'envoyproxy/envoy:v1.33.0' });
  p.status?.containerStatuses?.push({
    name: 'proxy',
    ready: true,
    restartCount: 0,
    image: 'envoyproxy/envoy:v1.33.0',
    imageID: '',
    state: { running: { startedAt: '2026-03-10T11:41:04Z' } },
  });
  t.is(selectContainer(p)?.name, 'app');
});

test('container selection: a not-ready sidecar with restarts beats a completed init container', (t) => {
  const c = selectContainer(pod('ledger-0'));
  t.is(c?.name, 'metrics-exporter');
  t.false(c?.init);
});

test('container selection: a failing init container is picked and called an init container', (t) => {
  const p = pod('ledger-0');
  const init = p.status?.initContainerStatuses?.[0];
  if (!init) return t.fail('fixture has no init container status');
  init.state = {
    waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=migrate' },
  };
  init.lastState = {
    terminated: { exitCode: 127, reason: 'Error', finishedAt: '2026-03-10T11:59:00Z' },
  };
  init.restartCount = 3;
  const c = selectContainer(p);
  t.is(c?.name, 'migrate');
  t.true(c?.init);
  t.is(
    podVerdict(p, c, NOW),
    'CrashLoopBackOff: init container migrate exited 127 (command not found) 3 times, last 1m ago',
  );
});

test('container selection: the issue-named container wins, an unknown name falls back', (t) => {
  t.is(selectContainer(pod('ledger-0'), 'ledger')?.name, 'ledger');
  t.is(selectContainer(pod('ledger-0'), 'no-such-container')?.name, 'metrics-exporter');
  t.is(selectContainer(pod('web-6b7f9c8d4-m9v2t'))?.name, 'web');
});

test('pod verdict: an image that cannot be pulled names the image', (t) => {
  const p = pod('web-6b7f9c8d4-m9v2t');
  const st = p.status?.containerStatuses?.[0];
  if (!st) return t.fail('fixture has no container status');
  st.ready = false;
  st.state = { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } };
  t.is(
    podVerdict(p, selectContainer(p), NOW),
    'ImagePullBackOff: container web cannot pull image registry.example.com/payments/web:3.2.1',
  );
});

test('pod verdict: an unschedulable pending pod says why', (t) => {
  const p = pod('web-6b7f9c8d4-m9v2t');
  p.status = {
    phase: 'Pending',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: '0/3 nodes are available: 3 Insufficient memory.',
      },
    ],
  };
  t.is(
    podVerdict(p, selectContainer(p), NOW),
    'Unschedulable: 0/3 nodes are available: 3 Insufficient memory.',
  );
});

test('owner: a ReplicaSet names its Deployment, a Job its CronJob, a StatefulSet itself', (t) => {
  t.is(describeOwner(pod('api-7d9f8b6c5d-x2x4q')), 'ReplicaSet api-7d9f8b6c5d (Deployment api)');
  t.is(describeOwner(pod('ledger-0')), 'StatefulSet ledger');
  const job = pod('web-6b7f9c8d4-m9v2t');
  job.metadata = {
    ...job.metadata,
    labels: {},
    ownerReferences: [
      { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-report-29512800', uid: 'u', controller: true },
    ],
  };
  t.is(describeOwner(job), 'Job nightly-report-29512800 (CronJob nightly-report)');
  job.metadata.ownerReferences = [];
  t.is(describeOwner(job), undefined);
});

test('log tail: the end of the log is kept, from a line boundary, without half characters', (t) => {
  const text = `${'a'.repeat(50)}\n${'b'.repeat(50)}\nlast line ✓\n`;
  t.is(keepTail(text, 1000), text);
  t.is(keepTail(text, 40), 'last line ✓\n');
  const noNewline = 'ü'.repeat(20);
  const cut = keepTail(noNewline, 7);
  t.false(cut.includes('\uFFFD'));
  t.true(Buffer.byteLength(cut) <= 7);
});

test('quantities: Kubernetes quantities parse and print in binary units', (t) => {
  t.is(parseQuantity('256Mi'), 256 * 2 ** 20);
  t.is(parseQuantity('3920m'), 3.92);
  t.is(parseQuantity('1e3'), 1000);
  t.is(parseQuantity('2k'), 2000);
  t.is(parseQuantity('bogus!'), undefined);
  t.is(formatBytes(parseQuantity('15052336Ki')), '14.4Gi');
  t.is(formatDuration(125_000), '2m');
  t.is(formatDuration(3 * 3600_000 + 20 * 60_000), '3h20m');
  t.is(formatDuration(57 * 86_400_000), '57d');
});

test('budget: a call still running when the budget is spent is abandoned with a Timeout error', async (t) => {
  const budget = startBudget(50);
  t.teardown(() => budget.done());
  let aborted = false;
  const never = budget.run(
    (signal) =>
      new Promise<string>((_, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      }),
  );
  const r = await attempt(never);
  t.false(r.ok);
  t.true(!r.ok && isKubeApiError(r.error) && r.error.reason === 'Timeout');
  t.true(aborted, 'the call saw the abort signal');
  const late = await attempt(budget.run(async () => 'too late'));
  t.false(late.ok);
  const fresh = startBudget(1000);
  t.deepEqual(await attempt(fresh.run(async () => 'in time')), { ok: true, value: 'in time' });
  fresh.done();
});
