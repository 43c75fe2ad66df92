// The local preview page `npm start` serves: the messages the terminal destination renders, as
// Slack would show them, live over Server-Sent Events. dispatch-slack POSTs each message's Block
// Kit to /messages (lib/adapters/preview.ts); the page (page/) draws it with DOM text nodes only.
// Bound to 127.0.0.1; posting needs the run's token; the page is served with a strict CSP.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/platform/logger.ts';

const PAGE_DIR = new URL('./page/', import.meta.url);
const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/preview.js': ['preview.js', 'text/javascript; charset=utf-8'],
  '/preview.css': ['preview.css', 'text/css; charset=utf-8'],
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
/** A message body larger than this is refused (413): a root is at most a few tens of KB. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Messages kept for a page opened (or reloaded) later. */
const HISTORY = 1000;
const OPS = new Set(['post', 'update', 'file']);

export interface PreviewServer {
  /** The page. */
  url: string;
  /** Where dispatch-slack posts (PREVIEW_URL), with `token` as its bearer token (PREVIEW_TOKEN). */
  ingestUrl: string;
  token: string;
  close(): Promise<void>;
}

export interface PreviewOptions {
  port: number;
  host: string;
  log: Logger;
}

/** PREVIEW_PORT: a port (0 picks a free one), or `off`. */
export function previewPort(raw: string | undefined): number | undefined {
  const v = (raw ?? '8090').trim();
  if (v === 'off') return undefined;
  const port = Number(v);
  if (!/^\d+$/.test(v) || port > 65535)
    throw new Error(`PREVIEW_PORT must be a port (0-65535) or "off", got ${JSON.stringify(raw)}`);
  return port;
}

/** Checks the shape the page relies on; the content itself is drawn as text, whatever it is. */
export function validMessage(m: unknown): m is { op: string; ts: string } {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  if (typeof o.op !== 'string' || !OPS.has(o.op) || typeof o.ts !== 'string') return false;
  if (o.threadTs !== undefined && typeof o.threadTs !== 'string') return false;
  if (o.op === 'file')
    return ['filename', 'title', 'content', 'threadTs'].every((k) => typeof o[k] === 'string');
  const msg = o.message as Record<string, unknown> | undefined;
  return (
    typeof msg === 'object' &&
    msg !== null &&
    typeof msg.text === 'string' &&
    (msg.blocks === undefined || Array.isArray(msg.blocks)) &&
    (msg.attachments === undefined || Array.isArray(msg.attachments))
  );
}

function sameToken(given: string | undefined, token: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(`Bearer ${token}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startPreviewServer(opts: PreviewOptions): Promise<PreviewServer> {
  const token = randomBytes(24).toString('base64url');
  const history: string[] = [];
  const clients = new Set<ServerResponse>();
  let port = 0;

  const send = (res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(code, { 'content-type': type, ...SECURITY_HEADERS });
    res.end(body);
  };

  const ingest = async (req: IncomingMessage, res: ServerResponse) => {
    if (!sameToken(req.headers.authorization, token)) return send(res, 401, 'unauthorized\n');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
      return send(res, 415, 'expected application/json\n');
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'message too large\n');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    if (!validMessage(parsed)) {
      opts.log.warn('preview: refused a message that is not a preview message');
      return send(res, 400, 'expected {op: post|update|file, ts, ...}\n');
    }
    const line = JSON.stringify(parsed);
    history.push(line);
    if (history.length > HISTORY) history.shift();
    for (const c of clients) c.write(`data: ${line}\n\n`);
    send(res, 204, '');
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    // What was posted before the page opened, then everything as it arrives.
    res.write(`retry: 1000\n\n${history.map((l) => `data: ${l}\n\n`).join('')}`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
  };

  const server = createServer((req, res) => {
    // A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) gets nothing.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return send(res, 421, 'wrong host\n');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'POST' && path === '/messages') {
      ingest(req, res).catch((err: unknown) => {
        opts.log.warn({ err }, 'preview: reading a message failed');
        if (!res.headersSent) send(res, 400, 'bad request\n');
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    if (path === '/events') return events(req, res);
    const file = FILES[path];
    if (!file) return send(res, 404, 'not found\n');
    readFile(new URL(file[0], PAGE_DIR), 'utf8').then(
      (text) => send(res, 200, text, file[1]),
      () => send(res, 500, 'page missing\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const base = `http://${opts.host}:${port}`;
  return {
    url: `${base}/`,
    ingestUrl: `${base}/messages`,
    token,
    close: async () => {
      for (const c of clients) c.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
