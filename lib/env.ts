// Environment settings shared by the functions, parsed once with zod at start-up.
import { z } from 'zod';
import { formatZodError } from './events.ts';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const CommonEnv = z.object({
  CLUSTER_NAME: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
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
  /** Alertmanager payloads with many alerts are large; 4 MiB fits thousands. */
  MAX_BODY_BYTES: positiveInt(4 * 1024 * 1024),
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
  /** Extra secret patterns for logs: a JSON array of regexes or one per line (lib/enrich/redact.ts). */
  LOG_REDACT_PATTERNS: optionalString,
});

export const DispatchEnv = CommonEnv.extend({
  SLACK_BOT_TOKEN: optionalString,
  SLACK_CHANNEL: optionalString,
  SLACK_API_URL: optionalString,
  SLACK_TIMEOUT_MS: positiveInt(10_000),
  REDIS_URL: optionalString,
  THREAD_TTL_SECONDS: positiveInt(14 * 24 * 3600),
});

export class ConfigError extends Error {}

export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
