// The preview server (scripts/preview/server.ts) over real HTTP: only the run's token may post,
// bad input is a clear 4xx, the page is served with a strict CSP, other Host names get nothing,
// and a page that opens late is sent what came before, then what comes next.
import test from 'ava';
import { previewPort, startPreviewServer, validMessage } from '../scripts/preview/server.ts';
import { captureLogs } from './support/logs.ts';

const root = {
  op: 'post',
  ts: '1796694232.000001',
  message: { text: 'FIRING', attachments: [{ color: '#d62828', fallback: 'FIRING', blocks: [] }] },
};

async function start() {
  const logs = captureLogs('preview');
  const server = await startPreviewServer({ port: 0, host: '127.0.0.1', log: logs.log });
  return { server, logs };
}

const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('preview server: posting needs the token; bad input is 400, 413 or 415 with a log line', async (t) => {
  const { server, logs } = await start();
  t.teardown(() => server.close());
  const auth = { authorization: `Bearer ${server.token}` };
  t.is((await post(server.ingestUrl, JSON.stringify(root), {})).status, 401);
  t.is((await post(server.ingestUrl, JSON.stringify(root), { authorization: 'Bearer nope' })).status, 401);
  t.is((await post(server.ingestUrl, '{not json', auth)).status, 400);
  t.is((await post(server.ingestUrl, JSON.stringify({ op: 'delete', ts: '1' }), auth)).status, 400);
  t.true(logs.lines.some((l) => /refused a message/.test(String(l.msg))));
  t.is(
    (await post(server.ingestUrl, JSON.stringify({ ...root, pad: 'x'.repeat(1_100_000) }), auth)).status,
    413,
  );
  const text = await fetch(server.ingestUrl, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/plain' },
    body: '{}',
  });
  t.is(text.status, 415);
  t.is((await post(server.ingestUrl, JSON.stringify(root), auth)).status, 204);
});

test('preview server: the page has a strict CSP; another Host name (DNS rebinding) is refused', async (t) => {
  const { server } = await start();
  t.teardown(() => server.close());
  const page = await fetch(server.url);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
  t.regex(await page.text(), /<script src="\/preview\.js" defer><\/script>/);
  t.is(
    (await fetch(`${server.url}preview.js`)).headers.get('content-type'),
    'text/javascript; charset=utf-8',
  );
  t.is((await fetch(`${server.url}nothing`)).status, 404);
  const { request } = await import('node:http');
  const status = await new Promise<number | undefined>((resolve) => {
    const req = request(server.url, { headers: { host: 'attacker.example' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.end();
  });
  t.is(status, 421);
});

test('preview server: a page that connects late gets the history, then live messages', async (t) => {
  const { server } = await start();
  t.teardown(() => server.close());
  const auth = { authorization: `Bearer ${server.token}` };
  await post(server.ingestUrl, JSON.stringify(root), auth);
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const res = await fetch(`${server.url}events`, { signal: ac.signal });
  t.is(res.headers.get('content-type'), 'text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let got = '';
  const until = async (re: RegExp) => {
    while (!re.test(got)) {
      const { value, done } = await reader.read();
      if (done) break;
      got += Buffer.from(value).toString();
    }
  };
  await until(/"ts":"1796694232.000001"/);
  const update = { op: 'update', ts: root.ts, message: { text: 'RESOLVED', attachments: [] } };
  await post(server.ingestUrl, JSON.stringify(update), auth);
  await until(/"op":"update"/);
  const data = got
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
  t.deepEqual(data, [root, update]);
});

test('preview server: PREVIEW_PORT is a port or off; message shapes are checked', (t) => {
  t.is(previewPort(undefined), 8090);
  t.is(previewPort('0'), 0);
  t.is(previewPort('off'), undefined);
  t.throws(() => previewPort('80a'), { message: /PREVIEW_PORT must be a port/ });
  t.throws(() => previewPort('70000'));
  t.true(validMessage({ op: 'file', ts: '1', threadTs: '0', filename: 'a.txt', title: 'a', content: '' }));
  t.false(validMessage({ op: 'file', ts: '1', filename: 'a.txt' }));
  t.false(validMessage({ op: 'post', ts: '1', message: { text: 1 } }));
  t.false(validMessage({ op: 'post', ts: '1', threadTs: 5, message: { text: '' } }));
});
