import { readFileSync } from 'node:fs';
import test from 'ava';
import { create } from '../functions/alert-ingest/index.ts';
import { EventTypes, parseIssueData } from '../lib/domain/events.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { captureLogs } from './support/logs.ts';
import { startRecordingSink } from './support/sink.ts';

const payload = readFileSync(
  new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url),
  'utf8',
);

async function startIngest(env: Record<string, string>, sinkDelayMs = 0) {
  const sink = await startRecordingSink(202, { delayMs: sinkDelayMs });
  const mod = create({ K_SINK: sink.url, ...env });
  await mod.init?.();
  const logs = captureLogs('alert-ingest');
  const fs = createFunctionServer(mod, { name: 'alert-ingest', log: logs.log });
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  return {
    sink,
    logs,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await fs.drain(100);
      await sink.close();
    },
  };
}

const postJson = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('alert-ingest: one binary CloudEvent per alert reaches K_SINK, with overrides and filterable extensions', async (t) => {
  const s = await startIngest({
    CLUSTER_NAME: 'prod-eu',
    K_CE_OVERRIDES: JSON.stringify({ extensions: { team: 'payments' } }),
  });
  const res = await postJson(s.url, payload);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { status: 'accepted', alerts: 2, silenced: 0 });
  t.is(s.sink.requests.length, 2);
  const events = s.sink.requests.map((r) => decodeCloudEvent(r.headers, Buffer.from(r.body)));
  const pod = events.find((e) => e.subjectkind === 'pod');
  if (!pod) return t.fail('no pod event');
  t.is(s.sink.requests[0]?.headers['ce-specversion'], '1.0', 'binary mode');
  t.is(pod.type, EventTypes.issueCreated);
  t.is(pod.source, '/kubeincident/prod-eu/alert-ingest');
  t.is(pod.subject, 'Pod/shop/checkout-7d9c8b6f5-x2x9k');
  t.is(pod.nextstage, 'enrichpod');
  t.is(pod.team, 'payments', 'K_CE_OVERRIDES extensions are stamped');
  t.is(pod.partitionkey, '4f1a3c2b9d8e7f60');
  t.truthy(pod.traceparent);
  const issue = parseIssueData(pod.data);
  t.is(issue.cluster, 'prod-eu');
  t.is(issue.id, pod.id);
  const node = events.find((e) => e.subjectkind === 'node');
  t.is(node?.nextstage, 'enrichnode');
  await s.close();
});

test('alert-ingest: the webhook is answered 5xx unless the sink accepted every event', async (t) => {
  const s = await startIngest({});
  s.sink.setStatus(500);
  const res = await postJson(s.url, payload);
  t.is(res.status, 503, 'Alertmanager retries 5xx');
  t.deepEqual(await res.json(), { error: 'event sink answered 500' });
  s.sink.setStatus(202);
  t.is((await postJson(s.url, payload)).status, 200);
  await s.close();
});

test('alert-ingest: an unreachable sink is a 503, not a success', async (t) => {
  const mod = create({ K_SINK: 'http://127.0.0.1:9/', SINK_TIMEOUT_MS: '500' });
  await mod.init?.();
  const logs = captureLogs();
  const fs = createFunctionServer(mod, { name: 'alert-ingest', log: logs.log });
  const port = await fs.listen(0, '127.0.0.1');
  const res = await postJson(`http://127.0.0.1:${port}/api/alerts`, payload);
  t.is(res.status, 503);
  await fs.drain(100);
});

test('alert-ingest: malformed input is a clear 400 and nothing is emitted', async (t) => {
  const s = await startIngest({});
  const cases: Array<[string, RegExp]> = [
    ['{"alerts": [', /not valid JSON/],
    ['{"version":"4"}', /invalid Alertmanager payload: alerts/],
    [
      JSON.stringify({ version: '4', alerts: [{ status: 'burning', labels: {}, startsAt: 'x' }] }),
      /alerts\[0\]\.status/,
    ],
    ['[]', /invalid Alertmanager payload/],
  ];
  for (const [body, message] of cases) {
    const res = await postJson(s.url, body);
    t.is(res.status, 400, body);
    t.regex(((await res.json()) as { error: string }).error, message);
  }
  t.is((await postJson(`${s.url}/elsewhere`, payload)).status, 404);
  t.is(s.sink.requests.length, 0);
  await s.close();
});

