// The Issue: the one structured record every stage reads and writes. Schemas are the source of
// truth; TypeScript types and the published JSON Schemas are both derived from them.
import * as z from 'zod';
import { own } from '../platform/own.ts';

/**
 * The Issue's size caps: every stage parses issues with the schema below, so an ingest function
 * that cuts to these (lib/domain/fit.ts) emits only issues every later stage accepts.
 */
export const ISSUE_LIMITS = {
  title: 1000,
  description: 20_000,
  /** One label or annotation value, in UTF-16 code units (string length). */
  value: 4096,
  /** One label or annotation name. */
  key: 256,
  /**
   * An issue's JSON as it leaves ingest. enrich-pod and enrich-node may each add at most
   * `enrichmentBytes`, enrich-metrics at most `metricsEnrichmentBytes` (its pictures): 512 +
   * 2 x 192 + 96 KiB and the headers stay under a Kafka broker's default 1 MB message, far under
   * MAX_BODY_BYTES (lib/platform/limits.ts).
   */
  ingestBytes: 512 * 1024,
  enrichmentBytes: 192 * 1024,
  metricsEnrichmentBytes: 96 * 1024,
} as const;

/**
 * RFC 3339 with a 4-digit year, what every stage accepts for a time. Alertmanager and the
 * Kubernetes API (Go's time.Time) cannot write anything else.
 */
export const Timestamp = z.iso.datetime({ offset: true });

export const SEVERITIES = ['HIGH', 'LOW', 'INFO', 'DEBUG'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** `change`: a workload's spec changed (config `changeTracking:`), not a failure. */
export const IssueType = z.enum(['alert', 'event', 'change']);
export const IssueSource = z.enum(['prometheus', 'kubernetes']);
export const IssueStatus = z.enum(['firing', 'resolved']);
export type IssueStatus = z.infer<typeof IssueStatus>;

/** Stages an issue can still pass through, in the only order they may run (no Trigger loops). */
export const STAGES = ['enrichpod', 'enrichnode', 'enrichmetrics', 'workflows', 'dispatch'] as const;
export const Stage = z.enum(STAGES);
export type Stage = z.infer<typeof Stage>;

export const Subject = z.object({
  /** Kubernetes kind (Pod, Node, Deployment, ...), or Namespace / Cluster when nothing narrower is known. */
  kind: z.string().min(1).max(63),
  name: z.string().max(253).optional(),
  namespace: z.string().max(63).optional(),
  node: z.string().max(253).optional(),
  container: z.string().max(253).optional(),
});
export type Subject = z.infer<typeof Subject>;

const httpUrl = z
  .string()
  .max(4000)
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http(s) URL' });

export const Link = z.object({
  type: z.enum(['graph', 'runbook', 'silence', 'alertmanager', 'other']),
  title: z.string().max(200),
  url: httpUrl,
});
export type Link = z.infer<typeof Link>;

// Block text is plain text: renderers escape all of it, so no block can ping a channel or
// spoof a link. Emphasis is carried by block structure (header, table), links only by links.
export const HeaderBlock = z.object({ type: z.literal('header'), text: z.string() });
export const MarkdownBlock = z.object({ type: z.literal('markdown'), text: z.string() });
export const TableBlock = z.object({
  type: z.literal('table'),
  title: z.string().optional(),
  headers: z.array(z.string()),
  rows: z.array(z.array(z.string())),
});
export const FileBlock = z.object({
  type: z.literal('file'),
  filename: z.string().min(1).max(255),
  title: z.string().optional(),
  contentType: z.string().default('text/plain'),
  content: z.string(),
  /** Set when the content was cut to a size cap, so readers know it is not whole. */
  truncated: z.boolean().optional(),
});
/**
 * A picture (a graph from enrich-metrics), kept whole on the Issue so every destination can use
 * it: Slack uploads it into the thread, where it shows inline. PNG bytes, base64.
 */
export const ImageBlock = z.object({
  type: z.literal('image'),
  filename: z.string().min(1).max(255),
  title: z.string().max(500).optional(),
  /** What the picture shows, for text-only destinations and screen readers. */
  alt: z.string().max(1000),
  contentType: z.literal('image/png'),
  data: z.base64().max(400_000),
});
export const JsonBlock = z.object({
  type: z.literal('json'),
  title: z.string().optional(),
  data: z.unknown(),
});
export const ListBlock = z.object({
  type: z.literal('list'),
  title: z.string().optional(),
  items: z.array(z.string()),
});
export const LinksBlock = z.object({ type: z.literal('links'), links: z.array(Link) });
export const DividerBlock = z.object({ type: z.literal('divider') });

export const Block = z.discriminatedUnion('type', [
  HeaderBlock,
  MarkdownBlock,
  TableBlock,
  FileBlock,
  ImageBlock,
  JsonBlock,
  ListBlock,
  LinksBlock,
  DividerBlock,
]);
export type Block = z.infer<typeof Block>;
export type TableBlock = z.infer<typeof TableBlock>;
export type FileBlock = z.infer<typeof FileBlock>;
export type ImageBlock = z.infer<typeof ImageBlock>;

export const Enrichment = z.object({
  /** Which enricher produced it (enrich-pod, enrich-node, ...). */
  source: z.string(),
  title: z.string().optional(),
  /**
   * The object it looks at, by name (a pod, a node, a workload): files cut from its blocks are
   * named after it (`worker-1 conditions.txt`).
   */
  about: z.string().max(253).optional(),
  /** One line an on-call engineer reads first ("OOMKilled: limit 256Mi reached 3 times"). */
  verdict: z.string().optional(),
  blocks: z.array(Block),
});
export type Enrichment = z.infer<typeof Enrichment>;

/**
 * How often the condition was seen, for issues that fold repeats: a Kubernetes Event's count,
 * or a storm of alerts grouped into one issue. A change edits the root message (rate-bounded).
 */
export const Occurrences = z.object({
  count: z.number().int().positive(),
  lastSeen: Timestamp,
  /** Distinct objects affected (pods of a rollout), when the issue groups several. */
  objects: z.number().int().nonnegative().optional(),
  /** A few of the affected objects' names, for the message. */
  sample: z.array(z.string().max(253)).max(20).optional(),
});
export type Occurrences = z.infer<typeof Occurrences>;

const SlackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/);

