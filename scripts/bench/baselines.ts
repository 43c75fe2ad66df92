// Baseline servers measured in the same run: a bare node:http server, the stock Knative
// Functions runtime (faas-js-runtime) serving a handler that does nothing, and a bare forwarder
// (what one sink request per alert costs before alert-ingest does any work of its own).
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/**
 * Answers 200 to anything after reading the whole body, like a do-nothing function would. It
 * listens as the functions do, on every interface without naming a host (naming one, even an
 * address, costs a lookup at start-up).
 */
const BARE = `
const http = require('node:http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(req.method === 'POST' ? Number(process.env.STATUS || 200) : 200, { 'content-type': 'application/json' });
    res.end('{}');
  });
}).listen(Number(process.env.PORT));
`;

const FAAS = `
const { start } = require(${JSON.stringify(resolve(root, 'node_modules/faas-js-runtime'))});
start({ handle: () => undefined }, { port: Number(process.env.PORT), logLevel: 'warn' });
`;

/**
 * The least any alert-ingest can do on the same wire: a node:http server that parses the webhook
 * and POSTs each alert's JSON to K_SINK through alert-ingest's own sink client (lib/platform/runtime/
 * http1.ts), then answers 200 once the sink accepted every one (502 otherwise). No validation,
 * no mapping to an Issue, no CloudEvent attributes beyond the four required ones, no logging or
 * metrics. Node runs it from TypeScript (type stripping); it imports nothing but http1.ts.
 */
const FORWARDER = `
import { createServer } from 'node:http';
import { createHttp1Client } from ${JSON.stringify(resolve(root, 'lib/platform/runtime/http1.ts'))};
const sink = createHttp1Client(new URL(process.env.K_SINK), { maxSockets: 64 });
let n = 0;
const post = (alert) =>
  sink.post(
    { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': 'dev.bench.alert', 'ce-source': '/bench/forwarder', 'ce-id': String(n++) },
    JSON.stringify(alert),
  );
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST') return void res.writeHead(200).end();
    let alerts;
    try {
      alerts = JSON.parse(Buffer.concat(chunks).toString('utf8')).alerts ?? [];
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end('{"error":"not JSON"}');
    }
    Promise.all(alerts.map(post)).then(
      (answers) => {
        const ok = answers.every((a) => a.status >= 200 && a.status < 300);
        res.writeHead(ok ? 200 : 502, { 'content-type': 'application/json' });
        res.end(ok ? '{"status":"accepted"}' : '{"error":"sink refused"}');
      },
      () => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":"sink unreachable"}');
      },
    );
  });
}).listen(Number(process.env.PORT));
`;

/**
 * A sink that counts what it took: 202 to each POST, and the count so far to a GET, so a bench
 * can tell how many of a webhook's alerts reached the broker's place.
 */
const COUNTING_SINK = `
const http = require('node:http');
let taken = 0;
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST') taken++;
    res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' });
    res.end(req.method === 'POST' ? '' : JSON.stringify({ taken }));
  });
}).listen(Number(process.env.PORT));
`;

export async function writeBaselines(
  dir: string,
): Promise<{ bare: string; faas: string; forwarder: string; countingSink: string }> {
  await mkdir(dir, { recursive: true });
  const bare = resolve(dir, 'bare-server.cjs');
  const faas = resolve(dir, 'faas-runtime.cjs');
  const forwarder = resolve(dir, 'bare-forwarder.mjs');
  const countingSink = resolve(dir, 'counting-sink.cjs');
  await writeFile(bare, BARE);
  await writeFile(faas, FAAS);
  await writeFile(forwarder, FORWARDER);
  await writeFile(countingSink, COUNTING_SINK);
  return { bare, faas, forwarder, countingSink };
}
