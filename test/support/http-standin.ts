// The HTTP server under each incident service stand-in: it records every call, serves http or
// https, and applies injected faults (a status with Retry-After, or a hold) to the next calls of
// a path before the service's own handler answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Call {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A status (with Retry-After), or a hold: the answer comes `delayMs` late. A held request whose
 * client went away meanwhile (a timeout, the function killed) is applied anyway, as a server
 * that read the whole body would, unless `dropIfGone` models the request never completing.
 */
export type Fault =
  | { status: number; retryAfter?: number; body?: string }
  | { delayMs: number; dropIfGone?: boolean };

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Standin {
  url: string;
  calls: Call[];
  /** Requests held by a delay fault right now. */
  held(): number;
  /** Applies `fault` to the next `times` calls whose path starts with `path` ('*': any). */
  injectFault(path: string, fault: Fault, times?: number): void;
  close(): Promise<void>;
}

/** Serve https with this key and certificate, as the real services do (the client must trust its CA). */
export interface Tls {
  key: string;
  cert: string;
}

export async function serve(
  handler: (c: Call, url: URL) => Answer | Promise<Answer>,
  tls?: Tls,
): Promise<Standin> {
  const calls: Call[] = [];
  let held = 0;
  const faults: Array<{ path: string; fault: Fault; left: number }> = [];
  const take = (path: string): Fault | undefined => {
    const i = faults.findIndex((f) => f.path === '*' || path.startsWith(f.path));
    if (i === -1) return undefined;
    const f = faults[i] as { fault: Fault; left: number };
    if (--f.left <= 0) faults.splice(i, 1);
    return f.fault;
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const call: Call = {
        method: req.method ?? 'GET',
        path: url.pathname,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const fault = take(url.pathname);
      let answer: Answer;
      if (fault && 'delayMs' in fault) {
        held += 1;
        await new Promise((r) => setTimeout(r, fault.delayMs));
        held -= 1;
        if (fault.dropIfGone && res.destroyed) return;
      }
      if (fault && 'status' in fault) {
        answer = {
          status: fault.status,
          headers: fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) },
          body:
            fault.body ??
            (fault.status === 429 ? { message: 'Too Many Requests' } : { message: 'upstream error' }),
        };
      } else {
        calls.push(call);
        answer = await handler(call, url);
      }
      if (res.destroyed) return;
      const body =
        answer.body === undefined
          ? ''
          : typeof answer.body === 'string'
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        ...(body && typeof answer.body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...answer.headers,
      });
      res.end(body);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    calls,
    held: () => held,
    injectFault: (path, fault, times = 1) => faults.push({ path, fault, left: times }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const json = (c: Call): Record<string, unknown> | undefined => {
  try {
    const v = JSON.parse(c.body) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};
