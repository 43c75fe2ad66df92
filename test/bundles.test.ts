// Each function bundle starts with `node` alone, from a directory with no node_modules in
// reach, from the code cache its build trained, and handles a real event, including the
// lazily imported packages (the Kubernetes client's own file, the Slack client, ioredis).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CloudEvent as CE, type CloudEvent, HTTP } from 'cloudevents';
import { Redis } from 'ioredis';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { buildFunction, onFirstUse } from '../scripts/build.ts';
import { startPagerDutyStandin, startWebhookStandin } from './support/incident-standins.ts';
import { makeIssue } from './support/issue-factory.ts';
import { execKubeconfig, startKubeStandin } from './support/kube-standin.ts';
import { startRedisServer } from './support/redis-server.ts';
import { startRecordingSink } from './support/sink.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const PROBE = fileURLToPath(new URL('./support/module-probe.cjs', import.meta.url));

async function startBundle(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; child: ChildProcess; codeCache: string | undefined }> {
  const child = spawn(process.execPath, ['-r', PROBE, file], {
    cwd: dirname(file),
    env: { PATH: '/usr/bin:/bin', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const { port, codeCache } = await new Promise<{ port: number; codeCache: string | undefined }>(
    (resolve, reject) => {
      child.on('message', (m: { type?: string; port?: number; codeCache?: string }) => {
        if (m?.type === 'listening' && m.port) resolve({ port: m.port, codeCache: m.codeCache });
      });
      child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    },
  );
  return { url: `http://127.0.0.1:${port}/`, child, codeCache };
}

/** The built-ins a running bundle has loaded (Node's moduleLoadList), asked over IPC. */
function loadedModules(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string; list?: string[] }) => {
      if (m?.type !== 'modules') return;
      child.off('message', onMessage);
      resolve(m.list ?? []);
    };
    child.on('message', onMessage);
    child.send({ type: 'modules' });
  });
}

// What an in-cluster ingest never needs: its sink and Redis are plain http and redis://.
const UNNEEDED = /^NativeModule (tls|https|http2|internal\/deps\/undici\/undici)$/;
// alert-ingest without webhook credentials has no use for OpenSSL (ids are hashed by
// lib/platform/digest.ts, trace ids read from /dev/urandom), and nothing it runs needs node:fs/promises or
// node:assert, which packages in its bundle require (scripts/build.ts loads those on first use).
const UNNEEDED_BY_ALERT_INGEST = /^NativeModule (crypto|fs\/promises|assert)$/;
// What no function needs: perf_hooks (the idle release's clock is process.hrtime).
const UNNEEDED_ANYWHERE = /^NativeModule perf_hooks$/;

const postEvent = (url: string, event: CloudEvent<unknown>) => {
  const msg = HTTP.binary(event);
  return fetch(url, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
};

const replyOf = async (res: Response) =>
  decodeCloudEvent(Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));

