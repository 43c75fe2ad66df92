// The function contract: a module exports `handle` (plus optional `init`, `shutdown`,
// `liveness`, `readiness`), as Knative Functions expects, so any runtime can serve it.
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import type { Logger } from '../logger.ts';
import type { SpanContext } from './trace.ts';

export interface InvocationContext {
  /** Child logger carrying the event's id, type and source (or the request path). */
  log: Logger;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The JSON body of a plain HTTP request (undefined for CloudEvents and non-JSON bodies). */
  body: unknown;
  /** This invocation's trace context: stamp `traceparent` on every event it emits. */
  span: SpanContext;
  traceparent: string;
}

export interface HttpResponse {
  statusCode?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * "Come back later": not a failure, so no exception. The runtime answers 429 with Retry-After
 * (whole seconds, at least 1), which the broker honours before its next attempt, and logs the
 * reason at info level. Made by retryLater().
 */
export class RetryLater {
  readonly afterMs: number;
  /** Short and safe to show the caller: it is the answer's `error`. */
  readonly reason: string;
  constructor(afterMs: number, reason: string) {
    // A NaN or negative wait is a bug in the caller; thrown, it is a 500 the broker still retries.
    if (!Number.isFinite(afterMs) || afterMs < 0) throw new RangeError(`retryLater: afterMs ${afterMs}`);
    this.afterMs = afterMs;
    this.reason = reason;
  }
}

export function retryLater(afterMs: number, reason: string): RetryLater {
  return new RetryLater(afterMs, reason);
}

/**
 * A CloudEvent reply (posted back to the broker), a plain HTTP answer, a deferral, or nothing
 * (204: done).
 */
export type HandlerResult = CloudEvent<unknown> | HttpResponse | RetryLater | undefined;

export interface FunctionModule {
  /**
   * Imports, without connecting anywhere, the packages the function's first events load lazily
   * (the Slack client, ioredis). Called only by the code cache's training run
   * (lib/platform/runtime/bundle-entry.cjs, scripts/build.ts), so that their compiled code is in the cache.
   */
  warm?(): Promise<void>;
  /** Prepares connections and configuration; readiness stays 503 until it resolves. */
  init?(): Promise<void> | void;
  handle(
    context: InvocationContext,
    event: CloudEvent<unknown> | undefined,
  ): Promise<HandlerResult> | HandlerResult;
  /** Runs after in-flight requests drained on SIGTERM. */
  shutdown?(): Promise<void> | void;
  liveness?(): Promise<boolean> | boolean;
  readiness?(): Promise<boolean> | boolean;
  /**
   * Checks a request before its body is read (path, method, credentials) and throws an AppError
   * (404, 405, 401) to refuse it: an unauthenticated body is never read or parsed.
   */
  accept?(request: { method: string; path: string; headers: IncomingHttpHeaders }): void;
  /** When true, non-CloudEvent HTTP requests reach `handle` (alert-ingest's webhook). */
  acceptsHttp?: boolean;
}
