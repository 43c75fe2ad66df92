// One error hierarchy for the whole agent. Every failure carries the HTTP status the runtime
// answers with and whether a retry can help; third-party errors are wrapped where they enter.

export interface AppErrorOptions {
  cause?: unknown;
  /** Seconds the caller should wait before retrying (sent as Retry-After). */
  retryAfter?: number;
}

export class AppError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfter: number | undefined;
  /** Safe to show to the caller: never internals, never secrets. */
  readonly publicMessage: string;

  constructor(status: number, publicMessage: string, retryable: boolean, options: AppErrorOptions = {}) {
    super(publicMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.retryable = retryable;
    this.retryAfter = options.retryAfter;
    this.publicMessage = publicMessage;
  }
}

/** Malformed or invalid input: 400, never retried by Knative or Alertmanager. */
export class BadRequestError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, message, false, options);
  }
}

export class UnauthorizedError extends AppError {
  constructor(options?: AppErrorOptions) {
    // The message says nothing about why: no hint whether the user, scheme or secret was wrong.
    super(401, 'unauthorized', false, options);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found', options?: AppErrorOptions) {
    super(404, message, false, options);
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(options?: AppErrorOptions) {
    super(405, 'method not allowed', false, options);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: number, options?: AppErrorOptions) {
    super(413, `request body larger than ${limit} bytes`, false, options);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(415, message, false, options);
  }
}

/** A downstream asked us to slow down: 429 with Retry-After, so the broker retries later. */
export class RateLimitedError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(429, message, true, options);
  }
}

/** A dependency is unavailable or slow (Redis, the sink, Slack 5xx): 503, retried. */
export class UnavailableError extends AppError {
  /**
   * The request may have reached the dependency and taken effect before the failure (a
   * timeout, a dropped connection, a 5xx): a retry should check before doing it again.
   */
  readonly maybeApplied: boolean;
  constructor(message: string, options?: AppErrorOptions & { maybeApplied?: boolean }) {
    super(503, message, true, options);
    this.maybeApplied = options?.maybeApplied ?? false;
  }
}

/**
 * A dependency rejected the request for a reason a retry will not fix by itself
 * (bad token, unknown channel). Answered 500 so the broker still retries and then
 * dead-letters it: the event is kept, never acknowledged as delivered.
 */
export class DependencyError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(500, message, false, options);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Maps any thrown value to what the runtime answers. Unknown errors never leak their text. */
export function toHttpError(err: unknown): { status: number; message: string; retryAfter?: number } {
  if (err instanceof AppError) {
    return err.retryAfter === undefined
      ? { status: err.status, message: err.publicMessage }
      : { status: err.status, message: err.publicMessage, retryAfter: err.retryAfter };
  }
  return { status: 500, message: 'internal error' };
}

/** A setting (environment variable, pattern) a function cannot start with. */
export class ConfigError extends Error {}

/** A configuration file that cannot be used (unreadable, not YAML, not valid): the old one stays. */
export class ConfigFileError extends Error {}
