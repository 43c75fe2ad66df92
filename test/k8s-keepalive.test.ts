// The API server (or a proxy before it) closes keep-alive connections it finds idle. A GET sent on
// such a socket just as it closes fails before any answer; the reader sends it once more on a new
// socket instead of turning a healthy API server into a "network error" note.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import test from 'ava';
import { createKubeHttpReader } from '../lib/adapters/k8s/reader.ts';
import { keepAliveAgent } from '../lib/adapters/k8s/rest.ts';

const POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', namespace: 'shop' } };

/**
 * Answers the first request on each connection; a second request on the same connection finds it
 * reset, as a server that closed it while idle would leave it. `resets` counts those.
 */
async function closingServer(): Promise<{
  server: Server;
  url: string;
  resets: () => number;
  requests: () => number;
}> {
  const served = new WeakSet<Socket>();
  let resets = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (served.has(req.socket)) {
      resets++;
      req.socket.resetAndDestroy();
      return;
    }
    served.add(req.socket);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(POD));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, resets: () => resets, requests: () => requests };
}

test('k8s reader: a GET on a keep-alive socket the server reset is sent again on a new one', async (t) => {
  const s = await closingServer();
  t.teardown(() => s.server.close());
  const agent = keepAliveAgent(s.url, { rejectUnauthorized: true });
  t.teardown(() => agent.destroy());
  const reader = createKubeHttpReader(s.url, () => ({ headers: {}, agent }), 5000);
  for (let i = 0; i < 3; i++) t.like(await reader.readPod('shop', 'api-0'), { metadata: { name: 'api-0' } });
  // Each read after the first met a reset socket and was answered on a fresh one.
  t.is(s.resets(), 2);
  t.is(s.requests(), 5);
});

test('k8s reader: a server that resets a fresh connection is a network error at once, not tried again', async (t) => {
  let requests = 0;
  const server = createServer((req) => {
    requests++;
    req.socket.resetAndDestroy();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = keepAliveAgent(url, { rejectUnauthorized: true });
  t.teardown(() => agent.destroy());
  const reader = createKubeHttpReader(url, () => ({ headers: {}, agent }), 5000);
  const err = await t.throwsAsync(reader.readPod('shop', 'api-0'));
  t.regex(err?.message ?? '', /network error \(ECONNRESET\)/);
  // A fresh socket that is reset is not a stale one: no retry.
  t.is(requests, 1);
});
