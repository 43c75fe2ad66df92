// Kubernetes API failures as one AppError subclass, built where client-node errors enter, so
// enrichers can tell "forbidden" from "gone" from "slow" without knowing the client library.
import { AppError, type AppErrorOptions } from '../platform/errors.ts';

/** Status reasons the API server sends, plus the ones we give failures that never got an answer. */
export type KubeErrorReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Expired'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'NetworkError'
  | 'ConfigError'
  | 'Unknown';

const REASON_BY_CODE: Record<number, KubeErrorReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  // A list's continue token outlived etcd compaction: the list must start over.
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export interface KubeApiErrorOptions extends AppErrorOptions {
  /** The API server's Status message, for logs; may name users and resources. */
  detail?: string;
}

export class KubeApiError extends AppError {
  /** HTTP status from the API server; 0 when no answer came (timeout, network, config). */
  readonly code: number;
  readonly reason: KubeErrorReason;
  readonly detail: string | undefined;

  constructor(code: number, reason: KubeErrorReason, message: string, options: KubeApiErrorOptions = {}) {
    // Slow or overloaded API servers are worth a retry; a refusal or a missing object is not.
    const retryable =
      reason === 'Timeout' || reason === 'NetworkError' || code === 429 || (code >= 500 && code !== 501);
    super(retryable ? 503 : 500, message, retryable, options);
    this.code = code;
    this.reason = reason;
    this.detail = options.detail;
  }
}

export function isKubeApiError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError;
}

export function reasonForCode(code: number): KubeErrorReason {
  return REASON_BY_CODE[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
}

/** Short, human wording for a note: "forbidden (403)", "timed out after 5s". */
export function describeKubeError(err: unknown): string {
  if (!(err instanceof KubeApiError)) return 'unexpected error';
  switch (err.reason) {
    case 'Timeout':
      return err.code === 0 ? err.publicMessage : `timed out (${err.code})`;
    case 'NetworkError':
      return err.publicMessage;
    case 'ConfigError':
      return 'no usable cluster configuration';
    default: {
      const words = err.reason.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
      return `${words} (${err.code})`;
    }
  }
}

/** The Status reasons taken from an API server's answer as they are; others map by code. */
export const KNOWN_STATUS_REASONS = new Set<string>([
  'BadRequest',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'Expired',
  'TooManyRequests',
  'InternalError',
  'ServiceUnavailable',
  'Timeout',
]);

export interface StatusBody {
  message?: string;
  reason?: string;
  code?: number;
}

/** The metav1.Status of an error answer (raw JSON text or already parsed). */
export function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === 'object' && body !== null) return body as StatusBody;
  if (typeof body !== 'string' || body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as StatusBody) : undefined;
  } catch {
    return { message: body.slice(0, 500) };
  }
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
