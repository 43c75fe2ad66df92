// The fetch dispatch-slack gives WebClient (lib/adapters/slack/fetch.ts): what WebClient sends and reads,
// over plain http and TLS, with its timeout signal, and without loading undici.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { WebClient } from '@slack/web-api';
import test from 'ava';
import { createSlackFetch, slackFetch } from '../lib/adapters/slack/fetch.ts';
import { makeCertificates } from './support/kube-standin.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
  tls?: { key: string; cert: string },
) {
  const seen: Seen[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('a url-encoded POST: body, length and headers sent; status, headers and body read', async (t) => {
  const s = await serve((_req, res) => {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('retry-after', '7');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.writeHead(200, 'OK');
    res.end('{"ok":true,"ts":"1.000100"}');
  });
  t.teardown(s.close);
  const res = await slackFetch(`${s.url}/api/chat.postMessage`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Bearer xoxb-1' },
    body: 'channel=C1&text=h%C3%A9',
    redirect: 'error',
  });
  t.is(res.status, 200);
  t.true(res.ok);
  t.is(res.statusText, 'OK');
  t.is(res.url, `${s.url}/api/chat.postMessage`);
  t.is(res.headers.get('Retry-After'), '7');
  t.is(res.headers.get('x-absent'), null);
  t.is(res.headers.get('set-cookie'), 'a=1, b=2');
  t.true(
    [...res.headers.entries()].some(([k, v]) => k === 'content-type' && v.startsWith('application/json')),
  );
  t.deepEqual(await res.json(), { ok: true, ts: '1.000100' });
  t.is(await res.text(), '{"ok":true,"ts":"1.000100"}');
  t.is(Buffer.from(await res.arrayBuffer()).toString(), '{"ok":true,"ts":"1.000100"}');
  const [seen] = s.seen;
  t.is(seen?.method, 'POST');
  t.is(seen?.url, '/api/chat.postMessage');
  t.is(seen?.headers.authorization, 'Bearer xoxb-1');
  t.is(seen?.headers['content-length'], String(Buffer.byteLength('channel=C1&text=h%C3%A9')));
  t.is(seen?.body.toString(), 'channel=C1&text=h%C3%A9');
});

test('a FormData body goes as multipart/form-data with its boundary and the file bytes', async (t) => {
  const s = await serve((_req, res) => res.end('OK - 12'));
  t.teardown(s.close);
  const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
  const form = new FormData();
  form.append('channel', 'C1');
  form.append('file', new Blob([new Uint8Array(bytes)]), 'crash.log');
  const res = await slackFetch(`${s.url}/upload/v1/abc`, { method: 'POST', body: form });
  t.is(await res.text(), 'OK - 12');
  const seen = s.seen[0];
  const type = String(seen?.headers['content-type']);
  const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(type)?.[1];
  t.truthy(boundary, type);
  t.is(seen?.headers['content-length'], String(seen?.body.length));
  // Parsed back with the platform's own multipart parser.
  const parsed = await new Response(seen?.body, { headers: { 'content-type': type } }).formData();
  t.is(parsed.get('channel'), 'C1');
  const file = parsed.get('file') as File;
  t.is(file.name, 'crash.log');
  t.deepEqual(Buffer.from(await file.arrayBuffer()), bytes);
});

test('a redirect is refused when WebClient asks for redirect: error, and passed on otherwise', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(302, { location: 'https://elsewhere.example/' });
    res.end();
  });
  t.teardown(s.close);
  await t.throwsAsync(slackFetch(`${s.url}/api/x`, { method: 'POST', body: '', redirect: 'error' }), {
    instanceOf: TypeError,
    message: /redirect/,
  });
  const res = await slackFetch(`${s.url}/api/x`, { method: 'POST', body: '', redirect: 'manual' });
  t.is(res.status, 302);
});

test('the timeout signal aborts a request that gets no answer, and one whose body stalls', async (t) => {
  const s = await serve((req, res) => {
    if (req.url === '/stall') {
      res.writeHead(200);
      res.write('{"ok":');
    } else if (req.url === '/ok') res.end('{"ok":true}');
    // otherwise never answers
  });
  t.teardown(s.close);
  const started = Date.now();
  await t.throwsAsync(slackFetch(`${s.url}/silent`, { method: 'POST', signal: AbortSignal.timeout(150) }));
  await t.throwsAsync(slackFetch(`${s.url}/stall`, { method: 'POST', signal: AbortSignal.timeout(150) }));
  // Unaborted, either request would wait for ever (the test's own timeout): any bound far above
  // 2 x 150 ms shows the signal ended them, without a loaded machine tripping it.
  t.true(Date.now() - started < 30_000);
  const aborted = AbortSignal.abort();
  await t.throwsAsync(slackFetch(`${s.url}/never`, { signal: aborted }));
  // A request that completes afterwards: had the aborted one gone out, the server would have
  // read it by then. (Whether the timed-out ones reached the server depends on the machine's
  // speed, so only this path is checked.)
  t.is((await slackFetch(`${s.url}/ok`, { method: 'POST', body: '' })).status, 200);
  t.false(
    s.seen.some((r) => r.url === '/never'),
    'an already aborted signal sends nothing',
  );
});

