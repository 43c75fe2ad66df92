// One call of a function: check and read the request, decode its CloudEvent (or JSON body),
// call handle(), answer, and account for it (status metric, duration, span) whatever happened.
// The one place where thrown errors become statuses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import { cloudEventMode, decodeCloudEvent } from '../cloudevents/decode.ts';
import { BadRequestError, PayloadTooLargeError, toHttpError, UnsupportedMediaTypeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type Headers, retryAfterSeconds, sendJson, writeResult } from './answer.ts';
import { readBody } from './body.ts';
import type { Counter, Histogram } from './metrics.ts';
import type { RequestTarget } from './target.ts';
import { endSpan, formatTraceparent, parseTraceparent, type Span, startSpan } from './trace.ts';
import type { FunctionModule, InvocationContext } from './types.ts';

/** What every invocation of one function shares. */
export interface Invoker {
  mod: FunctionModule;
  name: string;
  log: Logger;
  maxBodyBytes: number;
  requests: Counter;
  duration: Histogram;
  /** One child logger per path, not per request. */
  pathLogger(path: string): Logger;
}

/** Where one invocation stands; the log and span change once its CloudEvent is known. */
interface Call {
  log: Logger;
  span: Span;
  /** A body not read to its end is not read on: the connection ends with the answer. */
  bodyRead: boolean;
}

interface Input {
  body: Buffer;
  event: CloudEvent<unknown> | undefined;
  /** The JSON body of a plain HTTP request (acceptsHttp modules only). */
  json: unknown;
}

export async function invoke(
  inv: Invoker,
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestTarget,
): Promise<void> {
  const started = process.hrtime.bigint();
  const call: Call = {
    log: inv.pathLogger(url.pathname),
    span: startSpan(`${inv.name} ${req.method}`, parseTraceparent(req.headers.traceparent)),
    bodyRead: false,
  };
  let status = 500;
  let failure: unknown;
  try {
    const input = await readInput(inv, req, url, call);
    const traceparent = formatTraceparent(call.span.context);
    const result = await inv.mod.handle(invocationContext(req, url, input, call, traceparent), input.event);
    writeResult(res, result, traceparent, call.log);
    status = res.statusCode;
  } catch (err) {
    failure = err;
    status = answerFailure(res, err, call);
  } finally {
    call.span.attributes['http.response.status_code'] = status;
    endSpan(call.span, failure);
    inv.requests.inc({ fn: inv.name, status: String(status) });
    inv.duration.observe(Number(process.hrtime.bigint() - started) / 1e9, { fn: inv.name });
  }
}

/**
 * Path, method and credentials first (the module's accept()): a stranger's body is never read,
 * let alone parsed. Then the body, under the size cap, and what it holds.
 */
async function readInput(inv: Invoker, req: IncomingMessage, url: RequestTarget, call: Call): Promise<Input> {
  inv.mod.accept?.({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers });
  const body = await readRequestBody(req, inv.maxBodyBytes);
  call.bodyRead = true;
  const mode = cloudEventMode(req.headers);
  if (mode === 'batch') throw new UnsupportedMediaTypeError('batched CloudEvents are not supported');
  if (mode) return { body, event: decodeEvent(inv, req, body, call), json: undefined };
  if (!inv.mod.acceptsHttp) {
    throw new BadRequestError('expected a CloudEvent (ce-* headers or application/cloudevents+json)');
  }
  return { body, event: undefined, json: parseJsonBody(body) };
}

async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBody(req, limit);
  } catch (err) {
    if (err instanceof PayloadTooLargeError) throw err;
    throw new BadRequestError('could not read request body', { cause: err });
  }
}

/** The event, with the invocation's log and span now carrying its id, type and source. */
function decodeEvent(inv: Invoker, req: IncomingMessage, body: Buffer, call: Call): CloudEvent<unknown> {
  const event = decodeCloudEvent(req.headers, body);
  call.log = inv.log.child({ ce: { id: event.id, type: event.type, source: event.source } });
  // The event's own trace context wins over the HTTP header: it survives broker hops.
  call.span = startSpan(
    `${inv.name} ${event.type}`,
    parseTraceparent(event.traceparent) ?? parseTraceparent(req.headers.traceparent),
    {
      'cloudevents.event_id': event.id,
      'cloudevents.event_type': event.type,
      'cloudevents.event_source': event.source,
    },
  );
  return event;
}

/** Any non-empty body is read as JSON, whatever its content type says; an empty one is undefined. */
function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
}

function invocationContext(
  req: IncomingMessage,
  url: RequestTarget,
  input: Input,
  call: Call,
  traceparent: string,
): InvocationContext {
  return {
    log: call.log,
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.query,
    headers: req.headers,
    rawBody: input.body,
    body: input.json,
    span: call.span.context,
    traceparent,
  };
}

/** Answers a thrown error with its status; logs 5xx as errors and 4xx as rejections. */
function answerFailure(res: ServerResponse, err: unknown, call: Call): number {
  const mapped = toHttpError(err);
  const headers: Headers = {};
  if (mapped.retryAfter !== undefined) headers['retry-after'] = retryAfterSeconds(mapped.retryAfter);
  if (!call.bodyRead) headers.connection = 'close';
  if (mapped.status >= 500) call.log.error({ err, status: mapped.status }, 'request failed');
  else call.log.warn({ status: mapped.status, reason: mapped.message }, 'request rejected');
  sendJson(res, mapped.status, { error: mapped.message }, headers);
  return mapped.status;
}
