// enrich-pod end to end at the Kubernetes boundary: the real client-node adapter talks TLS to the
// stand-in API server serving real-shaped fixtures; API failures become notes, never throws.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { type Block, Enrichment, type FileBlock, type Issue, type TableBlock } from '../lib/domain/issue.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS: PodEnrichOptions = { logTailLines: 100, logLimitBytes: 16 * 1024, timeBudgetMs: 4000, now: NOW };

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

function podIssue(name: string, container?: string): Issue {
  return makeIssue({
    subject: { kind: 'Pod', name, namespace: 'payments', ...(container === undefined ? {} : { container }) },
  });
}

const tables = (e: Enrichment) => e.blocks.filter((b): b is TableBlock => b.type === 'table');
const table = (e: Enrichment, title: string) => tables(e).find((b) => b.title === title);
const file = (e: Enrichment) => e.blocks.find((b): b is FileBlock => b.type === 'file');
const notes = (e: Enrichment) =>
  e.blocks
    .filter((b): b is Extract<Block, { type: 'markdown' }> => b.type === 'markdown')
    .map((b) => b.text)
    .join('\n');

test('enrich-pod: a crash-looping pod gets its previous container logs and a CrashLoopBackOff verdict', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), reader, OPTS);
  t.is(e.source, 'enrich-pod');
  t.is(e.title, 'Pod payments/api-7d9f8b6c5d-x2x4q');
  t.is(e.about, 'api-7d9f8b6c5d-x2x4q', 'files cut from it are named after the pod');
  t.notThrows(() => Enrichment.parse(e), 'the enrichment fits the Issue schema');
  t.is(e.verdict, 'CrashLoopBackOff: container app exited 1 (application error) 5 times, last 2m ago');
  const logs = file(e);
  t.truthy(logs);
  t.regex(logs?.content ?? '', /FATAL could not connect to database/);
  t.is(logs?.filename, 'api-7d9f8b6c5d-x2x4q app previous log.txt');
  t.falsy(logs?.truncated);
  const logReq = kube.requests.findLast(
    (r) => r.path === '/api/v1/namespaces/payments/pods/api-7d9f8b6c5d-x2x4q/log',
  );
  t.is(logReq?.query.previous, 'true');
  t.is(logReq?.query.container, 'app');
  t.is(logReq?.query.tailLines, '100');

  const containers = table(e, 'Containers');
  t.deepEqual(containers?.rows[0]?.slice(0, 6), [
    'app',
    'no',
    '5',
    'Waiting',
    'CrashLoopBackOff',
    '1 (application error)',
  ]);
  t.regex(containers?.rows[0]?.[6] ?? '', /^Error 2026-03-10T11:57:58Z \(2m ago\)$/);
  const pod = table(e, 'Pod');
  t.deepEqual(
    pod?.rows.find((r) => r[0] === 'Owner'),
    ['Owner', 'ReplicaSet api-7d9f8b6c5d (Deployment api)'],
  );
  t.deepEqual(
    pod?.rows.find((r) => r[0] === 'Node'),
    ['Node', 'worker-1'],
  );
  t.deepEqual(table(e, 'Requests and limits')?.rows, [['app', '250m', '1', '256Mi', '512Mi']]);

  const events = table(e, 'Recent events');
  t.deepEqual(
    events?.rows.map((r) => [r[0], r[1], r[3]]),
    [
      ['Warning', 'BackOff', '23'],
      ['Warning', 'Unhealthy', '11'],
      ['Normal', 'Pulled', '6'],
    ],
  );
  t.is(notes(e), '');
});

test('enrich-pod: an OOM-killed container is named with its memory limit', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('worker-5c8d7f9b4-k7wzp'), reader, OPTS);
  t.is(e.verdict, 'OOMKilled: container worker hit its 256Mi memory limit, restarted 3 times, last 1m ago');
  t.regex(table(e, 'Containers')?.rows[0]?.[5] ?? '', /^137 \(SIGKILL: out of memory\)$/);
  t.regex(file(e)?.content ?? '', /reconciling batch against ledger/);
  t.regex(file(e)?.title ?? '', /previous instance, OOMKilled at 2026-03-10T11:58:27Z/);
});

test('enrich-pod: a healthy pod gets its current logs and a Healthy verdict', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('web-6b7f9c8d4-m9v2t'), reader, OPTS);
  t.is(e.verdict, 'Healthy: pod is Running, 1/1 containers ready');
  t.is(file(e)?.filename, 'web-6b7f9c8d4-m9v2t web log.txt');
  t.regex(file(e)?.content ?? '', /POST \/checkout\/confirm HTTP\/1.1" 502/);
  const logReq = kube.requests.findLast((r) => r.path.endsWith('/pods/web-6b7f9c8d4-m9v2t/log'));
  t.is(logReq?.query.previous, 'false');
  t.is(table(e, 'Recent events'), undefined);
});

