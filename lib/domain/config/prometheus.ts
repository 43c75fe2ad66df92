// The `prometheus:` section of the configuration file: how enrich-metrics reaches the cluster's
// Prometheus (or Thanos, Mimir, VictoriaMetrics) and which graphs it draws, each switchable.
import * as z from 'zod';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A Prometheus-style duration (`90s`, `15m`, `3h`, `1h30m`, `2d`), as seconds. */
export const Duration = z
  .string()
  .regex(/^(\d+[smhd])+$/, 'expected a duration such as 15m, 3h or 1h30m')
  .transform((s) =>
    [...s.matchAll(/(\d+)([smhd])/g)].reduce(
      (t, [, n, u]) => t + Number(n) * (UNIT_SECONDS[u as string] ?? 0),
      0,
    ),
  )
  .refine((secs) => secs > 0 && secs <= 30 * 86_400, 'must be between 1s and 30d');

/** A PromQL label matcher: name="v", name!="v", name=~"re", name!~"re". */
const PromMatcher = z
  .string()
  .regex(
    /^[a-zA-Z_][a-zA-Z0-9_]*(=~|!~|!=|=)"(?:[^"\\]|\\.)*"$/,
    'expected a matcher like cluster="prod-eu"',
  );

const part = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject({ enabled: z.boolean().default(true), ...shape }).prefault({} as never);

export const PrometheusConfig = z
  .strictObject({
    /**
     * Whether issues go through enrich-metrics. Defaults to whether `url` is set; set it true
     * when enrich-metrics has PROMETHEUS_URL instead.
     */
    enabled: z.boolean().optional(),
    /** The server's base URL; PROMETHEUS_URL is used when this is unset. Neither: no graphs. */
    url: z.url().optional(),
    bearerTokenFile: z.string().min(1).optional(),
    basicAuth: z
      .strictObject({
        username: z.string().min(1),
        password: z.string().optional(),
        passwordFile: z.string().min(1).optional(),
      })
      .optional(),
    headers: z
      .record(z.string(), z.string())
      .refine((h) => Object.keys(h).every((k) => /^[A-Za-z0-9-]+$/.test(k)), {
        message: 'expected an HTTP header name (letters, digits and dashes) for each header',
      })
      .default({}),
    caFile: z.string().min(1).optional(),
    /** Each query's timeout; the enrichment's own budget still bounds them all. */
    timeout: Duration.default(5),
    matchers: z.array(PromMatcher).default([]),
    /** OOMKilled and memory alerts: the working set around the kill, limit and request lines. */
    memory: part({ before: Duration.default(3 * 3600), after: Duration.default(15 * 60) }),
    /** CPUThrottlingHigh: throttled periods over total periods, usage against the limit. */
    cpuThrottling: part({ window: Duration.default(3600) }),
    /** Any alert with a generatorURL: its own expression over the window, the top series only. */
    alertGraph: part({
      window: Duration.default(3600),
      topSeries: z.number().int().min(1).max(20).default(8),
    }),
    /** KubePersistentVolumeFillingUp: used over capacity, days until full at the `trend` rate. */
    volumes: part({ window: Duration.default(6 * 3600), trend: Duration.default(6 * 3600) }),
    /** TargetDown: `up` per instance of the job, which are down and since when. */
    targetDown: part({ window: Duration.default(3600) }),
    /** Node issues: memory and CPU use, and the alert's filesystem with days until full. */
    nodes: part({ window: Duration.default(3 * 3600), trend: Duration.default(6 * 3600) }),
    /** KubeCPUOvercommit, KubeMemoryOvercommit: requests by namespace against allocatable. */
    overcommit: part({
      window: Duration.default(6 * 3600),
      topNamespaces: z.number().int().min(1).max(20).default(6),
    }),
  })
  .transform((p) => ({ ...p, enabled: p.enabled ?? p.url !== undefined }))
  .prefault({});
export type PrometheusConfig = z.infer<typeof PrometheusConfig>;

/** The `graph` action of a custom workflow: one PromQL expression drawn into the thread. */
export const GraphAction = z.strictObject({
  query: z.string().min(1).max(2000),
  title: z.string().max(200).optional(),
  unit: z.enum(['bytes', 'cores', 'ratio', 'none']).default('none'),
  /** How far back from now the graph reaches. */
  duration: Duration.default(3600),
});
