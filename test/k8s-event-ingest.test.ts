// k8s-event-ingest over HTTP: ApiServerSource CloudEvents (binary mode, as the broker delivers
// them) in, the issue CloudEvent as the reply, Redis state shared across a restart.
import test, { type ExecutionContext } from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { create } from '../functions/k8s-event-ingest/index.ts';
import { EventTypes, parseIssueData } from '../lib/domain/events.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { at, fixture, type SourceEvent } from './fixtures/apiserversource/load.ts';
import { captureLogs } from './support/logs.ts';
import { startRedisServer } from './support/redis-server.ts';

async function startIngest(t: ExecutionContext, env: Record<string, string>, seconds: { now: number }) {
  const mod = create(
    { CLUSTER_NAME: 'prod-eu', LOG_LEVEL: 'silent', ...env },
    { now: () => at(seconds.now) },
  );
  const logs = captureLogs('k8s-event-ingest');
  const fs = createFunctionServer(mod, { name: 'k8s-event-ingest', log: logs.log });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fs.drain(100);
    await mod.shutdown?.();
  };
  t.teardown(close);
  await mod.init?.();
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  return { url: `http://127.0.0.1:${port}/`, close, logs };
}

function post(url: string, e: SourceEvent): Promise<Response> {
  const { data, ...attrs } = e;
  const msg = HTTP.binary(new CloudEvent({ ...attrs, data }));
  return fetch(url, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
}

async function reply(res: Response) {
  const event = decodeCloudEvent(Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
  return { event, issue: parseIssueData(event.data) };
}

test('k8s-event-ingest: a BackOff Event is answered with an issue CloudEvent routed to enrich-pod', async (t) => {
  const clock = { now: 0 };
  const s = await startIngest(t, {}, clock);
  const res = await post(s.url, fixture('event-backoff-add'));
  t.is(res.status, 200);
  const { event, issue } = await reply(res);
  t.is(event.type, EventTypes.issueCreated);
  t.is(event.source, '/kubeincident/prod-eu/k8s-event-ingest');
  t.is(event.nextstage, 'enrichpod');
  t.is(event.issuetype, 'event');
  t.is(event.subjectkind, 'pod');
  t.is(event.partitionkey, issue.fingerprint);
  t.is(event.id, issue.id);
  t.is(issue.title, 'CrashLoopBackOff: Deployment shop/checkout');
});

test('k8s-event-ingest: ignored deliveries are acknowledged with no reply, bad ones are 400', async (t) => {
  const s = await startIngest(t, {}, { now: 0 });
  for (const name of [
    'event-normal-pulled',
    'event-dnsconfigforming',
    'event-backoff-delete',
    'pod-delete',
  ]) {
    const res = await post(s.url, fixture(name));
    t.true(res.status >= 200 && res.status < 300, name);
    t.is(res.headers.get('ce-id'), null, `${name}: no reply event`);
    t.is(await res.text(), '', name);
  }
  const broken = fixture('event-backoff-add');
  broken.data.metadata = 'not an object';
  t.is((await post(s.url, broken)).status, 400);
  const pod = fixture('pod-crashloop-update');
  pod.data.status.containerStatuses = [{ restartCount: 'three' }];
  t.is((await post(s.url, pod)).status, 400);
});

test('k8s-event-ingest: with Redis, repeats fold across a restart of the function and a resolved pod is deferred with Retry-After', async (t) => {
  const redis = await (async () => {
    const holder: { stop?: () => Promise<void> } = {};
    t.teardown(async () => holder.stop?.());
    const r = await startRedisServer();
    holder.stop = r.stop;
    return r;
  })();
  const clock = { now: 0 };
  const first = await startIngest(t, { REDIS_URL: redis.url }, clock);
  const a = await reply(await post(first.url, fixture('event-backoff-add')));
  await first.close();

  const second = await startIngest(t, { REDIS_URL: redis.url }, clock);
  // Redelivered after the restart: the same issue, not a new count.
  const again = await reply(await post(second.url, fixture('event-backoff-add')));
  t.is(again.issue.id, a.issue.id);
  clock.now = 5;
  const b = await reply(await post(second.url, fixture('event-backoff-update')));
  t.is(b.issue.fingerprint, a.issue.fingerprint);
  t.is(b.issue.occurrences?.count, 2);
  t.is(b.event.nextstage, 'dispatch');
  clock.now = 6;
  const pod = await reply(await post(second.url, fixture('pod-crashloop-update')));
  t.is(pod.issue.occurrences?.count, 3);

  clock.now = 41;
  const early = await post(second.url, fixture('pod-ready-update'));
  t.is(early.status, 429, 'the broker brings the Ready update back once it has held');
  t.is(early.headers.get('retry-after'), '289');
  clock.now = 331;
  const resolved = await reply(await post(second.url, fixture('pod-ready-update')));
  t.is(resolved.event.issuestatus, 'resolved');
  t.is(resolved.issue.fingerprint, a.issue.fingerprint);
});

test('k8s-event-ingest: the configuration silences event issues, runs event workflows, and can turn event handling off', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'events-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const silenced = join(dir, 'silenced.yaml');
  await writeFile(silenced, 'silences: [{ name: no-backoff, matchers: [\'reason="CrashLoopBackOff"\'] }]');
  const workflow = join(dir, 'workflow.yaml');
  await writeFile(
    workflow,
    'customWorkflows:\n  - name: pod-events\n    triggers: [{ on: event, kind: Pod }]\n    actions: [{ mention: { groups: [S0ONCALL] } }, { podLogs: { tail: 42 } }]',
  );
  const off = join(dir, 'off.yaml');
  await writeFile(off, 'workflows: { eventHandling: { enabled: false } }');

  const plain = await startIngest(t, {}, { now: 0 });
  const { issue } = await reply(await post(plain.url, fixture('event-backoff-add')));
  const reason = issue.labels.reason ?? '';
  t.truthy(reason);

  await writeFile(silenced, `silences: [{ name: quiet, matchers: ['reason="${reason}"'] }]`);
  const s = await startIngest(t, { CONFIG_FILE: silenced }, { now: 0 });
  const res = await post(s.url, fixture('event-backoff-add'));
  t.is(res.status, 204, 'silenced: acknowledged with no reply');
  t.true(s.logs.lines.some((l) => l.msg === 'event issue silenced' && l.silence === 'quiet'));

  const w = await startIngest(t, { CONFIG_FILE: workflow }, { now: 0 });
  const planned = (await reply(await post(w.url, fixture('event-backoff-add')))).issue;
  t.deepEqual(planned.actions?.workflows, ['pod-events']);
  t.deepEqual(planned.actions?.mentions, { users: [], groups: ['S0ONCALL'] });
  t.deepEqual(planned.actions?.podLogs, { tail: 42 });

  const o = await startIngest(t, { CONFIG_FILE: off }, { now: 0 });
  t.is((await post(o.url, fixture('event-backoff-add'))).status, 204);
});
