// Change tracking (the babysitter) through k8s-event-ingest over HTTP with a real Redis: a
// recorded Deployment update sequence (first sight, a new image, status and replicas only,
// redeliveries), the change issue for its rule's destination, the line a later incident gets
// within the window and not after it, and no secret value anywhere in what leaves or is stored.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { Redis } from 'ioredis';
import { create } from '../functions/k8s-event-ingest/index.ts';
import { EventTypes, parseIssueData } from '../lib/domain/events.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { at, fixture, type SourceEvent } from './fixtures/apiserversource/load.ts';
import { captureLogs } from './support/logs.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

const SECRETS = ['s3cr3t-Pa55w0rd', 'n3w-Pa55w0rd', 'tok_live_9f8e7d6c5b4a'];
const CONFIG = `
destinations:
  - { name: deploys, type: terminal }
changeTracking:
  rules:
    - name: payments
      kinds: [Deployment]
      namespace: shop
      matchers: ['team="payments"']
      destination: deploys
`;

async function redisFor(t: ExecutionContext): Promise<RedisServer> {
  const holder: { stop?: () => Promise<void> } = {};
  t.teardown(async () => holder.stop?.());
  const r = await startRedisServer();
  holder.stop = r.stop;
  return r;
}

async function startIngest(t: ExecutionContext, redis: RedisServer, clock: { now: number }, config = CONFIG) {
  const dir = await mkdtemp(join(tmpdir(), 'change-tracking-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  await writeFile(file, config);
  const mod = create(
    { CLUSTER_NAME: 'prod-eu', LOG_LEVEL: 'silent', REDIS_URL: redis.url, CONFIG_FILE: file },
    { now: () => at(clock.now) },
  );
  const logs = captureLogs('k8s-event-ingest');
  const fs = createFunctionServer(mod, { name: 'k8s-event-ingest', log: logs.log });
  t.teardown(async () => {
    await fs.drain(100);
    await mod.shutdown?.();
  });
  await mod.init?.();
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  const url = `http://127.0.0.1:${port}/`;
  return {
    logs,
    /** The issue replied, or undefined for an acknowledged delivery with no reply. */
    async deliver(
      e: SourceEvent,
    ): Promise<{ status: number; retryAfter?: string | null; issue?: Issue; event?: CloudEvent<unknown> }> {
      const { data, ...attrs } = e;
      const msg = HTTP.binary(new CloudEvent({ ...attrs, data }));
      const res = await fetch(url, {
        method: 'POST',
        headers: msg.headers as Record<string, string>,
        body: msg.body as string,
      });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || body.length === 0)
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      const event = decodeCloudEvent(Object.fromEntries(res.headers), body);
      return { status: res.status, event, issue: parseIssueData(event.data) };
    },
  };
}

/** The next version of a Deployment as the API server sends it: new resourceVersion, maybe generation. */
function version(
  base: SourceEvent,
  rv: number,
  edit: (d: SourceEvent['data']) => void,
  bump = true,
): SourceEvent {
  const next = structuredClone(base);
  next.id = crypto.randomUUID();
  next.data.metadata.resourceVersion = String(rv);
  if (bump) next.data.metadata.generation += 1;
  edit(next.data);
  return next;
}

/** The recorded rollout: v1 (first sight), v2 a new image and env, v3 status only, v4 replicas only. */
function rollout() {
  const v1 = fixture('deployment-checkout-update');
  const v2 = version(v1, 52101, (d) => {
    const c = d.spec.template.spec.containers[0];
    c.image = 'registry.example.com/shop/checkout:2.4.1';
    c.env[1].value = 'n3w-Pa55w0rd';
    c.env.push({ name: 'CACHE_MODE', value: 'lazy' });
    d.status.updatedReplicas = 1;
  });
  const v3 = version(
    v2,
    52150,
    (d) => {
      d.status.readyReplicas = 3;
      d.status.updatedReplicas = 5;
      d.status.observedGeneration = 5;
    },
    false,
  );
  const v4 = version(v3, 52200, (d) => {
    d.spec.replicas = 8;
  });
  return { v1, v2, v3, v4 };
}

async function storedText(redis: RedisServer): Promise<string> {
  const client = new Redis(redis.url);
  try {
    const keys = await client.keys('*');
    const values = await Promise.all(keys.map((k) => client.get(k).catch(() => '')));
    return keys.map((k, i) => `${k}=${values[i]}`).join('\n');
  } finally {
    client.disconnect();
  }
}

test('change tracking: first sight stores, a new image emits one change issue, status and replicas emit nothing, redeliveries nothing new', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: -600 };
  const s = await startIngest(t, redis, clock);
  const { v1, v2, v3, v4 } = rollout();

  const first = await s.deliver(v1);
  t.is(first.status, 204, 'acknowledged with no reply');
  t.is(first.issue, undefined, 'first sight of a workload only keeps its template');
  t.regex(await storedText(redis), /ki:\{wl\|prod-eu\|5a7e3c21-0b9d-4f6e-8a14-9c2d7b3e6f58\}:seen/);

  clock.now = -400;
  const changed = await s.deliver(v2);
  const issue = changed.issue as Issue;
  t.is(changed.event?.type, EventTypes.issueCreated);
  t.is(changed.event?.nextstage, 'dispatch');
  t.is(changed.event?.issuetype, 'change');
  t.is(issue.type, 'change');
  t.is(
    issue.title,
    'Deployment shop/checkout changed: image checkout:2.4.0 to 2.4.1, env CACHE_MODE added, env DB_PASSWORD changed',
  );
  t.is(issue.labels.changedestination, 'deploys');
  t.deepEqual(issue.plan, ['dispatch']);
  t.is(issue.startsAt, at(-400).toISOString());
  const details = issue.enrichments[0]?.blocks[0];
  t.deepEqual(details, {
    type: 'list',
    items: [
      'api: image registry.example.com/shop/checkout:2.4.0 to registry.example.com/shop/checkout:2.4.1',
      'api: env CACHE_MODE=lazy added',
      'api: env DB_PASSWORD=[REDACTED] to DB_PASSWORD=[REDACTED]',
    ],
  });

  // The broker redelivers v2 (the reply was lost): the same issue again, which dispatch drops
  // as a duplicate if the first got through.
  clock.now = -390;
  const again = await s.deliver({ ...v2, id: crypto.randomUUID() });
  t.is(again.issue?.id, issue.id);
  t.is(again.issue?.title, issue.title);

  clock.now = -380;
  t.is((await s.deliver(v3)).issue, undefined, 'a status update changes no template');
  t.is((await s.deliver(v4)).issue, undefined, 'a replicas change changes no template');
  t.is((await s.deliver(v3)).issue, undefined, 'an older version arriving late is not news');
  t.is((await s.deliver(v4)).issue, undefined, 'nor is the redelivery of one that changed nothing');
  t.is((await s.deliver(v1)).issue, undefined, 'nor an old version with the old image');

  const everything = [JSON.stringify([issue, again.issue]), await storedText(redis)].join('\n');
  for (const secret of SECRETS) t.false(everything.includes(secret), `${secret} leaked`);
  t.false(everything.includes('checkout-db/url'), 'a Secret reference is named, never resolved');
});

