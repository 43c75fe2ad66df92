// What can go wrong asking Prometheus, told apart so a note can say it in one line. Nothing here
// reaches the runtime: a metrics problem never stops the message, it only becomes a note.

export type PrometheusErrorKind =
  /** Connection refused, DNS, TLS, or a 5xx from Prometheus or the proxy in front of it. */
  | 'down'
  /** No answer within the timeout (or the enrichment's budget ran out). */
  | 'timeout'
  /** 401 or 403: a wrong or expired token, missing basic credentials or tenant header. */
  | 'unauthorized'
  /** 400 or 422: the query itself (Prometheus says why). */
  | 'query'
  /** The query ran and found no series. */
  | 'empty';

export class PrometheusError extends Error {
  readonly kind: PrometheusErrorKind;
  readonly status: number | undefined;
  constructor(kind: PrometheusErrorKind, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PrometheusError';
    this.kind = kind;
    this.status = opts.status;
  }
}

/** The one-line note a failed query leaves in the message. */
export function prometheusNote(err: unknown): string {
  if (!(err instanceof PrometheusError)) return `Prometheus: ${(err as Error)?.message ?? String(err)}`;
  switch (err.kind) {
    case 'down':
      return `Prometheus unreachable (${err.message}): no graphs.`;
    case 'timeout':
      return `Prometheus did not answer in time (${err.message}): no graphs.`;
    case 'unauthorized':
      return `Prometheus refused the credentials (HTTP ${err.status}): check the token, basic auth or tenant header.`;
    case 'query':
      return `Prometheus rejected a query: ${err.message}`;
    case 'empty':
      // The part's own words: which metric has no series, and what is left out for it.
      return err.message;
  }
}