/** enrich-pod's diagnoses that the configuration can switch off one by one. */
export const POD_DIAGNOSES = ['imagePullBackoff', 'evicted', 'pending', 'oomKiller'] as const;

/**
 * What the configuration decided for this issue at ingest: which enrichment parts run (each
 * enricher does only its part) and who is mentioned. Absent means the built-in defaults.
 */
export const Actions = z.object({
  /** Pod logs to attach; false turns them off. */
  podLogs: z
    .union([
      z.literal(false),
      z.object({
        tail: z.number().int().positive().optional(),
        previous: z.boolean().optional(),
        container: z.string().optional(),
      }),
    ])
    .optional(),
  podInvestigator: z.boolean().optional(),
  podEvents: z.boolean().optional(),
  nodeStatus: z.boolean().optional(),
  /** Pod diagnoses whose evidence the configuration turned off. */
  disabledDiagnoses: z.array(z.enum(POD_DIAGNOSES)).optional(),
  /** False leaves an OOM-killed container's logs out. */
  attachOomLogs: z.boolean().optional(),
  /** enrich-node sections switched off (workflows.nodeHealth). */
  nodeSections: z
    .object({
      status: z.boolean().optional(),
      allocatable: z.boolean().optional(),
      runningPods: z.boolean().optional(),
    })
    .optional(),
  /** Prometheus is configured (prometheus.enabled): an OOM kill found later may add enrich-metrics. */
  metrics: z.boolean().optional(),
  /** Custom workflows' `graph` actions, drawn by enrich-metrics. */
  graphs: z
    .array(
      z.object({
        query: z.string().max(2000),
        title: z.string().max(200).optional(),
        unit: z.enum(['bytes', 'cores', 'ratio', 'none']),
        seconds: z.number().int().positive(),
      }),
    )
    .max(10)
    .optional(),
  /** Only IDs from the configuration: nothing in an alert can make the agent ping anyone else. */
  mentions: z.object({ users: z.array(SlackId), groups: z.array(SlackId) }).optional(),
  /** Custom workflows that matched, in order (for the log and metrics). */
  workflows: z.array(z.string()).optional(),
});
export type Actions = z.infer<typeof Actions>;

/** Labels and annotations: names and values capped (lib/domain/fit.ts cuts longer ones at ingest). */
const StringMap = z.record(z.string().max(ISSUE_LIMITS.key), z.string().max(ISSUE_LIMITS.value));

export const Issue = z.object({
  /** Unique per occurrence (one firing or one resolution of one alert). */
  id: z.string().min(1).max(200),
  /** Stable across repeats, resolution and re-fire of the same alert or object: keys threads. */
  fingerprint: z.string().min(1).max(200),
  type: IssueType,
  source: IssueSource,
  title: z.string().max(ISSUE_LIMITS.title),
  description: z.string().max(ISSUE_LIMITS.description).optional(),
  severity: Severity,
  status: IssueStatus,
  cluster: z.string().max(200).optional(),
  subject: Subject,
  labels: StringMap,
  annotations: StringMap,
  links: z.array(Link),
  startsAt: Timestamp,
  endsAt: Timestamp.optional(),
  enrichments: z.array(Enrichment),
  occurrences: Occurrences.optional(),
  actions: Actions.optional(),
  /** Stages still to run, in STAGES order; the head is mirrored in the `nextstage` extension. */
  plan: z.array(Stage),
});
export type Issue = z.infer<typeof Issue>;
export type IssueInput = z.input<typeof Issue>;

const SEVERITY_BY_LABEL: Record<string, Severity> = {
  critical: 'HIGH',
  high: 'HIGH',
  error: 'HIGH',
  warning: 'LOW',
  low: 'LOW',
  info: 'INFO',
  debug: 'DEBUG',
};

/** Maps a `severity` label to the Issue severity; anything unknown or missing is INFO. */
export function severityFromLabel(value: string | undefined): Severity {
  if (value === undefined) return 'INFO';
  return own(SEVERITY_BY_LABEL, value.trim().toLowerCase()) ?? 'INFO';
}

/** Removes the head of the plan once a stage has run, keeping STAGES order (no loops). */
export function advancePlan(plan: readonly Stage[], done: Stage): Stage[] {
  const doneIndex = STAGES.indexOf(done);
  return plan.filter((s) => STAGES.indexOf(s) > doneIndex);
}

/** Adds a stage to a plan while keeping STAGES order and refusing stages already passed. */
export function withStage(plan: readonly Stage[], stage: Stage, current?: Stage): Stage[] {
  if (current !== undefined && STAGES.indexOf(stage) <= STAGES.indexOf(current)) return [...plan];
  const set = new Set<Stage>([...plan, stage]);
  return STAGES.filter((s) => set.has(s));
}
