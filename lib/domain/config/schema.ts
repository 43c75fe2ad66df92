// The operator's configuration file (one YAML document, mounted from a ConfigMap): built-in
// workflows switched on and tuned, custom workflows, silences, destinations and routes.
// The zod schema is the source of truth; the committed JSON Schema is generated from it.
import * as z from 'zod';
import { SEVERITIES } from '../issue.ts';
import { ChangeTracking } from './change-tracking.ts';
import { INCIDENT_DESTINATIONS } from './destinations.ts';
import { MATCHER } from './matcher-syntax.ts';
import { GraphAction, PrometheusConfig } from './prometheus.ts';

const toggle = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject({ enabled: z.boolean().default(true), ...shape }).prefault({} as never);

export { MATCHER };

const Matcher = z.string().refine((s) => MATCHER.test(s), {
  message: 'expected a matcher like name="value", name!="value", name=~"regex" or name!~"regex"',
});
// A single value or a list; a single value is read as a one-item list, so errors name the item.
const oneOrMany = <T extends z.ZodType>(t: T) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(t));
const SeverityName = z.enum(SEVERITIES);

const AlertTrigger = z.strictObject({
  on: z.literal('alert'),
  alertName: oneOrMany(z.string()).optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  severity: oneOrMany(SeverityName).optional(),
  namespace: oneOrMany(z.string()).optional(),
  matchers: z.array(Matcher).optional(),
});
const EventTrigger = z.strictObject({
  on: z.literal('event'),
  reason: oneOrMany(z.string()).optional(),
  type: z.enum(['Warning', 'Normal']).optional(),
  kind: oneOrMany(z.string()).optional(),
  namespace: oneOrMany(z.string()).optional(),
});
export const Trigger = z.discriminatedUnion('on', [AlertTrigger, EventTrigger]);
export type Trigger = z.infer<typeof Trigger>;

const Id = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/, 'expected a Slack ID such as U0123ABCD or S0456EFGH');

/** Built-in actions a custom workflow can run, with their parameters. */
export const Action = z.union([
  z.strictObject({
    podLogs: z.strictObject({
      tail: z.number().int().positive().max(10_000).optional(),
      previous: z.boolean().optional(),
      container: z.string().optional(),
    }),
  }),
  z.strictObject({ podInvestigator: z.strictObject({}).prefault({}) }),
  z.strictObject({ nodeStatus: z.strictObject({}).prefault({}) }),
  z.strictObject({ template: z.strictObject({ title: z.string().optional(), text: z.string().min(1) }) }),
  z.strictObject({
    mention: z.strictObject({
      users: z.array(Id).default([]),
      groups: z.array(Id).default([]),
      /** Label whose value picks IDs from `map`: only configured IDs can ever be mentioned. */
      fromLabel: z.string().optional(),
      map: z.record(z.string(), z.array(Id)).default({}),
    }),
  }),
  z.strictObject({ explanation: z.strictObject({}).prefault({}) }),
  z.strictObject({ graph: GraphAction }),
]);
export type Action = z.infer<typeof Action>;

export const CustomWorkflow = z.strictObject({
  name: z.string().min(1),
  triggers: z.array(Trigger).min(1),
  actions: z.array(Action).default([]),
  /** Ends the chain: later custom workflows are not considered. */
  stop: z.boolean().default(false),
});

const Explanation = z.strictObject({ explanation: z.string(), nextSteps: z.array(z.string()).default([]) });

export const BuiltinWorkflows = z
  .strictObject({
    alertEnrichment: z
      .strictObject({
        defaultEnricher: toggle({ alertAnnotationsEnrichment: z.boolean().default(true) }),
        alertExplanation: toggle({ overrides: z.record(z.string(), Explanation).default({}) }),
        template: toggle({ text: z.string().optional() }),
      })
      .prefault({}),
    podTroubleshooting: z
      .strictObject({
        podInvestigator: toggle({}),
        podLogs: toggle({ tailLines: z.number().int().positive().max(10_000).default(100) }),
        podEvents: toggle({}),
        imagePullBackoff: toggle({}),
        evicted: toggle({}),
        pending: toggle({}),
      })
      .prefault({}),
    oomKiller: z
      .strictObject({ podOomKillerEnricher: toggle({ attachLogs: z.boolean().default(true) }) })
      .prefault({}),
    nodeHealth: z
      .strictObject({ nodeStatus: toggle({}), nodeAllocatable: toggle({}), nodeRunningPods: toggle({}) })
      .prefault({}),
    eventHandling: toggle({}),
  })
  .prefault({});

