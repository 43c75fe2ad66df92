// The local broker over real HTTP: binary delivery, retries, Retry-After, replies routed through
// the real knative/ Triggers, and dead letters written to a file.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { EventTypes } from '../lib/domain/events.ts';
import { DESTINATION_FUNCTIONS } from '../lib/platform/functions.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { type LocalBroker, MAX_ATTEMPTS_IN_FLIGHT, startLocalBroker } from '../scripts/broker/broker.ts';
import { loadKnativeWiring, parseTrigger, type Trigger, withDelivery } from '../scripts/broker/triggers.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A subscriber on a free port: records each request, answers with `respond(n, request)`. */
async function subscriber(t: ExecutionContext, respond: (n: number, req: Received) => Answer) {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    received.push(r);
    const a = respond(received.length, r);
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received };
}

function trigger(
  name: string,
  delivery: Record<string, unknown> = {},
  filter?: Record<string, string>,
): Trigger {
  return parseTrigger({
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name },
    spec: {
      broker: 'test',
      ...(filter ? { filter: { attributes: filter } } : {}),
      subscriber: { ref: { kind: 'Service', name } },
      delivery: { retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT0.001S', timeout: 'PT5S', ...delivery },
    },
  });
}

async function broker(t: ExecutionContext, triggers: Trigger[], urls: Record<string, string>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'broker-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const deadLetterFile = path.join(dir, 'nested', 'dead-letters.jsonl');
  const b: LocalBroker = await startLocalBroker({
    triggers,
    resolveSubscriber: (tr) => urls[tr.name] ?? 'http://127.0.0.1:9/',
    deadLetterFile,
    log: createLogger({ level: 'debug', destination: sink }),
  });
  t.teardown(async () => {
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });
  const deadLetters = async () =>
    (await readFile(deadLetterFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown> & { event: Record<string, unknown> });
  return { b, lines, deadLetters };
}

function issueEvent(nextstage: string, extra: Record<string, string | number> = {}) {
  return new CloudEvent({
    id: 'evt-1',
    source: '/kubeincident/alert-ingest',
    type: EventTypes.issueCreated,
    datacontenttype: 'application/json',
    data: { title: 'PodCrashLooping' },
    nextstage,
    partitionkey: 'fp1',
    ...extra,
  });
}

async function post(
  b: LocalBroker,
  event: CloudEvent<unknown>,
  mode: 'binary' | 'structured' = 'structured',
) {
  const m = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
  const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)]));
  const res = await fetch(b.url, { method: 'POST', headers, body: m.body as string });
  return res.status;
}

test('local broker: an event posted in structured mode reaches its subscriber in binary mode', async (t) => {
  const sub = await subscriber(t, () => ({ status: 202 }));
  const { b } = await broker(t, [trigger('enrich-pod', {}, { nextstage: 'enrichpod' })], {
    'enrich-pod': sub.url,
  });
  t.is(await post(b, issueEvent('enrichpod')), 202);
  await b.idle();
  t.is(sub.received.length, 1);
  const [r] = sub.received;
  t.like(r?.headers, {
    'ce-id': 'evt-1',
    'ce-type': EventTypes.issueCreated,
    'ce-nextstage': 'enrichpod',
    'ce-partitionkey': 'fp1',
    'ce-knativebrokerttl': '255',
  });
  t.regex(r?.headers['content-type'] ?? '', /^application\/json/);
  t.deepEqual(JSON.parse(r?.body ?? ''), { title: 'PodCrashLooping' });
  t.like(b.stats, { accepted: 1, delivered: 1, retried: 0, deadLettered: 0 });
});

test('local broker: an event no Trigger matches is accepted and delivered nowhere', async (t) => {
  const sub = await subscriber(t, () => ({ status: 200 }));
  const { b } = await broker(t, [trigger('enrich-pod', {}, { nextstage: 'enrichpod' })], {
    'enrich-pod': sub.url,
  });
  t.is(await post(b, issueEvent('dispatch'), 'binary'), 202);
  await b.idle();
  t.is(sub.received.length, 0);
  t.like(b.stats, { accepted: 1, delivered: 0 });
});