test('change tracking: an incident on a pod of the workload within the window links to the change, not after it', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: -600 };
  const s = await startIngest(t, redis, clock);
  const { v1, v2 } = rollout();
  await s.deliver(v1);
  clock.now = -400;
  const change = await s.deliver(v2);
  t.is(change.issue?.type, 'change');

  // checkout-7d9f8b6c5-x2k4q crash-loops at 09:59:50, 6m30s after the change at 09:53:20.
  clock.now = 0;
  const crash = (await s.deliver(fixture('pod-crashloop-update'))).issue as Issue;
  t.is(crash.type, 'event');
  const link = crash.enrichments.find((e) => e.source === 'change-tracking');
  t.is(
    link?.verdict,
    'Changed 6m before: image checkout:2.4.0 to 2.4.1, env CACHE_MODE added, env DB_PASSWORD changed',
  );
  t.deepEqual(link?.blocks, [{ type: 'markdown', text: link?.verdict }]);
  // A repeat of the same incident goes straight to dispatch and carries no second line.
  clock.now = 6;
  const backoff = await s.deliver(fixture('event-backoff-add'));
  t.false(backoff.issue?.enrichments.some((e) => e.source === 'change-tracking') ?? false);
});

test('change tracking: an incident that starts after the window gets no line, and workloads no rule tracks are never stored', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: -3000 };
  const s = await startIngest(t, redis, clock);
  const { v1, v2 } = rollout();
  await s.deliver(v1);
  // The change is 40 minutes before the crash: outside the default 30m window.
  clock.now = -2400;
  t.is((await s.deliver(v2)).issue?.type, 'change');
  clock.now = 0;
  const crash = (await s.deliver(fixture('pod-crashloop-update'))).issue as Issue;
  t.is(crash.type, 'event');
  t.false(crash.enrichments.some((e) => e.source === 'change-tracking'));

  // A workload of another team: the rule does not match, nothing is kept for it.
  const other = structuredClone(v1);
  other.data.metadata.uid = '0f1e2d3c-4b5a-4968-8776-655443322110';
  other.data.metadata.labels.team = 'search';
  t.is((await s.deliver(other)).issue, undefined);
  t.notRegex(await storedText(redis), /0f1e2d3c-4b5a-4968-8776-655443322110/);
});

