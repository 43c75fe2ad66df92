// Baseline servers measured in the same run: a bare node:http server, and the stock Knative
// Functions runtime (faas-js-runtime) serving a handler that does nothing.
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

export async function writeBaselines(dir: string): Promise<{ bare: string; faas: string }> {
  await mkdir(dir, { recursive: true });
  const bare = resolve(dir, 'bare-server.cjs');
  const faas = resolve(dir, 'faas-runtime.cjs');
  await writeFile(bare, BARE);
  await writeFile(faas, FAAS);
  return { bare, faas };
}