test('local broker: 5xx answers are retried with backoff until the subscriber succeeds', async (t) => {
  const sub = await subscriber(t, (n) => ({ status: n === 1 ? 503 : n === 2 ? 500 : 200 }));
  const { b, deadLetters, lines } = await broker(t, [trigger('s')], { s: sub.url });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  t.is(sub.received.length, 3);
  t.true(sub.received.every((r) => r.headers['ce-id'] === 'evt-1'));
  t.like(b.stats, { delivered: 1, retried: 2, deadLettered: 0 });
  t.deepEqual(await deadLetters(), []);
  // Linear backoff: delay * n for retry n.
  t.deepEqual(
    lines.filter((l) => l.msg === 'retrying delivery').map((l) => l.waitMs),
    [1, 2],
  );
});

test('local broker: a 400 from a subscriber goes straight to the dead letters', async (t) => {
  const sub = await subscriber(t, () => ({ status: 400, body: 'invalid issue: title: Required' }));
  const { b, deadLetters, lines } = await broker(t, [trigger('s')], { s: sub.url });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  t.is(sub.received.length, 1);
  const [dl] = await deadLetters();
  t.like(dl, { trigger: 's', subscriber: sub.url, lastStatus: 400 });
  t.regex(String(dl?.reason), /400: invalid issue: title: Required/);
  t.like(dl?.event, {
    id: 'evt-1',
    type: EventTypes.issueCreated,
    knativeerrorcode: '400',
    knativeerrordest: sub.url,
  });
  t.truthy(Date.parse(String(dl?.time)));
  t.true(lines.some((l) => l.level === 'error' && l.msg === 'event dead-lettered' && l.id === 'evt-1'));
  t.like(b.stats, { delivered: 0, retried: 0, deadLettered: 1 });
});

test('local broker: when retries run out the event is appended to the dead-letter file', async (t) => {
  const sub = await subscriber(t, () => ({ status: 500 }));
  const { b, deadLetters } = await broker(t, [trigger('s', { retry: 2 })], { s: sub.url });
  await post(b, issueEvent('enrichpod'));
  await post(b, issueEvent('enrichpod', { id: 'evt-2' }));
  await b.idle();
  t.is(sub.received.length, 6);
  const dls = await deadLetters();
  t.deepEqual(dls.map((d) => d.event.id).sort(), ['evt-1', 'evt-2']);
  t.true(dls.every((d) => d.lastStatus === 500));
  t.like(b.stats, { retried: 4, deadLettered: 2 });
});

test('local broker: a subscriber that is not listening is retried, then dead-lettered with status 0', async (t) => {
  const { b, deadLetters } = await broker(t, [trigger('gone', { retry: 1 })], {});
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  const [dl] = await deadLetters();
  t.like(dl, { trigger: 'gone', lastStatus: 0 });
  t.regex(String(dl?.reason), /network error/);
  t.is(b.stats.retried, 1);
});

test('local broker: Retry-After on a 429 is honoured only when retryAfterMax is set, capped by it', async (t) => {
  const answer = (n: number): Answer =>
    n === 1 ? { status: 429, headers: { 'retry-after': '30' } } : { status: 200 };
  const capped = await subscriber(t, answer);
  const ignored = await subscriber(t, answer);
  const { b, lines } = await broker(
    t,
    [trigger('capped', { retryAfterMax: 'PT0.3S' }), trigger('ignored', { backoffDelay: 'PT0.002S' })],
    { capped: capped.url, ignored: ignored.url },
  );
  const started = Date.now();
  await post(b, issueEvent('dispatch'));
  await b.idle();
  const waits = Object.fromEntries(
    lines.filter((l) => l.msg === 'retrying delivery').map((l) => [l.trigger as string, l.waitMs]),
  );
  t.deepEqual(waits, { capped: 300, ignored: 2 });
  t.is(capped.received.length, 2);
  t.is(ignored.received.length, 2);
  t.true(Date.now() - started >= 300, 'the capped trigger really waited');
  t.like(b.stats, { delivered: 2, retried: 2 });
});

test('local broker: a 2xx with a body that is not a CloudEvent counts as a failure (Knative answers 502)', async (t) => {
  const sub = await subscriber(t, () => ({
    status: 200,
    headers: { 'content-type': 'text/plain' },
    body: 'ok!',
  }));
  const { b, deadLetters } = await broker(t, [trigger('s', { retry: 1 })], { s: sub.url });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  t.is(sub.received.length, 2);
  const [dl] = await deadLetters();
  t.like(dl, { lastStatus: 502 });
  t.regex(String(dl?.reason), /not a CloudEvent/);
  t.like(b.stats, { delivered: 0, deadLettered: 1 });
});