test('alert-ingest: bearer and basic auth are enforced and a 401 says nothing about why', async (t) => {
  const s = await startIngest({
    WEBHOOK_BEARER_TOKEN: 's3cret-token',
    WEBHOOK_BASIC_USER: 'alertmanager',
    WEBHOOK_BASIC_PASSWORD: 'pa:ss',
  });
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const cases: Array<[Record<string, string>, number]> = [
    [{}, 401],
    [{ authorization: 'Bearer wrong' }, 401],
    [{ authorization: 'Bearer s3cret-token' }, 200],
    [{ authorization: basic('alertmanager', 'nope') }, 401],
    [{ authorization: basic('alertmanager', 'pa:ss') }, 200],
    [{ authorization: 'Digest abc' }, 401],
  ];
  for (const [headers, status] of cases) {
    const res = await postJson(s.url, payload, headers);
    t.is(res.status, status, JSON.stringify(headers));
    if (status === 401) t.deepEqual(await res.json(), { error: 'unauthorized' });
  }
  t.false(s.logs.text().includes('s3cret-token'), 'credentials never logged');
  t.false(s.logs.text().includes('pa:ss'));
  await s.close();
});

test('alert-ingest: labels in any script, emoji or control characters reach the sink encoded, not as a 503 forever', async (t) => {
  const s = await startIngest({});
  t.teardown(() => s.close());
  const alert = JSON.parse(payload).alerts[0];
  alert.labels = { ...alert.labels, namespace: '支払い', pod: 'api-🚀-\u0001x "q" 100%' };
  alert.fingerprint = 'fp-日本語 😀';
  const res = await postJson(s.url, JSON.stringify({ ...JSON.parse(payload), alerts: [alert] }));
  t.is(res.status, 200);
  const [req] = s.sink.requests;
  if (!req) return t.fail('nothing reached the sink');
  const event = decodeCloudEvent(req.headers, Buffer.from(req.body));
  t.is(event.subject, 'Pod/支払い/api-🚀-\u0001x "q" 100%');
  t.is(event.partitionkey, 'fp-日本語 😀');
  t.regex(String(req.headers['ce-subject']), /^Pod\/%E6%94%AF/);
});

test('alert-ingest: credentials are checked before the body is read: bad JSON without them is a 401, not a 400', async (t) => {
  const s = await startIngest({ WEBHOOK_BEARER_TOKEN: 's3cret-token' });
  t.teardown(() => s.close());
  const bad = await postJson(s.url, '{"alerts": [');
  t.is(bad.status, 401);
  t.deepEqual(await bad.json(), { error: 'unauthorized' });
  t.is(bad.headers.get('connection'), 'close', 'the unread body is not read on');
  t.is((await postJson(`${s.url}/elsewhere`, '{nope', { authorization: 'Bearer s3cret-token' })).status, 404);
  const authed = await postJson(s.url, '{"alerts": [', { authorization: 'Bearer s3cret-token' });
  t.is(authed.status, 400, 'with credentials, the body is read and found wanting');
  t.is(s.sink.requests.length, 0);
});

test('alert-ingest: a 10,000-alert webhook is answered 200 once the sink took every one of them', async (t) => {
  // The whole webhook takes longer than SINK_TIMEOUT_MS (10,000 events answered after 25 ms each,
  // 64 in flight: about 4 s); no single request comes near it, even on a loaded machine.
  const s = await startIngest({ SINK_TIMEOUT_MS: '2500' }, 25);
  const started = Date.now();
  t.teardown(() => s.close());
  const alerts = Array.from({ length: 10_000 }, (_, i) => ({
    status: 'firing',
    labels: { alertname: 'TargetDown', namespace: `ns-${i % 50}`, pod: `web-${i}`, severity: 'warning' },
    annotations: { summary: 'Target is down.' },
    startsAt: '2026-11-22T03:41:10.123Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `t${String(i).padStart(15, '0')}`,
  }));
  const body = JSON.stringify({ version: '4', status: 'firing', receiver: 'kubeincident', alerts });
  const res = await postJson(s.url, body);
  t.is(res.status, 200, await res.clone().text());
  t.deepEqual(await res.json(), { status: 'accepted', alerts: 10_000, silenced: 0 });
  t.is(new Set(s.sink.requests.map((r) => r.headers['ce-id'])).size, 10_000);
  t.true(Date.now() - started > 2500, 'the webhook as a whole took longer than one request may');
});
