// Each stage's settings (environment variables), parsed with platform/env.ts's parseEnv at start-up.
import * as z from 'zod';
import { DEFAULT_CHANNEL_RATE } from './dispatch/channel-bucket.ts';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const CommonEnv = z.object({
  CLUSTER_NAME: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The workflows / routing file (mounted from a ConfigMap); unset means built-in defaults. */
  CONFIG_FILE: optionalString,
  CONFIG_POLL_MS: positiveInt(10_000),
});

export const AlertIngestEnv = CommonEnv.extend({
  K_SINK: z.url({ message: 'K_SINK must be the URL of the broker (set by the SinkBinding)' }),
  K_CE_OVERRIDES: optionalString,
  ALERTMANAGER_URL: optionalString,
  WEBHOOK_BEARER_TOKEN: optionalString,
  WEBHOOK_BASIC_USER: optionalString,
  WEBHOOK_BASIC_PASSWORD: optionalString,
  SINK_TIMEOUT_MS: positiveInt(10_000),
});

export const EnricherEnv = CommonEnv.extend({
  KUBE_TIMEOUT_MS: positiveInt(5_000),
  ENRICH_BUDGET_MS: positiveInt(15_000),
  LOG_TAIL_LINES: positiveInt(100),
  LOG_LIMIT_BYTES: positiveInt(64 * 1024),
  /** Rows in each events table of an enrichment. */
  EVENT_LIMIT: positiveInt(10),
  /** Pods read per workload or node (in pages of up to 250). */
  POD_LIMIT: positiveInt(500),
  /** A failure this many minutes after a rollout can be blamed on it (docs/workloads.md). */
  ROLLOUT_WINDOW_MINUTES: z.coerce
    .number()
    .int()
    .positive()
    .max(7 * 24 * 60)
    .default(60),
  /** Extra secret patterns for logs: a JSON array of regexes or one per line (lib/domain/diagnose/redact.ts). */
  LOG_REDACT_PATTERNS: optionalString,
});

/** enrich-metrics: the `prometheus:` section of the config file holds the rest (docs/metrics.md). */
export const MetricsEnv = CommonEnv.extend({
  /** Used when the config file's prometheus.url is unset; neither: the stage adds nothing. */
  PROMETHEUS_URL: optionalString,
  /** Everything the stage does for one issue (queries and drawing) fits in this. */
  ENRICH_BUDGET_MS: positiveInt(10_000),
});

/** run-workflows: the workflows' own limits are in the config file (codeWorkflows). */
export const WorkflowsEnv = CommonEnv.extend({
  KUBE_TIMEOUT_MS: positiveInt(5_000),
  /**
   * Used when the config file's prometheus.url is unset, as enrich-metrics does; neither:
   * workflows have no ctx.prometheus.
   */
  PROMETHEUS_URL: z
    .url({ message: 'PROMETHEUS_URL must be an http(s) URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** One ctx.fetch or ctx.prometheus call's time (the shorter of this and prometheus.timeout), within the run's own limit. */
  WORKFLOW_CALL_TIMEOUT_MS: positiveInt(1_500),
});

export const DispatchEnv = CommonEnv.extend({
  SLACK_BOT_TOKEN: optionalString,
  SLACK_CHANNEL: optionalString,
  SLACK_API_URL: optionalString,
  SLACK_TIMEOUT_MS: positiveInt(10_000),
  REDIS_URL: optionalString,
  THREAD_TTL_SECONDS: positiveInt(14 * 24 * 3600),
  /** Calls per second per Slack channel, shared by all replicas through the store (see the default's note). */
  SLACK_CHANNEL_RATE: z.coerce.number().positive().default(DEFAULT_CHANNEL_RATE.perSecond),
  /** Calls a channel may take back to back before the rate applies. */
  SLACK_CHANNEL_BURST: positiveInt(DEFAULT_CHANNEL_RATE.burst),
  /**
   * The longest a new alert waits for its turn in a busy channel; past it, it goes into the
   * channel's digest (with its verdict) instead of a thread of its own. 0: never, always wait.
   */
  SLACK_BACKLOG_MAX_SECONDS: z.coerce.number().int().nonnegative().max(600).default(60),
  /** More new alerts than this of one group within STORM_WINDOW_SECONDS fold into a summary; 0 never folds. */
  STORM_THRESHOLD: z.coerce.number().int().nonnegative().default(5),
  STORM_WINDOW_SECONDS: positiveInt(60),
  /** Labels that make a storm group (comma-separated); namespace falls back to the subject's. */
  STORM_GROUP_BY: z.string().default('alertname,namespace'),
  /** Least time between two edits of a storm summary (and batches of alerts into its thread). */
  STORM_EDIT_INTERVAL_SECONDS: positiveInt(30),
  /** A batch of more alerts than this goes into the summary's thread as a file. */
  STORM_REPLY_LINES: positiveInt(20),
  /**
   * Where the terminal destination also sends the Block Kit of each message: the preview page
   * `npm start` serves (it sets both). Unset: no preview.
   */
  PREVIEW_URL: optionalString.pipe(
    z.url({ message: 'PREVIEW_URL must be the preview server URL (npm start sets it)' }).optional(),
  ),
  PREVIEW_TOKEN: optionalString,
});

/** k8s-event-ingest. Lists are comma-separated; a trailing `*` matches a prefix (`kube-*`). */
export const EventIngestEnv = CommonEnv.extend({
  REDIS_URL: optionalString,
  MAX_EVENT_AGE_SECONDS: positiveInt(600),
  /** Event types that become issues; pod failures count as Warning. */
  EVENT_TYPES: z.string().default('Warning'),
  EVENT_REASONS_INCLUDE: optionalString,
  /** Warnings that are noise almost everywhere: resolv.conf limits, probe redirects. */
  EVENT_REASONS_EXCLUDE: z.string().default('DNSConfigForming,ProbeWarning'),
  EVENT_KINDS_INCLUDE: optionalString,
  EVENT_KINDS_EXCLUDE: optionalString,
  EVENT_NAMESPACES_INCLUDE: optionalString,
  EVENT_NAMESPACES_EXCLUDE: optionalString,
  /** Longest a (workload, reason) period lasts, and how long its counters and dedup marks live. */
  EVENT_WINDOW_SECONDS: positiveInt(6 * 3600),
  /** An image pull must keep failing this long before it is reported. */
  IMAGE_PULL_GRACE_SECONDS: positiveInt(180),
  /** A failed pod must stay Ready this long after its last restart to count as recovered. */
  RECOVERY_STABLE_SECONDS: positiveInt(300),
  /** Extra secret patterns, sealed out of tracked workload changes (as enrich-pod's logs). */
  LOG_REDACT_PATTERNS: optionalString,
});

export { parseEnv } from '../platform/env.ts';

/** dispatch-webhook, dispatch-pagerduty, dispatch-teams, dispatch-jira (docs/destinations.md). */
export const IncidentDispatchEnv = CommonEnv.extend({
  REDIS_URL: optionalString,
  THREAD_TTL_SECONDS: positiveInt(14 * 24 * 3600),
  /** The longest one call to the service may take; past it the delivery is retried. */
  DESTINATION_TIMEOUT_MS: positiveInt(10_000),
});
