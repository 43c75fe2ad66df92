import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { RateLimitedError, UnavailableError } from '../lib/platform/errors.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { parseTraceparent } from '../lib/platform/runtime/trace.ts';
import { type FunctionModule, retryLater } from '../lib/platform/runtime/types.ts';
import { captureLogs } from './support/logs.ts';
import { rawRequest } from './support/raw-http.ts';

async function serve(mod: FunctionModule, ready = true) {
  const logs = captureLogs();
  const fs = createFunctionServer(mod, { name: 'test-fn', log: logs.log, maxBodyBytes: 1024 });
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(ready);
  return { fs, logs, url: `http://127.0.0.1:${port}`, close: () => fs.drain(100) };
}

const ce = (data: unknown = { hello: 'world' }, extra: Record<string, string> = {}) =>
  new CloudEvent({ id: 'evt-1', type: 'dev.test.v1', source: '/test', data, ...extra });

const post = (url: string, msg: { headers: Record<string, string>; body: unknown }) =>
  fetch(url, {
    method: 'POST',
    headers: msg.headers,
    body: typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body),
  });

test('runtime: health endpoints follow init and drain; metrics are Prometheus text', async (t) => {
  const s = await serve({ handle: () => undefined }, false);
  t.is((await fetch(`${s.url}/health/liveness`)).status, 200);
  t.is((await fetch(`${s.url}/health/readiness`)).status, 503, 'not ready before init completes');
  s.fs.setReady(true);
  t.is((await fetch(`${s.url}/health/readiness`)).status, 200);
  await post(s.url, HTTP.binary(ce()) as never);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  t.regex(metrics, /# TYPE kubeincident_requests_total counter/);
  t.regex(metrics, /kubeincident_requests_total\{fn="test-fn",status="204"\} 1/);
  t.regex(metrics, /process_resident_memory_bytes \d+/);
  await s.close();
});

test('runtime: binary and structured CloudEvents reach handle; a CloudEvent reply continues the trace', async (t) => {
  const seen: CloudEvent<unknown>[] = [];
  const s = await serve({
    handle: (_ctx, event) => {
      if (event) seen.push(event);
      return new CloudEvent({ type: 'dev.test.reply.v1', source: '/test', data: { ok: true } });
    },
  });
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const binary = await post(s.url, HTTP.binary(ce({ n: 1 }, { traceparent })) as never);
  t.is(binary.status, 200);
  const reply = decodeCloudEvent(Object.fromEntries(binary.headers), Buffer.from(await binary.arrayBuffer()));
  t.is(reply.type, 'dev.test.reply.v1');
  const replyTrace = parseTraceparent(reply.traceparent);
  t.is(replyTrace?.traceId, '0af7651916cd43dd8448eb211c80319c', 'same trace');
  t.not(replyTrace?.spanId, 'b7ad6b7169203331', 'new span');
  const structured = await post(s.url, HTTP.structured(ce({ n: 2 })) as never);
  t.is(structured.status, 200);
  t.deepEqual(
    seen.map((e) => e.data),
    [{ n: 1 }, { n: 2 }],
  );
  await s.close();
});

test('runtime: bad input gets the right 4xx and a log line, never a crash', async (t) => {
  const s = await serve({ handle: () => undefined });
  const cases: Array<[RequestInit, number, RegExp]> = [
    [
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
      400,
      /expected a CloudEvent/,
    ],
    [
      {
        method: 'POST',
        headers: { 'ce-specversion': '9.9', 'ce-id': '1', 'ce-type': 't', 'ce-source': 's' },
        body: '',
      },
      400,
      /unsupported CloudEvents specversion/,
    ],
    [
      { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': '1' }, body: '' },
      400,
      /invalid CloudEvent/,
    ],
    [
      { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: '{not json' },
      400,
      /invalid CloudEvent/,
    ],
    [
      { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' },
      415,
      /batched/,
    ],
    [
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5000) },
      413,
      /larger than 1024 bytes/,
    ],
    [{ method: 'PUT', body: '' }, 405, /method not allowed/],
    [{ method: 'GET' }, 404, /not found/],
  ];
  for (const [init, status, message] of cases) {
    const res = await fetch(s.url, init);
    t.is(res.status, status, JSON.stringify(init.headers));
    t.regex(((await res.json()) as { error: string }).error, message);
  }
  t.is((await fetch(`${s.url}/health/liveness`)).status, 200, 'still alive');
  t.true(s.logs.lines.filter((l) => l.msg === 'request rejected').length >= 6);
  await s.close();
});

test('runtime: errors map to status codes in one place and never echo internals', async (t) => {
  const errors: unknown[] = [
    new UnavailableError('redis down', { retryAfter: 2 }),
    new RateLimitedError('slack 429', { retryAfter: 30 }),
    new Error('connect ECONNREFUSED token=xoxb-123-secret'),
  ];
  let i = 0;
  const s = await serve({
    handle: () => {
      throw errors[i++];
    },
  });
  const a = await post(s.url, HTTP.binary(ce()) as never);
  t.is(a.status, 503);
  t.is(a.headers.get('retry-after'), '2');
  const b = await post(s.url, HTTP.binary(ce()) as never);
  t.is(b.status, 429);
  t.is(b.headers.get('retry-after'), '30');
  const c = await post(s.url, HTTP.binary(ce()) as never);
  t.is(c.status, 500);
  const body = await c.text();
  t.is(body, '{"error":"internal error"}');
  t.false(body.includes('xoxb'));
  const errorLine = s.logs.lines.find((l) => l.msg === 'request failed' && l.status === 500);
  t.truthy(errorLine, 'the failure is logged with its cause for operators');
  t.deepEqual((errorLine?.ce as Record<string, string>)?.id, 'evt-1', 'log lines carry the event id');
  await s.close();
});

test('runtime: a handler returning retryLater gets 429 with Retry-After and an info line saying why', async (t) => {
  const waits = [2500, 0, 4000];
  let i = 0;
  const s = await serve({
    handle: () => retryLater(waits[i++] as number, 'channel #ops busy until its turn'),
  });
  t.teardown(() => s.close());
  const answers = [];
  for (const _ of waits) answers.push(await post(s.url, HTTP.binary(ce()) as never));
  t.deepEqual(
    answers.map((a) => [a.status, a.headers.get('retry-after')]),
    [
      [429, '3'],
      [429, '1'],
      [429, '4'],
    ],
    'whole seconds rounded up, never 0',
  );
  t.is(
    await answers[0]?.text(),
    '{"error":"channel #ops busy until its turn"}',
    'the reason and nothing else',
  );
  const lines = s.logs.lines.filter((l) => l.msg === 'retry later');
  t.is(lines.length, 3);
  t.like(lines[0], { level: 'info', status: 429, reason: 'channel #ops busy until its turn', afterMs: 2500 });
  t.is((lines[0]?.ce as Record<string, string>)?.id, 'evt-1', 'the line carries the event id');
  t.false(
    s.logs.lines.some((l) => l.msg === 'request failed' || l.msg === 'request rejected'),
    'a deferral is neither a failure nor a rejection',
  );
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  t.regex(metrics, /kubeincident_requests_total\{fn="test-fn",status="429"\} 3/);
  t.throws(() => retryLater(Number.NaN, 'x'), { instanceOf: RangeError });
});

test('runtime: draining finishes in-flight work and refuses new requests', async (t) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let entered: () => void = () => {};
  const reached = new Promise<void>((r) => {
    entered = r;
  });
  let finished = false;
  const s = await serve({
    handle: async () => {
      entered();
      await gate;
      finished = true;
      return { statusCode: 200, body: { done: true } };
    },
  });
  // Whatever fails below, the held request ends and the server closes (else ava cannot exit).
  t.teardown(async () => {
    release();
    await s.close();
  });
  const inflight = post(s.url, HTTP.binary(ce()) as never);
  // Not a fixed sleep: on a loaded machine the request can take longer to reach the handler.
  await reached;
  t.is(s.fs.inflight(), 1);
  const draining = s.fs.drain(5000);
  setTimeout(release, 50);
  const res = await inflight;
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { done: true });
  await draining;
  t.true(finished);
  await t.throwsAsync(fetch(`${s.url}/health/liveness`), undefined, 'server closed after drain');
});

test('runtime: a chunked body that outgrows the limit is answered 413, not reset', async (t) => {
  const s = await serve({ handle: () => undefined });
  t.teardown(() => s.close());
  const port = Number(new URL(s.url).port);
  const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;
  const head =
    'POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';
  // One that ends, and one that never sends its last chunk.
  for (const end of ['0\r\n\r\n', '']) {
    const answer = await rawRequest(port, [head, chunk('x'.repeat(600)), chunk('x'.repeat(600)), end], 3000);
    t.is(answer.status, 413);
    t.regex(answer.body, /larger than 1024 bytes/);
    t.regex(answer.head, /connection: close/i);
  }
  t.is((await fetch(`${s.url}/health/liveness`)).status, 200);
});
