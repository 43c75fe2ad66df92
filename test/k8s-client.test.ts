// The real client-node adapter against the TLS stand-in API server: requests on the wire,
// Status errors mapped to KubeApiError, per-call timeouts, and "is there a cluster at all".
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  createClientNodeReader,
  createKubeReader,
  createKubeReaderFromEnv,
  detectClusterAccess,
} from '../lib/adapters/k8s/client.ts';
import { createRestKubeReader, inClusterRest } from '../lib/adapters/k8s/rest.ts';
import type { KubeReader } from '../lib/domain/kube.ts';
import { isKubeApiError, type KubeApiError } from '../lib/domain/kube-errors.ts';
import {
  execKubeconfig,
  type KubeStandin,
  loadKubeFixtures,
  type Obj,
  startKubeStandin,
} from './support/kube-standin.ts';

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

const CRASH = 'api-7d9f8b6c5d-x2x4q';
// Where the timeout is not what a test is about: on a loaded machine the first TLS handshake
// with the stand-in can take longer than the production default (5 s).
const SLOW_MACHINE_MS = 30_000;

test('k8s client: reads a pod over TLS with the kubeconfig CA and bearer token', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const pod = await reader.readPod('payments', CRASH);
  t.is(pod.metadata?.uid, '3f6c2a8e-9b1d-4c57-a0e2-7d5b9f14c6a3');
  t.is(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
  const req = kube.requests.find((r) => r.path === `/api/v1/namespaces/payments/pods/${CRASH}`);
  t.is(req?.authorization, `Bearer ${kube.token}`);
});

test('k8s client: log reads send container, previous, tailLines and limitBytes', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const text = await reader.readPodLog('payments', CRASH, {
    container: 'app',
    previous: true,
    tailLines: 2,
    limitBytes: 4096,
  });
  t.is(text.trimEnd().split('\n').length, 2);
  t.regex(text, /could not connect to database/);
  const req = kube.requests.findLast((r) => r.path.endsWith(`/pods/${CRASH}/log`));
  t.deepEqual(req?.query, { container: 'app', previous: 'true', tailLines: '2', limitBytes: '4096' });
});

test('k8s client: events are listed with an involvedObject field selector', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const events = await reader.listEvents('payments', { name: CRASH, namespace: 'payments', kind: 'Pod' });
  t.deepEqual(events.items.map((e) => e.reason).sort(), ['BackOff', 'Pulled', 'Unhealthy']);
  const req = kube.requests.findLast((r) => r.path === '/api/v1/namespaces/payments/events');
  t.is(
    req?.query.fieldSelector,
    `involvedObject.name=${CRASH},involvedObject.namespace=payments,involvedObject.kind=Pod`,
  );
  const nodeEvents = await reader.listEvents('default', { name: 'worker-2', kind: 'Node' });
  t.deepEqual(
    nodeEvents.items.map((e) => e.reason),
    ['NodeNotReady', 'NodeNotSchedulable'],
  );
});

test('k8s client: pods on a node are listed with a limit and report when more remain', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const page = await reader.listPodsOnNode('worker-1', { limit: 2 });
  t.is(page.items.length, 2);
  t.true(page.more);
  const all = await reader.listPodsOnNode('worker-1', { limit: 100 });
  t.is(all.items.length, 4);
  t.false(all.more);
  t.is(
    kube.requests.findLast((r) => r.path === '/api/v1/pods')?.query.fieldSelector,
    'spec.nodeName=worker-1',
  );
});

test('k8s client: a missing pod is a KubeApiError NotFound (404) carrying the Status message', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const err = await t.throwsAsync(reader.readPod('payments', 'gone-123'));
  t.true(isKubeApiError(err));
  const k = err as KubeApiError;
  t.is(k.code, 404);
  t.is(k.reason, 'NotFound');
  t.is(k.detail, 'pods "gone-123" not found');
  t.false(k.retryable);
  t.truthy(k.cause);
});

test('k8s client: previous logs of a container that never restarted answer 400 BadRequest', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS });
  const err = (await t.throwsAsync(
    reader.readPodLog('payments', 'web-6b7f9c8d4-m9v2t', { container: 'web', previous: true }),
  )) as KubeApiError;
  t.is(err.code, 400);
  t.is(err.reason, 'BadRequest');
  t.is(err.detail, 'previous terminated container "web" in pod "web-6b7f9c8d4-m9v2t" not found');
});

