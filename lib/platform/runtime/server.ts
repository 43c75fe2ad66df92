// The thin function runtime: serves a FunctionModule over node:http with health and metrics
// endpoints, CloudEvents in binary and structured mode, one error-to-status mapping, and a
// drain on SIGTERM. Chosen over faas-js-runtime by measurement (docs/performance.md, "Runtime").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES } from '../limits.ts';
import type { Logger } from '../logger.ts';
import { probe, send, sendJson } from './answer.ts';
import type { IdleRelease } from './idle-release.ts';
import { type Invoker, invoke } from './invoke.ts';
import { type Gauge, Registry } from './metrics.ts';
import { parseRequestTarget, type RequestTarget } from './target.ts';
import type { FunctionModule } from './types.ts';

export interface ServerOptions {
  name: string;
  log: Logger;
  registry?: Registry;
  /** Request body cap; MAX_BODY_BYTES (lib/platform/limits.ts), which every stage and the broker share. */
  maxBodyBytes?: number;
  /** Told when events start and when none is left in flight (lib/platform/runtime/idle-release.ts). */
  idleRelease?: IdleRelease;
}

export interface FunctionServer {
  server: Server;
  registry: Registry;
  /** Without a host: every interface, IPv4 and IPv6. */
  listen(port: number, host?: string): Promise<number>;
  /** Marks the server ready (after init). */
  setReady(ready: boolean): void;
  /** Stops accepting, waits for in-flight requests (up to timeoutMs), closes. */
  drain(timeoutMs: number): Promise<void>;
  inflight(): number;
}

/** Whether the server takes events, and how many are being handled. */
interface ServerState {
  ready: boolean;
  draining: boolean;
  inflight: number;
  /** Resolves drain()'s wait once the last in-flight request is done. */
  drained: (() => void) | undefined;
}

export function createFunctionServer(mod: FunctionModule, opts: ServerOptions): FunctionServer {
  const registry = opts.registry ?? new Registry();
  const state: ServerState = { ready: false, draining: false, inflight: 0, drained: undefined };
  const invoker = createInvoker(mod, opts, registry);
  const inflightGauge = registry.gauge('kubeincident_inflight_requests', 'Requests being handled now.');
  registry
    .gauge('process_resident_memory_bytes', 'Resident memory size in bytes.')
    .set(() => process.memoryUsage.rss());

  const server = createServer((req, res) => {
    const url = route(req, res, invoker, state, registry);
    if (url) track(state, inflightGauge, opts.idleRelease, () => invoke(invoker, req, res, url));
  });
  // Slow-loris protection; handlers are bounded separately by their own timeouts.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  return {
    server,
    registry,
    inflight: () => state.inflight,
    setReady(value) {
      state.ready = value;
    },
    listen: (port, host) => listen(server, port, host),
    drain: (timeoutMs) => drain(server, state, opts.idleRelease, timeoutMs),
  };
}

function createInvoker(mod: FunctionModule, opts: ServerOptions, registry: Registry): Invoker {
  // Paths come from clients, so only a few of their loggers are kept.
  const pathLoggers = new Map<string, Logger>();
  return {
    mod,
    name: opts.name,
    log: opts.log,
    maxBodyBytes: opts.maxBodyBytes ?? MAX_BODY_BYTES,
    requests: registry.counter('kubeincident_requests_total', 'Requests handled, by function and status.'),
    duration: registry.histogram('kubeincident_request_duration_seconds', 'Handler time per request.'),
    pathLogger(path) {
      let l = pathLoggers.get(path);
      if (!l) {
        l = opts.log.child({ path });
        if (pathLoggers.size < 32) pathLoggers.set(path, l);
      }
      return l;
    },
  };
}

/**
 * Answers what is not an invocation (a bad target, health probes, metrics, a wrong method, a
 * request while draining) and returns the target of one that is.
 */
function route(
  req: IncomingMessage,
  res: ServerResponse,
  invoker: Invoker,
  state: ServerState,
  registry: Registry,
): RequestTarget | undefined {
  const { mod } = invoker;
  const url = parseRequestTarget(req.url);
  if (!url) {
    req.resume();
    invoker.log.warn({ status: 400, target: String(req.url).slice(0, 200) }, 'request rejected');
    invoker.requests.inc({ fn: invoker.name, status: '400' });
    sendJson(res, 400, { error: 'invalid request target' }, { connection: 'close' });
    return undefined;
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (url.pathname === '/health/liveness') return void probe(res, mod.liveness?.bind(mod), true);
    if (url.pathname === '/health/readiness')
      return void probe(res, mod.readiness?.bind(mod), state.ready && !state.draining);
    if (url.pathname === '/metrics') {
      return void send(res, 200, registry.render(), { 'content-type': 'text/plain; version=0.0.4' });
    }
  }
  // POST is an event; other methods only reach a module that takes plain HTTP (never GET/HEAD).
  if (req.method !== 'POST' && !(mod.acceptsHttp && req.method !== 'GET' && req.method !== 'HEAD')) {
    req.resume();
    const get = req.method === 'GET';
    return void sendJson(res, get ? 404 : 405, { error: get ? 'not found' : 'method not allowed' });
  }
  if (state.draining) {
    req.resume();
    return void sendJson(res, 503, { error: 'shutting down' }, { connection: 'close', 'retry-after': '1' });
  }
  return url;
}

/** Counts a request in flight while it runs; the last one out tells drain() or the idle release. */
function track(
  state: ServerState,
  gauge: Gauge,
  idleRelease: IdleRelease | undefined,
  run: () => Promise<void>,
) {
  state.inflight++;
  gauge.inc();
  idleRelease?.busy();
  run().finally(() => {
    state.inflight--;
    gauge.dec();
    if (state.inflight === 0) {
      if (state.draining) state.drained?.();
      else idleRelease?.idle();
    }
  });
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    };
    // Without a host: every interface, IPv4 and IPv6, and no address lookup. A host, even
    // 0.0.0.0, goes through dns.lookup and an IPv6 check whose first run compiles a large
    // regular expression, a few milliseconds of every cold start.
    if (host === undefined) server.listen(port, listening);
    else server.listen(port, host, listening);
  });
}

/** Stops accepting, waits for in-flight requests (up to timeoutMs), then closes every connection. */
async function drain(
  server: Server,
  state: ServerState,
  idleRelease: IdleRelease | undefined,
  timeoutMs: number,
): Promise<void> {
  state.draining = true;
  idleRelease?.stop();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  if (state.inflight > 0) {
    await Promise.race([
      new Promise<void>((resolve) => {
        state.drained = resolve;
      }),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }
  server.closeAllConnections();
  await closed;
}