test('bundles: every function bundle starts with node alone and handles a real event', async (t) => {
  const children: ChildProcess[] = [];
  const started: Array<() => Promise<void>> = [];
  // Registered first, so whatever did start is stopped even when a later start fails.
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.allSettled(started.map((stop) => stop()));
  });
  const out = await mkdtemp(join(tmpdir(), 'bundles-'));
  started.push(() => rm(out, { recursive: true, force: true }));
  const sink = await startRecordingSink();
  started.push(() => sink.close());
  const kube = await startKubeStandin();
  started.push(() => kube.close());
  const slack = await startSlackStandin();
  started.push(() => slack.close());
  const redis = await startRedisServer();
  started.push(() => redis.stop());
  t.false(existsSync(join(tmpdir(), 'node_modules')), 'no node_modules in reach of the bundles');
  const start = async (name: string, env: NodeJS.ProcessEnv) => {
    const s = await startBundle(await buildFunction(name, out), env);
    children.push(s.child);
    t.is((await fetch(`${s.url}health/readiness`)).status, 200, `${name} ready`);
    t.is(s.codeCache, 'accepted', `${name} started from the code cache its build trained`);
    return s;
  };

  const { url: ingest, child: ingestChild } = await start('alert-ingest', { K_SINK: sink.url });
  const webhook = readFileSync(
    new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url),
    'utf8',
  );
  const res = await fetch(ingest, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: webhook,
  });
  t.is(res.status, 200);
  t.is(sink.requests.length, 2);
  const ingestModules = await loadedModules(ingestChild);
  t.deepEqual(
    ingestModules.filter((m) => UNNEEDED.test(m)),
    [],
    'an http sink loads no TLS',
  );
  t.deepEqual(
    ingestModules.filter((m) => UNNEEDED_BY_ALERT_INGEST.test(m)),
    [],
    'alert-ingest loads neither node:crypto nor node:fs/promises nor node:assert',
  );
  t.deepEqual(
    ingestModules.filter((m) => UNNEEDED_ANYWHERE.test(m)),
    [],
    'alert-ingest loads no node:perf_hooks',
  );

  const podIssue = makeIssue({
    subject: { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments', container: 'app' },
    plan: ['enrichpod', 'dispatch'],
  });
  const { url: enrichPod } = await start('enrich-pod', { KUBECONFIG: kube.kubeconfigPath });
  const enriched = await postEvent(
    enrichPod,
    new CE({ type: 'dev.kubeincident.issue.created.v1', source: '/t', data: podIssue }),
  );
  t.is(enriched.status, 200);
  const enrichedEvent = await replyOf(enriched);
  t.is(enrichedEvent.nextstage, 'dispatch');
  const issue = enrichedEvent.data as typeof podIssue;
  t.true(
    issue.enrichments.some((e) =>
      e.blocks.some((b) => b.type === 'file' && b.content.includes('exiting with code 1')),
    ),
    'the enricher read the previous logs from the API server',
  );

  // A kubeconfig with an exec plugin: read through @kubernetes/client-node, which the bundle
  // keeps in a file of its own (k8s-client.mjs) and imports on this path alone.
  const requestsBefore = kube.requests.length;
  const { url: enrichNode } = await start('enrich-node', { KUBECONFIG: await execKubeconfig(kube) });
  const nodeIssue = makeIssue({
    subject: { kind: 'Node', name: 'worker-1' },
    plan: ['enrichnode', 'dispatch'],
  });
  const nodeRes = await postEvent(
    enrichNode,
    new CE({ type: 'dev.kubeincident.issue.created.v1', source: '/t', data: nodeIssue }),
  );
  t.is(nodeRes.status, 200);
  const nodeReply = await replyOf(nodeRes);
  t.is(nodeReply.nextstage, 'dispatch');
  t.true(
    kube.requests.slice(requestsBefore).some((r) => r.path.includes('/nodes/worker-1')),
    'enrich-node read the node through the Kubernetes client file',
  );

  const { url: events, child: eventsChild } = await start('k8s-event-ingest', { REDIS_URL: redis.url });
  const now = new Date().toISOString();
  const warning = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: 'api.17f',
      namespace: 'payments',
      uid: 'e-1',
      resourceVersion: '42',
      creationTimestamp: now,
    },
    involvedObject: { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments', uid: 'p-1' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container app',
    type: 'Warning',
    count: 4,
    firstTimestamp: now,
    lastTimestamp: now,
  };
  const evRes = await postEvent(
    events,
    new CE({ type: 'dev.knative.apiserver.resource.update', source: '/apiserver', data: warning }),
  );
  t.is(evRes.status, 200);
  t.is((await replyOf(evRes)).nextstage, 'enrichpod');
  const eventsModules = await loadedModules(eventsChild);
  t.deepEqual(
    eventsModules.filter((m) => UNNEEDED.test(m)),
    [],
    'ioredis over redis:// loads no TLS',
  );
  t.deepEqual(
    eventsModules.filter((m) => m === 'NativeModule crypto'),
    [],
    "ioredis's script SHA-1s load no node:crypto (lib/adapters/store/script-sha1.ts)",
  );
  t.true(
    readFileSync(join(out, 'k8s-event-ingest', 'main.cjs'), 'utf8').includes('__dictionaryMode'),
    "ioredis's command methods go onto a dictionary-mode prototype (scripts/build.ts)",
  );

  const { url: dispatch, child: dispatchChild } = await start('dispatch-slack', {
    REDIS_URL: redis.url,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    // Two alerts a moment apart: the channel's pace is not what this test is about.
    SLACK_CHANNEL_RATE: '1000',
    SLACK_CHANNEL_BURST: '1000',
  });
  // An alert with nothing to attach first: a plain post needs no node:zlib, which the Slack
  // client requires at load (scripts/build.ts loads it on first use). A file upload does load
  // it: the multipart body is encoded by the platform's Response, whose fetch code needs zlib.
  const plain = await postEvent(
    dispatch,
    new CE({
      type: 'dev.kubeincident.issue.created.v1',
      source: '/t',
      data: makeIssue({ fingerprint: 'f0f0f0f0f0f0f0f0', plan: ['dispatch'] }),
    }),
  );
  t.is(plain.status, 200);
  const dispatchModules = await loadedModules(dispatchChild);
  t.deepEqual(
    dispatchModules.filter((m) => m === 'NativeModule zlib'),
    [],
    'a Slack post without files loads no node:zlib',
  );
  t.deepEqual(
    dispatchModules.filter((m) => UNNEEDED_ANYWHERE.test(m)),
    [],
    'dispatch-slack loads no node:perf_hooks',
  );
  const sent = await postEvent(
    dispatch,
    new CE({
      type: 'dev.kubeincident.issue.enriched.v1',
      source: '/t',
      data: { ...issue, plan: ['dispatch'] },
    }),
  );
  t.is(sent.status, 200);
  t.is((await replyOf(sent)).type, 'dev.kubeincident.notification.sent.v1');
  t.is(
    (slack.messages.get('C0ALERTS') ?? []).filter((m) => !m.thread_ts).length,
    2,
    'Slack and ioredis chunks loaded',
  );
  t.true(slack.files.some((f) => f.content?.includes('exiting with code 1')));
  // The incident destination functions: each bundle reads its destination (and a secret file)
  // from the config file and delivers to its service.
  const hook = await startWebhookStandin('whsec_YnVuZGxlLXRlc3Qtc2VjcmV0');
  started.push(() => hook.close());
  const pd = await startPagerDutyStandin('R0UTINGKEYbundle0123456789abcdef');
  started.push(() => pd.close());
  const secretFile = join(out, 'routing-key');
  writeFileSync(secretFile, 'R0UTINGKEYbundle0123456789abcdef\n');
  const configFile = join(out, 'config.yaml');
  writeFileSync(
    configFile,
    [
      'destinations:',
      `  - {name: hook, type: webhook, url: "${hook.url}/in", secret: whsec_YnVuZGxlLXRlc3Qtc2VjcmV0}`,
      `  - {name: pd, type: pagerduty, apiUrl: "${pd.url}", routingKey: {file: "${secretFile}"}}`,
      'defaultRoute: {destinations: [hook, pd]}',
    ].join('\n'),
  );
  for (const name of ['dispatch-webhook', 'dispatch-pagerduty']) {
    const { url } = await start(name, { REDIS_URL: redis.url, CONFIG_FILE: configFile });
    const answer = await postEvent(
      url,
      new CE({
        type: 'dev.kubeincident.issue.enriched.v1',
        source: '/t',
        data: { ...issue, plan: ['dispatch'] },
      }),
    );
    t.is(answer.status, 200, name);
    t.is((await replyOf(answer)).type, 'dev.kubeincident.notification.sent.v1', name);
  }
  t.is(hook.events.length, 1, 'the signed webhook was accepted');
  t.is(pd.alerts.size, 1, 'PagerDuty took the trigger with the routing key read from its file');
  // ioredis sends a script by EVAL once per connection, then by the SHA-1 the bundle gave it
  // (scripts/build.ts computes ours). A wrong one would show as NOSCRIPT errors here.
  const info = new Redis(redis.url);
  try {
    const stats = `${await info.info('commandstats')}\n${await info.info('errorstats')}`;
    t.regex(stats, /cmdstat_evalsha:calls=[1-9]/, 'scripts went by SHA-1');
    t.notRegex(stats, /NOSCRIPT|cmdstat_evalsha:.*failed_calls=[1-9]/, 'and Redis knew every SHA-1');
  } finally {
    info.disconnect();
  }
});