test('k8s client: a forbidden read is Forbidden (403) and a slow one times out as retryable', async (t) => {
  const own = await startKubeStandin({
    faults: [
      { path: /\/log$/, status: 403 },
      { path: /^\/api\/v1\/nodes\//, delayMs: 3000 },
    ],
  });
  t.teardown(() => own.close());
  const reader = await createKubeReader({ kubeconfigPath: own.kubeconfigPath, timeoutMs: 300 });
  const forbidden = (await t.throwsAsync(
    reader.readPodLog('payments', CRASH, { container: 'app' }),
  )) as KubeApiError;
  t.is(forbidden.code, 403);
  t.is(forbidden.reason, 'Forbidden');
  t.regex(forbidden.detail ?? '', /cannot get resource "pods\/log"/);
  const slow = (await t.throwsAsync(reader.readNode('worker-1'))) as KubeApiError;
  t.is(slow.reason, 'Timeout');
  t.is(slow.publicMessage, 'timed out after 0.3s');
  t.true(slow.retryable);
  t.is(slow.status, 503);
});

test('k8s client: a server certificate not signed by the kubeconfig CA is refused', async (t) => {
  const other = await startKubeStandin({ pods: [], events: [], nodes: [], logs: {} });
  t.teardown(() => other.close());
  // The first stand-in's kubeconfig, pointed at a server whose certificate another CA signed.
  const config = (await readFile(kube.kubeconfigPath, 'utf8')).replace(kube.url, other.url);
  const path = join(tmpdir(), `kubeconfig-wrong-ca-${process.pid}`);
  await writeFile(path, config);
  const reader = await createKubeReader({ kubeconfigPath: path });
  const err = (await t.throwsAsync(reader.readPod('payments', CRASH))) as KubeApiError;
  t.is(err.reason, 'NetworkError');
  t.is(other.requests.length, 0);
});

test('k8s client: no KUBECONFIG, no ~/.kube/config and no service account means no cluster', async (t) => {
  const none = (_: string) => false;
  t.is(detectClusterAccess({ env: {}, exists: none, home: '/nonexistent' }), undefined);
  t.is(
    detectClusterAccess({
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
      exists: none,
      home: '/nonexistent',
    }),
    undefined,
  );
  t.deepEqual(
    detectClusterAccess({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, exists: () => true, home: '/h' }),
    { mode: 'kubeconfig', path: '/h/.kube/config' },
  );
  t.deepEqual(
    detectClusterAccess({
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
      exists: (p) => p.startsWith('/var/run/secrets'),
      home: '/h',
    }),
    { mode: 'in-cluster' },
  );
  t.is(await createKubeReaderFromEnv({ env: { HOME: '/nonexistent' }, exists: none }), undefined);
});

test('k8s client: KUBECONFIG in the given env selects the stand-in, whatever process.env says', async (t) => {
  const reader = await createKubeReaderFromEnv({
    env: { KUBECONFIG: kube.kubeconfigPath },
    timeoutMs: SLOW_MACHINE_MS,
  });
  t.truthy(reader);
  const node = await reader?.readNode('worker-2');
  t.true(node?.spec?.unschedulable);
});

test('k8s client: only kubeconfigs that need it (an exec plugin here) load @kubernetes/client-node', async (t) => {
  // A fresh process records every module it resolves; type-only imports must leave no trace.
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    const loaded = () => seen.some((s) => s.includes('@kubernetes/client-node'));
    registerHooks({ resolve(spec, ctx, next) { seen.push(spec); return next(spec, ctx); } });
    await import('./lib/adapters/k8s/client.ts');
    await import('./lib/stages/enrich/pod.ts');
    await import('./lib/stages/enrich/node.ts');
    const before = loaded();
    const { createKubeReader } = await import('./lib/adapters/k8s/client.ts');
    await createKubeReader({ kubeconfigPath: process.argv[1] }).catch(() => {});
    const token = loaded();
    await createKubeReader({ kubeconfigPath: process.argv[2] }).catch(() => {});
    console.log(JSON.stringify({ before, token, exec: loaded() }));
  `;
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', script, kube.kubeconfigPath, await execKubeconfig(kube)],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' },
  );
  t.deepEqual(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'), { before: false, token: false, exec: true });
});

test('k8s client: a kubeconfig with an exec plugin reads through @kubernetes/client-node', async (t) => {
  const reader = await createKubeReader({ kubeconfigPath: await execKubeconfig(kube) });
  const pod = await reader.readPod('payments', CRASH);
  t.is(pod.metadata?.uid, '3f6c2a8e-9b1d-4c57-a0e2-7d5b9f14c6a3');
  const missing = (await t.throwsAsync(reader.readPod('payments', 'nope'))) as KubeApiError;
  t.is(missing.reason, 'NotFound');
});

test('k8s client: in the cluster, the service account token, CA and KUBERNETES_SERVICE_* are used', async (t) => {
  const dir = join(tmpdir(), `serviceaccount-${process.pid}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'token'), `${kube.token}\n`);
  await writeFile(join(dir, 'ca.crt'), kube.caPem);
  const { port } = new URL(kube.url);
  const cluster = inClusterRest({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, dir);
  t.is(cluster.server, `https://127.0.0.1:${port}`);
  const node = await createRestKubeReader(cluster, 5000).readNode('worker-2');
  t.true(node.spec?.unschedulable);
  t.is(kube.requests.at(-1)?.authorization, `Bearer ${kube.token}`);
  t.is(
    inClusterRest({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir).server,
    'https://[fd00::1]:443',
  );
});

test('k8s client: requests share one pooled connection instead of a new agent (and TLS handshake) each', async (t) => {
  const standin = await startKubeStandin();
  t.teardown(() => standin.close());
  const reader = await createKubeReader({ kubeconfigPath: standin.kubeconfigPath });
  for (let i = 0; i < 20; i++) await reader.readPod('payments', 'api-7d9f8b6c5d-x2x4q');
  t.true(standin.connections() <= 2, `${standin.connections()} TLS connections for 20 sequential reads`);
  // With client-node's credentials too (its own agent would open a connection per request).
  const before = standin.connections();
  const exec = await createKubeReader({ kubeconfigPath: await execKubeconfig(standin) });
  for (let i = 0; i < 20; i++) await exec.readPod('payments', 'api-7d9f8b6c5d-x2x4q');
  const opened = standin.connections() - before;
  t.true(opened <= 2, `${opened} TLS connections for 20 sequential reads with an exec plugin`);
});

/** Every read of the KubeReader port, once, in a fixed order. */
const everyRead = async (r: KubeReader) => [
  await r.readPod('payments', CRASH),
  await r.readPodLog('payments', CRASH, { container: 'app', previous: true, tailLines: 5 }),
  await r.listEvents('payments', { name: CRASH, namespace: 'payments', kind: 'Pod' }),
  await r.readNode('worker-2'),
  await r.listPodsOnNode('worker-1', { limit: 2 }),
  await r.listPods('shop', 'app.kubernetes.io/name=checkout', { limit: 3 }),
  await r.readWorkload('Deployment', 'shop', 'checkout'),
  await r.readWorkload('ReplicaSet', 'shop', 'checkout-6f8d9c7b5'),
  await r.readWorkload('StatefulSet', 'shop', 'search'),
  await r.readWorkload('DaemonSet', 'kube-system', 'node-agent'),
  await r.readWorkload('Job', 'shop', 'nightly-report-29541600'),
  await r.readPersistentVolumeClaim('shop', 'data-search-0'),
];

test('k8s readers: rest.ts and client-node credentials return identical objects, the JSON the API server sent', async (t) => {
  const fixtures = await loadKubeFixtures();
  const backOff = fixtures.events.find((e) => e.reason === 'BackOff' && e.involvedObject.name === CRASH);
  // A MicroTime with microseconds, a series and a field newer than client-node's models: a Date
  // would drop the microseconds, client-node's deserializer the unknown field.
  const micro: Obj = {
    ...structuredClone(backOff),
    metadata: { ...backOff?.metadata, name: `${CRASH}.micro`, uid: 'micro-1' },
    eventTime: '2026-03-10T11:58:41.123456Z',
    series: { count: 4, lastObservedTime: '2026-03-10T11:59:02.654321Z' },
    reportingInstance: 'kubelet-worker-1',
    futureField: { addedIn: 'v1.99' },
  };
  const own = await startKubeStandin({ ...fixtures, events: [...fixtures.events, micro] });
  t.teardown(() => own.close());
  const opts = { kubeconfigPath: own.kubeconfigPath, timeoutMs: SLOW_MACHINE_MS };
  const rest = await everyRead(await createKubeReader(opts));
  const clientNode = await everyRead(await createClientNodeReader(opts));
  const exec = await everyRead(
    await createKubeReader({ ...opts, kubeconfigPath: await execKubeconfig(own) }),
  );
  t.deepEqual(clientNode, rest, 'client-node credentials, same kubeconfig');
  t.deepEqual(exec, rest, 'an exec plugin kubeconfig');

  // The shape is the wire's: objects as the fixtures hold them, timestamps as the strings sent.
  const fixturePod = fixtures.pods.find((p) => p.metadata.name === CRASH);
  t.deepEqual(rest[0], fixturePod);
  const events = rest[2] as Awaited<ReturnType<KubeReader['listEvents']>>;
  const got = events.items.find((e) => e.metadata?.name === `${CRASH}.micro`);
  // List items come without kind and apiVersion, as kube-apiserver sends them.
  const { kind: _kind, apiVersion: _apiVersion, ...listed } = micro;
  t.deepEqual(got, listed);
  t.is(got?.eventTime, '2026-03-10T11:58:41.123456Z');
  t.is(typeof (rest[0] as Awaited<ReturnType<KubeReader['readPod']>>).metadata?.creationTimestamp, 'string');
});