test('change tracking: off without rules (nothing stored), a deleted workload is acknowledged, a malformed one is a 400', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: 0 };
  const off = await startIngest(t, redis, clock, 'destinations: []\n');
  const { v1, v2 } = rollout();
  t.is((await off.deliver(v1)).issue, undefined);
  t.is((await off.deliver(v2)).issue, undefined);
  t.is(await storedText(redis), '');

  const on = await startIngest(t, redis, clock);
  t.is((await on.deliver({ ...v1, type: 'dev.knative.apiserver.resource.delete' })).status, 204);
  const bad = structuredClone(v1);
  delete bad.data.metadata.uid;
  t.is((await on.deliver(bad)).status, 400);
});

test('change tracking: a delivery that finds its workload being compared by another is retried (503), then counts', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: -600 };
  const s = await startIngest(t, redis, clock);
  const { v1, v2 } = rollout();
  await s.deliver(v1);
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  // Another replica holds the workload's lock (the key shares the kept template's hash tag).
  const lock = 'ki:{wl|prod-eu|5a7e3c21-0b9d-4f6e-8a14-9c2d7b3e6f58}:lock';
  t.is(await client.set(lock, 'another-delivery', 'PX', 10_000, 'NX'), 'OK');
  clock.now = -400;
  const busy = await s.deliver(v2);
  t.is(busy.status, 503);
  t.is(busy.retryAfter, '1');
  t.is(await client.get(lock), 'another-delivery', 'the other delivery keeps its lock');
  await client.del(lock);
  const retried = await s.deliver(v2);
  t.is(retried.issue?.type, 'change');
  t.is(await client.exists(lock), 0, 'the lock is given back');
});

test('change tracking: a StatefulSet change links to an Event about its pod search-0; a kind no rule names is not kept', async (t) => {
  const redis = await redisFor(t);
  const clock = { now: -600 };
  const config = `
destinations: [{ name: deploys, type: terminal }]
changeTracking:
  rules: [{ name: stateful, kinds: StatefulSet, destination: deploys, window: 15m }]
`;
  const s = await startIngest(t, redis, clock, config);
  const asKind = (e: SourceEvent, kind: string, name: string, uid: string) => {
    const next = structuredClone(e);
    next.kind = kind;
    next.name = name;
    next.subject = `/apis/apps/v1/namespaces/shop/${kind.toLowerCase()}s/${name}`;
    Object.assign(next.data, { kind });
    Object.assign(next.data.metadata, { name, uid });
    return next;
  };
  const { v1, v2 } = rollout();
  const uid = '7b6a5948-3726-4150-9e8d-7c6b5a493827';
  await s.deliver(asKind(v1, 'StatefulSet', 'search', uid));
  clock.now = -300;
  const change = (await s.deliver(asKind(v2, 'StatefulSet', 'search', uid))).issue as Issue;
  t.is(change.title.split(':')[0], 'StatefulSet shop/search changed');
  t.is(change.subject.kind, 'StatefulSet');

  // The same rollout as a DaemonSet: no rule names DaemonSets, nothing is kept or sent.
  const ds = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
  t.is((await s.deliver(asKind(v1, 'DaemonSet', 'agent', ds))).issue, undefined);
  t.is((await s.deliver(asKind(v2, 'DaemonSet', 'agent', ds))).issue, undefined);
  t.notRegex(await storedText(redis), new RegExp(ds));

  // The kubelet's BackOff for search-0, at 09:59:31: 4m31s after the change at 09:55:00.
  const backoff = fixture('event-backoff-add');
  backoff.data.involvedObject.name = 'search-0';
  backoff.data.metadata.name = 'search-0.182a4f0c9e3b7d21';
  backoff.data.message = 'Back-off restarting failed container api in pod search-0_shop';
  clock.now = 0;
  const incident = (await s.deliver(backoff)).issue as Issue;
  t.is(incident.labels.workload, 'StatefulSet/search');
  t.is(
    incident.enrichments.find((e) => e.source === 'change-tracking')?.verdict,
    'Changed 4m before: image checkout:2.4.0 to 2.4.1, env CACHE_MODE added, env DB_PASSWORD changed',
  );
});
