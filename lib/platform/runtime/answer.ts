// Writing the runtime's answers: plain and JSON bodies, health probes, and what a handler
// returned (a CloudEvent reply, a plain HTTP answer, a deferral or nothing) as an HTTP response.
import type { ServerResponse } from 'node:http';
import { CloudEvent } from 'cloudevents';
import { binaryMessage } from '../cloudevents/encode.ts';
import type { Logger } from '../logger.ts';
import { type HandlerResult, type HttpResponse, RetryLater } from './types.ts';

export type Headers = Record<string, string>;

/** Writes a whole answer once; a second answer to the same request is dropped. */
export function send(res: ServerResponse, status: number, body: string, headers: Headers = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Headers = {}): void {
  send(res, status, JSON.stringify(value), { 'content-type': 'application/json', ...headers });
}

/** Retry-After in whole seconds, at least 1: `0` would invite an immediate retry. */
export function retryAfterSeconds(seconds: number): string {
  return String(Math.max(1, Math.ceil(seconds)));
}

/** 200 `OK` when the gate is open and the module's own check (if any) passes, else 503. */
export async function probe(
  res: ServerResponse,
  check: (() => Promise<boolean> | boolean) | undefined,
  gate: boolean,
): Promise<void> {
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

/**
 * Answers with what the handler returned. A reply event without a trace context continues
 * this invocation's trace, so the next stage's spans join it.
 */
export function writeResult(
  res: ServerResponse,
  result: HandlerResult,
  traceparent: string,
  log: Logger,
): void {
  if (result === undefined) res.writeHead(204).end();
  else if (result instanceof CloudEvent) writeEvent(res, result, traceparent);
  else if (result instanceof RetryLater) writeRetryLater(res, result, log);
  else writeHttpResponse(res, result);
}

function writeEvent(res: ServerResponse, result: CloudEvent<unknown>, traceparent: string): void {
  const event = result.traceparent === undefined ? result.cloneWith({ traceparent }) : result;
  // Attribute values percent-encoded: a reply's subject may hold any label (lib/platform/cloudevents).
  const msg = binaryMessage(event);
  res.writeHead(200, { 'content-length': String(Buffer.byteLength(msg.body)), ...msg.headers });
  res.end(msg.body);
}

/** A deferral is an expected answer, not a failure: logged at info with its reason. */
function writeRetryLater(res: ServerResponse, result: RetryLater, log: Logger): void {
  log.info({ status: 429, reason: result.reason, afterMs: result.afterMs }, 'retry later');
  sendJson(res, 429, { error: result.reason }, { 'retry-after': retryAfterSeconds(result.afterMs / 1000) });
}

function writeHttpResponse(res: ServerResponse, r: HttpResponse): void {
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