test('a response past the size cap is refused; a connection dropped mid-body is an error', async (t) => {
  const s = await serve((req, res) => {
    if (req.url === '/huge') {
      // Chunked, and endless until the client hangs up.
      res.writeHead(200);
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      const write = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', write);
      };
      res.on('error', () => {});
      write();
      return;
    }
    res.writeHead(200, { 'content-length': '100' });
    res.write('{"ok"');
    setTimeout(() => res.destroy(), 20);
  });
  t.teardown(s.close);
  await t.throwsAsync(slackFetch(`${s.url}/huge`), { message: /larger than/ });
  await t.throwsAsync(slackFetch(`${s.url}/cut`));
});

test('over TLS, with the CA the agent trusts; a server it does not trust is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slack-fetch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await makeCertificates(dir);
  const s = await serve((_req, res) => res.end('{"ok":true}'), {
    key: certs.serverKey,
    cert: certs.serverCert,
  });
  t.teardown(s.close);
  const trusting = new HttpsAgent({ ca: certs.caCert, keepAlive: true });
  t.teardown(() => trusting.destroy());
  const viaCa = createSlackFetch({ agent: () => trusting });
  const res = await viaCa(`${s.url}/api/auth.test`, { method: 'POST', body: 'a=1' });
  t.deepEqual(await res.json(), { ok: true });
  await t.throwsAsync(slackFetch(`${s.url}/api/auth.test`, { method: 'POST', body: 'a=1' }));
});

test('WebClient works through it: a call, a platform error, and a 429 with Retry-After', async (t) => {
  const s = await serve((req, res, body) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/chat.postMessage') {
      const form = new URLSearchParams(body.toString());
      res.end(JSON.stringify({ ok: true, channel: form.get('channel'), ts: '1.000001' }));
    } else if (req.url === '/api/chat.update') {
      res.end(JSON.stringify({ ok: false, error: 'message_not_found' }));
    } else {
      res.writeHead(429, { 'retry-after': '3' });
      res.end('{"ok":false,"error":"ratelimited"}');
    }
  });
  t.teardown(s.close);
  const client = new WebClient('xoxb-test', {
    slackApiUrl: `${s.url}/api/`,
    fetch: slackFetch,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 2000,
  });
  const posted = await client.chat.postMessage({ channel: 'C1', text: 'hi' });
  t.is(posted.ts, '1.000001');
  t.is(posted.channel, 'C1');
  const notFound = await t.throwsAsync(client.chat.update({ channel: 'C1', ts: '1.0', text: 'x' }));
  t.is((notFound as { code?: string }).code, 'slack_webapi_platform_error');
  const limited = await t.throwsAsync(client.chat.delete({ channel: 'C1', ts: '1.0' }));
  t.is((limited as { code?: string }).code, 'slack_webapi_rate_limited_error');
  t.is((limited as { retryAfter?: number }).retryAfter, 3);
  t.is(s.seen[0]?.headers.authorization, 'Bearer xoxb-test');
});

test('a Slack call over plain http loads neither undici nor node:tls', async (t) => {
  const s = await serve((_req, res) => res.end('{"ok":true}'));
  t.teardown(s.close);
  const script = [
    `const { slackFetch } = await import(${JSON.stringify(resolve(import.meta.dirname, '../lib/adapters/slack/fetch.ts'))});`,
    `const res = await slackFetch(${JSON.stringify(`${s.url}/api/auth.test`)}, { method: 'POST', body: 'a=1' });`,
    'const body = await res.json();',
    'const loaded = process.moduleLoadList.filter((m) => /undici|NativeModule tls$|http2$/.test(m));',
    'console.log(JSON.stringify({ body, loaded }));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  const out = JSON.parse(stdout) as { body: unknown; loaded: string[] };
  t.deepEqual(out.body, { ok: true });
  t.deepEqual(out.loaded, []);
});

test('with NODE_USE_ENV_PROXY=1, calls go through HTTP_PROXY as the global fetch would', async (t) => {
  // A forward proxy for http targets: it receives the absolute URL and answers for the origin.
  const proxy = await serve((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, via: 'proxy', target: req.url }));
  });
  t.teardown(proxy.close);
  const script = [
    `const { slackFetch } = await import(${JSON.stringify(resolve(import.meta.dirname, '../lib/adapters/slack/fetch.ts'))});`,
    "const res = await slackFetch('http://slack.invalid/api/auth.test', { method: 'POST', body: 'a=1' });",
    'console.log(JSON.stringify(await res.json()));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxy.url },
  });
  t.deepEqual(JSON.parse(stdout), { ok: true, via: 'proxy', target: 'http://slack.invalid/api/auth.test' });
  t.is(proxy.seen[0]?.body.toString(), 'a=1');
});
