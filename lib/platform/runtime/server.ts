// The thin function runtime: serves a FunctionModule over node:http with health and metrics
// endpoints, CloudEvents in binary and structured mode, one error-to-status mapping, and a
// drain on SIGTERM. Chosen over faas-js-runtime by measurement (README, "Runtime").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudEvent } from 'cloudevents';
import { decodeCloudEvent } from '../cloudevents/decode.ts';
import { binaryMessage } from '../cloudevents/encode.ts';
import { BadRequestError, PayloadTooLargeError, toHttpError, UnsupportedMediaTypeError } from '../errors.ts';
import { MAX_BODY_BYTES } from '../limits.ts';
import type { Logger } from '../logger.ts';
import { readBody } from './body.ts';
import type { IdleRelease } from './idle-release.ts';
import { Registry } from './metrics.ts';
import { parseRequestTarget, type RequestTarget } from './target.ts';
import { endSpan, formatTraceparent, parseTraceparent, startSpan } from './trace.ts';
import type { FunctionModule, HandlerResult, HttpResponse, InvocationContext } from './types.ts';

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

function isCloudEventRequest(
  headers: IncomingMessage['headers'],
): 'binary' | 'structured' | 'batch' | undefined {
  const ct = String(headers['content-type'] ?? '').toLowerCase();
  if (ct.startsWith('application/cloudevents-batch+json')) return 'batch';
  if (ct.startsWith('application/cloudevents+json')) return 'structured';
  if (headers['ce-specversion'] !== undefined) return 'binary';
  return undefined;
}

function isCloudEvent(v: unknown): v is CloudEvent<unknown> {
  return v instanceof CloudEvent;
}

