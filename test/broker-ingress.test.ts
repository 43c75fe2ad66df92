// The local broker's ingress (what it accepts and refuses) and its TTL loop guard, over real HTTP.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { encodeHeaderValue } from '../lib/platform/cloudevents/encode.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { type LocalBroker, startLocalBroker } from '../scripts/broker/broker.ts';
import { parseTrigger, type Trigger } from '../scripts/broker/triggers.ts';
import { rawRequest } from './support/raw-http.ts';

/** Replies to every event with a fresh event of the same type: a Trigger loop, on purpose. */
async function echoSubscriber(t: ExecutionContext) {
  const ttls: string[] = [];
  const server = createServer((req, res) => {
    ttls.push(String(req.headers['ce-knativebrokerttl']));
    req.resume();
    req.on('end', () => {
      const m = HTTP.binary(
        new CloudEvent({ source: '/echo', type: String(req.headers['ce-type']), data: {} }),
      );
      res.writeHead(200, m.headers as Record<string, string>);
      res.end(m.body as string);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ttls };
}

function catchAll(name: string, delivery: Record<string, unknown> = {}): Trigger {
  return parseTrigger({
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name },
    spec: {
      broker: 'test',
      subscriber: { uri: 'http://unused' },
      delivery: { backoffDelay: 'PT0.001S', ...delivery },
    },
  });
}

async function broker(
  t: ExecutionContext,
  triggers: Trigger[] = [],
  url = 'http://127.0.0.1:9',
  maxBodyBytes?: number,
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'broker-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const b: LocalBroker = await startLocalBroker({
    triggers,
    resolveSubscriber: () => url,
    deadLetterFile: path.join(dir, 'dead-letters.jsonl'),
    log: createLogger({ destination: sink }),
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
  });
  t.teardown(async () => {
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { b, lines };
}

const sample = (extra: Record<string, string | number> = {}) =>
  new CloudEvent({ source: '/test', type: 'dev.kubeincident.issue.created.v1', data: { a: 1 }, ...extra });

async function send(url: string, init: RequestInit): Promise<{ status: number; error?: string }> {
  const res = await fetch(url, { method: 'POST', ...init });
  const text = await res.text();
  return text
    ? { status: res.status, error: (JSON.parse(text) as { error: string }).error }
    : { status: res.status };
}

test('local broker ingress: a POST that is not a CloudEvent gets a 400 saying so', async (t) => {
  const { b } = await broker(t);
  const plain = await send(b.url, { headers: { 'content-type': 'application/json' }, body: '{"alerts":[]}' });
  t.deepEqual(plain, {
    status: 400,
    error: 'invalid CloudEvent: no ce-* headers and not application/cloudevents+json',
  });
  const missing = await send(b.url, {
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id: '1', type: 't' }),
  });
  t.is(missing.status, 400);
  t.regex(missing.error ?? '', /must have required property 'source'/);
  const junk = await send(b.url, {
    headers: { 'content-type': 'application/cloudevents+json' },
    body: '{nope',
  });
  t.is(junk.status, 400);
  const badVersion = await send(b.url, {
    headers: { 'ce-specversion': '0.1', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' },
  });
  t.deepEqual(badVersion, { status: 400, error: 'unsupported CloudEvents specversion "0.1"' });
  const batch = await send(b.url, {
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: '[]',
  });
  t.is(batch.status, 400);
  t.is(b.stats.accepted, 0);
});

test('local broker ingress: binary and structured events are accepted with 202, also on /<namespace>/<broker>', async (t) => {
  const { b } = await broker(t);
  const bin = HTTP.binary(sample());
  t.is(
    (await send(b.url, { headers: bin.headers as Record<string, string>, body: bin.body as string })).status,
    202,
  );
  const str = HTTP.structured(sample());
  const onPath = await send(`${b.url}/kubeincident/kubeincident`, {
    headers: str.headers as Record<string, string>,
    body: str.body as string,
  });
  t.is(onPath.status, 202);
  t.is(b.stats.accepted, 2);
});

test('local broker ingress: wrong method, wrong path and oversized bodies are refused', async (t) => {
  const { b } = await broker(t, [], undefined, 1024);
  const get = await fetch(b.url);
  t.is(get.status, 405);
  t.is(get.headers.get('allow'), 'POST');
  await get.text();
  const str = HTTP.structured(sample());
  const headers = str.headers as Record<string, string>;
  t.is((await send(`${b.url}/a/b/c`, { headers, body: str.body as string })).status, 404);
  const big = HTTP.structured(sample({ pad: 'x'.repeat(2000) }));
  const tooBig = await send(b.url, {
    headers: big.headers as Record<string, string>,
    body: big.body as string,
  });
  t.deepEqual(tooBig, { status: 413, error: 'request body larger than 1024 bytes' });
  t.is(b.stats.accepted, 0);
});

test('local broker: the TTL loop guard ends a reply loop and logs the drop', async (t) => {
  const echo = await echoSubscriber(t);
  const { b, lines } = await broker(t, [catchAll('loop')], echo.url);
  const m = HTTP.binary(sample({ knativebrokerttl: 4 }));
  await send(b.url, { headers: m.headers as Record<string, string>, body: m.body as string });
  await b.idle();
  t.deepEqual(echo.ttls, ['4', '3', '2', '1']);
  t.like(b.stats, { accepted: 4, delivered: 4, dropped: 1 });
  t.true(lines.some((l) => l.level === 'warn' && /knativebrokerttl reached 0/.test(String(l.msg))));
});

test('local broker: an event without a TTL gets 255, so an endless loop still stops', async (t) => {
  const echo = await echoSubscriber(t);
  const { b } = await broker(t, [catchAll('loop')], echo.url);
  const m = HTTP.binary(sample());
  await send(b.url, { headers: m.headers as Record<string, string>, body: m.body as string });
  await b.idle();
  t.is(echo.ttls.length, 255);
  t.is(echo.ttls[0], '255');
  t.is(echo.ttls.at(-1), '1');
  t.is(b.stats.dropped, 1);
});

test('local broker ingress: an event arriving with TTL 0 is dropped, not delivered', async (t) => {
  const echo = await echoSubscriber(t);
  const { b, lines } = await broker(t, [catchAll('loop')], echo.url);
  const m = HTTP.binary(sample({ knativebrokerttl: 0 }));
  t.is(
    (await send(b.url, { headers: m.headers as Record<string, string>, body: m.body as string })).status,
    202,
  );
  await b.idle();
  t.deepEqual(echo.ttls, []);
  t.is(b.stats.dropped, 1);
  t.true(lines.some((l) => /dropped at ingress/.test(String(l.msg))));
});

test('local broker: close() abandons waiting retries with a log line and idle() resolves', async (t) => {
  const { b, lines } = await broker(t, [catchAll('slow', { retry: 5, backoffDelay: 'PT60S' })]);
  const m = HTTP.binary(sample());
  await send(b.url, { headers: m.headers as Record<string, string>, body: m.body as string });
  const idle = b.idle();
  await b.close();
  await idle;
  t.is(b.stats.deadLettered, 0);
  t.true(lines.some((l) => l.level === 'warn' && l.msg === 'broker closed: delivery abandoned'));
});

test('local broker ingress: structured events without id or specversion, or with object extensions, get 400', async (t) => {
  const { b } = await broker(t);
  const structured = (obj: Record<string, unknown>) =>
    send(b.url, {
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(obj),
    });
  const base = { specversion: '1.0', id: 'e1', source: '/s', type: 't' };
  t.is((await structured(base)).status, 202);
  t.deepEqual(await structured({ ...base, id: undefined }), {
    status: 400,
    error: 'invalid CloudEvent: id is required',
  });
  t.deepEqual(await structured({ ...base, specversion: undefined }), {
    status: 400,
    error: 'invalid CloudEvent: specversion is required',
  });
  t.is((await structured({ ...base, team: { a: 1 } })).status, 400);
  t.is(b.stats.accepted, 1);
});

test('local broker ingress: an event whose extensions no subscriber could take as headers is refused, not dead-lettered later', async (t) => {
  const { b, lines } = await broker(t, [catchAll('all')]);
  const big = HTTP.structured(sample({ note: 'x'.repeat(9000) }));
  const res = await send(b.url, { headers: big.headers as Record<string, string>, body: big.body as string });
  t.is(res.status, 400);
  t.regex(res.error ?? '', /as ce-\* headers, more than 8192: the event could not be delivered/);
  t.true(lines.some((l) => l.msg === 'ingress rejected a request'));
  // Past Latin-1 each character is up to 9 bytes encoded: counted as it goes out.
  const wide = HTTP.structured(sample({ note: '日'.repeat(1000) }));
  const wideRes = await send(b.url, {
    headers: wide.headers as Record<string, string>,
    body: wide.body as string,
  });
  t.is(wideRes.status, 400);
  t.is(b.stats.accepted, 0);
});

test('local broker: attributes past Latin-1 are delivered percent-encoded and arrive as sent', async (t) => {
  const received: Array<Record<string, string | string[] | undefined>> = [];
  const server = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(202).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { b } = await broker(
    t,
    [catchAll('all')],
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  );
  const subject = 'Pod/名前空間/api-🚀 "x" 100%';
  const str = HTTP.structured(sample({ subject, team: 'équipe' }));
  t.is(
    (await send(b.url, { headers: str.headers as Record<string, string>, body: str.body as string })).status,
    202,
  );
  await b.idle();
  t.is(b.stats.delivered, 1, 'delivered, not failed on a header value fetch refuses');
  const [headers] = received;
  if (!headers) return t.fail('nothing delivered');
  t.is(headers['ce-subject'], encodeHeaderValue(subject));
  t.is(decodeCloudEvent(headers, Buffer.from('{}')).subject, subject);
  t.is(decodeCloudEvent(headers, Buffer.from('{}')).team, 'équipe');
});

test('local broker ingress: a chunked body that outgrows the limit is answered 413, not reset', async (t) => {
  const { b } = await broker(t, [], undefined, 1024);
  const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;
  const answer = await rawRequest(Number(new URL(b.url).port), [
    'POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents+json\r\ntransfer-encoding: chunked\r\n\r\n',
    chunk('x'.repeat(600)),
    chunk('x'.repeat(600)),
  ]);
  t.is(answer.status, 413);
  t.regex(answer.body, /larger than 1024 bytes/);
});