test('enrich-pod: in a multi-container pod the troubled sidecar is picked, init containers are listed', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('ledger-0'), reader, OPTS);
  t.regex(
    e.verdict ?? '',
    /^NotReady: container metrics-exporter is running but not ready, restarted 2 times/,
  );
  t.regex(e.verdict ?? '', /last exit 2 \(application error\)/);
  t.deepEqual(
    table(e, 'Containers')?.rows.map((r) => r[0]),
    ['migrate (init)', 'ledger', 'metrics-exporter'],
  );
  t.deepEqual(
    table(e, 'Pod')?.rows.find((r) => r[0] === 'Owner'),
    ['Owner', 'StatefulSet ledger'],
  );
  t.regex(file(e)?.content ?? '', /panic: metric family/);
});

test('enrich-pod: the container named by the issue wins over the most troubled one', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('ledger-0', 'ledger'), reader, OPTS);
  t.is(file(e)?.filename, 'ledger-0 ledger log.txt');
  t.regex(file(e)?.content ?? '', /snapshot written/);
});

test('enrich-pod: logs longer than the cap keep their end and are marked truncated', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), reader, {
    ...OPTS,
    logLimitBytes: 200,
  });
  const logs = file(e);
  t.true(logs?.truncated);
  t.true(Buffer.byteLength(logs?.content ?? '') <= 200);
  t.regex(logs?.content ?? '', /exiting with code 1\n$/);
});

test('enrich-pod: when the previous instance is gone (400) the current logs are shown instead', async (t) => {
  const fixtures = await loadKubeFixtures();
  const found = fixtures.pods.find((p) => p.metadata.name === 'web-6b7f9c8d4-m9v2t');
  if (!found) return t.fail('fixture pod missing');
  const web = structuredClone(found);
  // Restarted once, but its previous instance was lost (pod moved, node rebooted): no lastState.
  web.status.containerStatuses[0].restartCount = 1;
  const own = await startKubeStandin({ pods: [web], events: [] });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('web-6b7f9c8d4-m9v2t'), reader, OPTS);
  t.deepEqual(
    own.requests.filter((r) => r.path.endsWith('/log')).map((r) => r.query.previous),
    ['true', 'false'],
  );
  t.is(file(e)?.filename, 'web-6b7f9c8d4-m9v2t web log.txt');
  t.is(notes(e), '');
});

test('enrich-pod: forbidden logs become a note and the rest of the enrichment is kept', async (t) => {
  const own = await startKubeStandin({ faults: [{ path: /\/log$/, status: 403 }] });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), reader, OPTS);
  t.is(notes(e), 'Could not read logs of container app: forbidden (403)');
  t.is(file(e), undefined);
  t.regex(e.verdict ?? '', /^CrashLoopBackOff/);
  t.truthy(table(e, 'Containers'));
  t.truthy(table(e, 'Recent events'));
});

test('enrich-pod: a pod that no longer exists gives a not-found note and verdict', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-zzzzz'), reader, OPTS);
  t.is(e.verdict, 'Pod payments/api-7d9f8b6c5d-zzzzz not found: it was deleted or replaced');
  t.is(notes(e), 'Could not read the pod: not found (404)');
  t.is(tables(e).length, 0);
});

test('enrich-pod: a slow API server is cut off by the time budget and the enrichment still returns', async (t) => {
  const own = await startKubeStandin({ faults: [{ path: /\/pods\//, delayMs: 5000 }] });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath, timeoutMs: 3000 });
  let settled = false;
  const pending = enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), reader, { ...OPTS, timeBudgetMs: 400 }).finally(
    () => {
      settled = true;
    },
  );
  // Nothing answers the pod read before the 5 s delay: only the budget can end the wait.
  const { enrichment: e } = await pending;
  t.true(settled);
  t.is(notes(e), 'Could not read the pod: time budget of 400ms spent');
  t.truthy(table(e, 'Recent events'), 'events were not delayed, so they are kept');
  t.is(e.verdict, undefined);
});

test('enrich-pod: a per-call timeout shorter than the budget is reported as such', async (t) => {
  const own = await startKubeStandin({ faults: [{ path: /\/events$/, delayMs: 5000 }] });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath, timeoutMs: 300 });
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), reader, OPTS);
  t.is(notes(e), 'Could not list events: timed out after 0.3s');
  t.truthy(file(e));
});

test('enrich-pod: without cluster access the enrichment says so instead of failing', async (t) => {
  const { enrichment: e } = await enrichPod(podIssue('api-7d9f8b6c5d-x2x4q'), undefined, OPTS);
  t.is(notes(e), 'No cluster access: pod details, events and logs were not gathered.');
  t.is(e.verdict, undefined);
});

test('enrich-pod: an issue that is not about a pod is left alone', async (t) => {
  const issue = makeIssue({ subject: { kind: 'Node', name: 'worker-1' } });
  const { enrichment: e } = await enrichPod(issue, undefined, OPTS);
  t.regex(notes(e), /does not name a pod/);
});
