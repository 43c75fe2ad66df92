// The forwarder the alert-ingest throughput is read against (scripts/bench/baselines.ts) must do
// what it claims, or its ceiling means nothing: one sink request per alert carrying that alert,
// and a 2xx only once the sink accepted every one.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeBaselines } from '../scripts/bench/baselines.ts';
import { freePort, spawnServer, stop } from '../scripts/bench/procs.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

async function startSink(status: () => number) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST')
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const webhook = (n: number) =>
  JSON.stringify({
    version: '4',
    status: 'firing',
    alerts: Array.from({ length: n }, (_, i) => ({
      status: 'firing',
      labels: { alertname: 'A', pod: `p-${i}` },
    })),
  });

test('bench forwarder: one sink request per alert with its JSON, 200 once all were accepted, 502 when one was not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kubeincident-baselines-'));
  let refuseThird = false;
  let n = 0;
  const sink = await startSink(() => (refuseThird && ++n === 3 ? 500 : 202));
  const { forwarder } = await writeBaselines(dir);
  const port = freePort();
  const fw = await spawnServer(forwarder, { K_SINK: sink.url }, port, '/');
  t.teardown(async () => {
    await stop(fw.child);
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (body: string) =>
    fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
  const ok = await post(webhook(3));
  t.is(ok.status, 200);
  t.deepEqual(
    sink.received.map((r) => JSON.parse(r.body).labels.pod).sort(),
    ['p-0', 'p-1', 'p-2'],
    'each alert went on its own',
  );
  for (const r of sink.received) {
    t.is(r.headers['ce-specversion'], '1.0');
    t.is(r.headers['content-type'], 'application/json');
  }

  refuseThird = true;
  const refused = await post(webhook(3));
  t.is(refused.status, 502, 'a refused alert is not answered with success');
  t.is(sink.received.length, 6);

  const malformed = await post('{"alerts": [');
  t.is(malformed.status, 400, 'a webhook that is not JSON is refused, not taken as empty');
  t.is(sink.received.length, 6);
});

test('bench bare server: reads the whole request and answers it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kubeincident-baselines-'));
  const { bare } = await writeBaselines(dir);
  const port = freePort();
  const s = await spawnServer(bare, { STATUS: '202' }, port, '/');
  t.teardown(async () => {
    await stop(s.child);
    await rm(dir, { recursive: true, force: true });
  });
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: webhook(50) });
  t.is(res.status, 202);
  t.is(await res.text(), '{}');
});
