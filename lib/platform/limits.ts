// Size limits every stage shares, in one place, so no stage refuses what an earlier one took:
// a webhook alert-ingest answered 200 must fit every later hop (the broker, the enrichers,
// dispatch-slack). The Issue's own field caps live with its schema (lib/domain/issue.ts).

/**
 * Request body cap of every function (the webhook and every CloudEvent) and of the local broker
 * (ingress and subscriber replies). 4 MiB holds a 10,000-alert webhook of compact alerts; issues
 * themselves stay far below it (ISSUE_LIMITS in lib/domain/issue.ts), so the events between stages also
 * fit a Kafka broker's default 1 MB message size.
 */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * What an event's `ce-*` headers may take together in binary mode. Node refuses a request
 * whose headers pass 16 KiB (`--max-http-header-size`), and the broker adds its own headers:
 * 8 KiB leaves room. The broker refuses a bigger event at its ingress (it could never be
 * delivered); the ingest functions stay below it by construction (test/limits.test.ts).
 */
export const MAX_ATTRIBUTE_HEADER_BYTES = 8 * 1024;