const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24h)');
export const TimeWindow = z.strictObject({
  days: z.array(Weekday).default(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
  start: ClockTime,
  end: ClockTime,
  /** IANA zone, e.g. Europe/Berlin. */
  timezone: z.string().default('UTC'),
});

export const Silence = z.strictObject({
  name: z.string().min(1),
  alertNames: z.array(z.string()).optional(),
  severities: z.array(SeverityName).optional(),
  matchers: z.array(Matcher).optional(),
  /** Recurring windows; with none the silence holds whenever its other fields match. */
  windows: z.array(TimeWindow).optional(),
  startsAt: z.iso.datetime({ offset: true }).optional(),
  endsAt: z.iso.datetime({ offset: true }).optional(),
});
export type Silence = z.infer<typeof Silence>;

export const DestinationConfig = z.discriminatedUnion('type', [
  z.strictObject({
    name: z.string().min(1),
    type: z.literal('slack'),
    token: z.string().min(1),
    channel: z.string().min(1),
    apiUrl: z.url().optional(),
  }),
  z.strictObject({ name: z.string().min(1), type: z.literal('terminal') }),
  ...INCIDENT_DESTINATIONS,
]);
export type DestinationConfig = z.infer<typeof DestinationConfig>;

const StringMatch = z.union([z.string(), z.strictObject({ regex: z.string() })]);
export const RouteMatch = z.strictObject({
  namespace: oneOrMany(StringMatch).optional(),
  severity: oneOrMany(SeverityName).optional(),
  source: z.enum(['prometheus', 'kubernetes']).optional(),
  kind: oneOrMany(StringMatch).optional(),
  labels: z.record(z.string(), StringMatch).optional(),
});
export type RouteMatch = z.infer<typeof RouteMatch>;

export const Route = z.strictObject({
  name: z.string().optional(),
  match: RouteMatch.default({}),
  destinations: z.array(z.string()).min(1),
  /** Slack channel taken from this label, then annotation, else the destination's own channel. */
  channelFromLabel: z.string().optional(),
  channelFromAnnotation: z.string().optional(),
  /** Keep looking at later routes after this one matched. */
  continue: z.boolean().default(false),
});
export type Route = z.infer<typeof Route>;

/**
 * Workflows written in TypeScript (docs/custom-workflows.md): the directory of `.ts` files
 * run-workflows loads, each run's limits, and what the code may reach. Off without a directory.
 */
export const CodeWorkflows = z
  .strictObject({
    /** Where the `.ts` files are (the manifests mount the ConfigMap kubeincident-code-workflows at /etc/kubeincident-workflows). */
    directory: z.string().min(1).optional(),
    timeoutMs: z.number().int().positive().max(30_000).default(2000),
    memoryMiB: z.number().int().min(4).max(512).default(32),
    /** Most bytes of JSON one run may return. */
    resultKiB: z.number().int().positive().max(192).default(64),
    /** The only Slack IDs a workflow may mention; any other is left out (and noted on the issue). */
    mentionIds: z.array(Id).default([]),
    /** Hosts each workflow (by name) may fetch from; none by default. */
    allowHosts: z.record(z.string(), z.array(z.string().min(1))).default({}),
    /** Lets fetch reach loopback addresses (local development only). */
    allowLoopback: z.boolean().default(false),
  })
  .prefault({});
export type CodeWorkflows = z.infer<typeof CodeWorkflows>;

export const Config = z.strictObject({
  workflows: BuiltinWorkflows,
  customWorkflows: z.array(CustomWorkflow).default([]),
  codeWorkflows: CodeWorkflows,
  silences: z.array(Silence).default([]),
  destinations: z.array(DestinationConfig).default([]),
  routes: z.array(Route).default([]),
  defaultRoute: z.strictObject({ destinations: z.array(z.string()).min(1) }).optional(),
  prometheus: PrometheusConfig,
  changeTracking: ChangeTracking,
});
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