test('local broker: one failing Trigger does not hold up another Trigger on the same event', async (t) => {
  const bad = await subscriber(t, () => ({ status: 400 }));
  const good = await subscriber(t, () => ({ status: 200 }));
  const { b, deadLetters } = await broker(t, [trigger('bad'), trigger('good')], {
    bad: bad.url,
    good: good.url,
  });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  t.is(good.received.length, 1);
  t.deepEqual(
    (await deadLetters()).map((d) => d.trigger),
    ['bad'],
  );
});

test('local broker: CloudEvent replies travel the real knative/ Triggers from ingest to dispatch', async (t) => {
  const { triggers } = await loadKnativeWiring();
  const reply = (type: string, nextstage: string, id: string) =>
    new CloudEvent({ id, source: '/kubeincident/test', type, data: { id }, nextstage, partitionkey: 'fp1' });
  // enrich-pod answers in binary mode, enrich-node in structured mode: both are replies.
  const enrichPod = await subscriber(t, () => {
    const m = HTTP.binary(reply(EventTypes.issueEnriched, 'enrichnode', 'r1'));
    return { status: 200, headers: m.headers as Record<string, string>, body: m.body as string };
  });
  const enrichNode = await subscriber(t, () => {
    const m = HTTP.structured(reply(EventTypes.issueEnriched, 'dispatch', 'r2'));
    return { status: 200, headers: m.headers as Record<string, string>, body: m.body as string };
  });
  const dispatch = await subscriber(t, () => {
    const m = HTTP.binary(reply(EventTypes.notificationSent, 'done', 'r3'));
    return { status: 200, headers: m.headers as Record<string, string>, body: m.body as string };
  });
  const ingest = await subscriber(t, () => ({ status: 204 }));
  // The other destination functions subscribe to the same dispatch stage and acknowledge what
  // is not routed to them.
  const destinations = await subscriber(t, () => ({ status: 204 }));
  const { b } = await broker(t, withDelivery(triggers, { backoffDelayMs: 1 }), {
    'enrich-pod': enrichPod.url,
    'enrich-node': enrichNode.url,
    'dispatch-slack': dispatch.url,
    'k8s-event-ingest': ingest.url,
    ...Object.fromEntries(Object.keys(DESTINATION_FUNCTIONS).map((fn) => [fn, destinations.url])),
  });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  t.deepEqual(
    [enrichPod, enrichNode, dispatch].map((s) =>
      s.received.map((r) => [r.headers['ce-id'], r.headers['ce-knativebrokerttl']]),
    ),
    [[['evt-1', '255']], [['r1', '254']], [['r2', '253']]],
  );
  t.is(ingest.received.length, 0);
  const others = Object.keys(DESTINATION_FUNCTIONS).length;
  t.deepEqual(
    destinations.received.map((r) => r.headers['ce-id']),
    Array(others).fill('r2'),
  );
  t.like(b.stats, { accepted: 4, delivered: 3 + others, deadLettered: 0 });
});

test('local broker: an attempt that outlives the delivery timeout is abandoned and retried', async (t) => {
  let held = 0;
  const server = createServer((req, res) => {
    req.resume();
    // The first request never gets an answer; the retry does.
    if (held++ === 0) return;
    res.writeHead(200);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const { b, lines } = await broker(t, [trigger('slow', { timeout: 'PT0.5S' })], { slow: url });
  await post(b, issueEvent('enrichpod'));
  await b.idle();
  // On a loaded machine an answered retry can miss the timeout too: then it is retried again.
  t.like(b.stats, { delivered: 1, deadLettered: 0 });
  t.true(b.stats.retried >= 1);
  t.is(held, b.stats.retried + 1, 'one request per attempt');
  t.true(lines.some((l) => l.msg === 'retrying delivery' && l.reason === 'no answer within 500 ms'));
});

test('local broker: a burst of events reaches a subscriber at most MAX_ATTEMPTS_IN_FLIGHT at a time, every one once', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const ids = new Set<string>();
  const server = createServer((req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    ids.add(String(req.headers['ce-id']));
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        inFlight--;
        res.writeHead(202).end();
      }, 200),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const { b } = await broker(t, [trigger('s')], { s: url });
  const statuses = await Promise.all(
    Array.from({ length: 300 }, (_, i) => post(b, issueEvent('enrichpod', { id: `burst-${i}` }), 'binary')),
  );
  t.true(statuses.every((s) => s === 202));
  await b.idle();
  t.is(ids.size, 300);
  t.like(b.stats, { delivered: 300, retried: 0 });
  t.true(peak <= MAX_ATTEMPTS_IN_FLIGHT, `peak ${peak}`);
  t.true(peak > 1, 'deliveries do run side by side');
});