test('bundles: a built-in loaded on first use keeps its shape: node:assert is still a function', (t) => {
  const loaded: string[] = [];
  const standIn = (id: string) => {
    const module = { exports: undefined as unknown };
    const require = (name: string) => {
      loaded.push(name);
      return process.getBuiltinModule(name);
    };
    new Function('module', 'require', onFirstUse(id))(module, require);
    return module.exports;
  };
  const assert = standIn('assert') as (value: unknown, message?: string) => void;
  t.deepEqual(loaded, [], 'nothing loads before the first use');
  t.notThrows(() => assert(true));
  t.throws(() => assert(false, 'held'), { message: 'held' });
  t.deepEqual(loaded, ['assert']);
  t.is(typeof (assert as unknown as { strictEqual: unknown }).strictEqual, 'function');
  const crypto = standIn('crypto') as { randomUUID: () => string };
  t.is(typeof crypto, 'object', 'a built-in that is not a function stays an object');
  t.regex(crypto.randomUUID(), /^[0-9a-f-]{36}$/);
});

test('bundles: a code cache V8 rejects (another Node, a damaged file) only means compiling from source', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'bundles-cache-'));
  const sink = await startRecordingSink();
  t.teardown(async () => {
    await sink.close();
    await rm(out, { recursive: true, force: true });
  });
  const entry = await buildFunction('alert-ingest', out);
  const cache = join(dirname(entry), 'main.cjs.cache');
  const trained = readFileSync(cache);
  t.true(trained.length > 100_000, `the training run cached compiled code (${trained.length} bytes)`);
  const webhook = readFileSync(
    new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url),
    'utf8',
  );
  for (const [damage, expected] of [
    [(b: Buffer) => b.fill(7, 0, 64), 'rejected'],
    [() => undefined, 'absent'],
  ] as const) {
    const damaged = damage(Buffer.from(trained));
    if (damaged) writeFileSync(cache, damaged);
    else rmSync(cache);
    const s = await startBundle(entry, { K_SINK: sink.url });
    t.teardown(() => void s.child.kill('SIGKILL'));
    t.is(s.codeCache, expected);
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: webhook,
    });
    t.is(res.status, 200, `a webhook is handled with the cache ${expected}`);
    s.child.kill('SIGKILL');
  }
});