export function createFunctionServer(mod: FunctionModule, opts: ServerOptions): FunctionServer {
  const registry = opts.registry ?? new Registry();
  const requests = registry.counter(
    'kubeincident_requests_total',
    'Requests handled, by function and status.',
  );
  const duration = registry.histogram('kubeincident_request_duration_seconds', 'Handler time per request.');
  const inflightGauge = registry.gauge('kubeincident_inflight_requests', 'Requests being handled now.');
  registry
    .gauge('process_resident_memory_bytes', 'Resident memory size in bytes.')
    .set(() => process.memoryUsage.rss());
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  let ready = false;
  let draining = false;
  let inflight = 0;
  let drained: (() => void) | undefined;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };
  const sendJson = (
    res: ServerResponse,
    status: number,
    value: unknown,
    headers: Record<string, string> = {},
  ) => send(res, status, JSON.stringify(value), { 'content-type': 'application/json', ...headers });

  async function probe(
    res: ServerResponse,
    check: (() => Promise<boolean> | boolean) | undefined,
    gate: boolean,
  ) {
    let ok = gate;
    if (ok && check) {
      try {
        ok = await check();
      } catch {
        ok = false;
      }
    }
    send(res, ok ? 200 : 503, ok ? 'OK' : 'NOT READY', { 'content-type': 'text/plain' });
  }

  function writeResult(res: ServerResponse, result: HandlerResult, traceparent: string) {
    if (result === undefined) {
      res.writeHead(204).end();
      return;
    }
    if (isCloudEvent(result)) {
      const event = result.traceparent === undefined ? result.cloneWith({ traceparent }) : result;
      // Attribute values percent-encoded: a reply's subject may hold any label (lib/cloudevents).
      const msg = binaryMessage(event);
      res.writeHead(200, { 'content-length': String(Buffer.byteLength(msg.body)), ...msg.headers });
      res.end(msg.body);
      return;
    }
    const r = result as HttpResponse;
    const status = r.statusCode ?? 200;
    if (r.body === undefined) {
      res.writeHead(status, r.headers ?? {}).end();
    } else if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) {
      const b = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
      res.writeHead(status, { 'content-length': String(b.length), ...(r.headers ?? {}) }).end(b);
    } else {
      sendJson(res, status, r.body, r.headers ?? {});
    }
  }

  // One child logger per path, not per request; paths come from clients, so only a few are kept.
  const pathLoggers = new Map<string, Logger>();
  const pathLogger = (path: string) => {
    let l = pathLoggers.get(path);
    if (!l) {
      l = opts.log.child({ path });
      if (pathLoggers.size < 32) pathLoggers.set(path, l);
    }
    return l;
  };

  async function invoke(req: IncomingMessage, res: ServerResponse, url: RequestTarget) {
    const started = process.hrtime.bigint();
    let log = pathLogger(url.pathname);
    let status = 500;
    let span = startSpan(`${opts.name} ${req.method}`, parseTraceparent(req.headers.traceparent));
    let failure: unknown;
    let bodyRead = false;
    try {
      // Path, method and credentials first: a stranger's body is never read, let alone parsed.
      mod.accept?.({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers });
      let body: Buffer;
      try {
        body = await readBody(req, maxBody);
        bodyRead = true;
      } catch (err) {
        if (err instanceof PayloadTooLargeError) throw err;
        throw new BadRequestError('could not read request body', { cause: err });
      }
      const mode = isCloudEventRequest(req.headers);
      let event: CloudEvent<unknown> | undefined;
      let json: unknown;
      if (mode === 'batch') throw new UnsupportedMediaTypeError('batched CloudEvents are not supported');
      if (mode) {
        event = decodeCloudEvent(req.headers, body);
        log = opts.log.child({ ce: { id: event.id, type: event.type, source: event.source } });
        // The event's own trace context wins over the HTTP header: it survives broker hops.
        span = startSpan(
          `${opts.name} ${event.type}`,
          parseTraceparent(event.traceparent) ?? parseTraceparent(req.headers.traceparent),
          {
            'cloudevents.event_id': event.id,
            'cloudevents.event_type': event.type,
            'cloudevents.event_source': event.source,
          },
        );
      } else if (!mod.acceptsHttp) {
        throw new BadRequestError('expected a CloudEvent (ce-* headers or application/cloudevents+json)');
      } else if (/json/i.test(String(req.headers['content-type'] ?? '')) || body.length > 0) {
        try {
          json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
        } catch {
          throw new BadRequestError('request body is not valid JSON');
        }
      }
      const traceparent = formatTraceparent(span.context);
      const ctx: InvocationContext = {
        log,
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.query,
        headers: req.headers,
        rawBody: body,
        body: json,
        span: span.context,
        traceparent,
      };
      const result = await mod.handle(ctx, event);
      writeResult(res, result, traceparent);
      status = res.statusCode;
    } catch (err) {
      failure = err;
      const mapped = toHttpError(err);
      status = mapped.status;
      const headers: Record<string, string> = {};
      if (mapped.retryAfter !== undefined)
        headers['retry-after'] = String(Math.max(1, Math.ceil(mapped.retryAfter)));
      // A body not read to its end is not read on: the connection ends with the answer.
      if (!bodyRead) headers.connection = 'close';
      if (status >= 500) log.error({ err, status }, 'request failed');
      else log.warn({ status, reason: mapped.message }, 'request rejected');
      sendJson(res, status, { error: mapped.message }, headers);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      span.attributes['http.response.status_code'] = status;
      endSpan(span, failure);
      requests.inc({ fn: opts.name, status: String(status) });
      duration.observe(seconds, { fn: opts.name });
    }
  }

  const server = createServer((req, res) => {
    const url = parseRequestTarget(req.url);
    if (!url) {
      req.resume();
      opts.log.warn({ status: 400, target: String(req.url).slice(0, 200) }, 'request rejected');
      requests.inc({ fn: opts.name, status: '400' });
      return void sendJson(res, 400, { error: 'invalid request target' }, { connection: 'close' });
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (url.pathname === '/health/liveness') return void probe(res, mod.liveness?.bind(mod), true);
      if (url.pathname === '/health/readiness')
        return void probe(res, mod.readiness?.bind(mod), ready && !draining);
      if (url.pathname === '/metrics') {
        return void send(res, 200, registry.render(), { 'content-type': 'text/plain; version=0.0.4' });
      }
    }
    if (req.method !== 'POST' && !(mod.acceptsHttp && req.method !== 'GET' && req.method !== 'HEAD')) {
      req.resume();
      return void sendJson(res, req.method === 'GET' ? 404 : 405, {
        error: req.method === 'GET' ? 'not found' : 'method not allowed',
      });
    }
    if (draining) {
      req.resume();
      return void sendJson(res, 503, { error: 'shutting down' }, { connection: 'close', 'retry-after': '1' });
    }
    inflight++;
    inflightGauge.inc();
    opts.idleRelease?.busy();
    invoke(req, res, url).finally(() => {
      inflight--;
      inflightGauge.dec();
      if (inflight === 0) {
        if (draining) drained?.();
        else opts.idleRelease?.idle();
      }
    });
  });
  // Slow-loris protection; handlers are bounded separately by their own timeouts.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  return {
    server,
    registry,
    inflight: () => inflight,
    setReady(value) {
      ready = value;
    },
    listen(port, host) {
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
    },
    async drain(timeoutMs) {
      draining = true;
      opts.idleRelease?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inflight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => {
            drained = resolve;
          }),
          new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
