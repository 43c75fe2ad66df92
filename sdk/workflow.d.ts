// Types for workflows written in TypeScript (docs/custom-workflows.md). A workflow file imports
// them for the editor and the compiler only: `import type { Workflow } from './workflow';`.
// Written from lib/domain (issue.ts, config/schema.ts, code-workflow.ts, kube.ts);
// test/workflow-sdk.test.ts holds the two equal and compiles an example against this file.

export type Severity = 'HIGH' | 'LOW' | 'INFO' | 'DEBUG';

export interface Subject {
  /** Kubernetes kind (Pod, Node, Deployment, ...), or Namespace / Cluster when nothing narrower is known. */
  kind: string;
  name?: string | undefined;
  namespace?: string | undefined;
  node?: string | undefined;
  container?: string | undefined;
}

export interface Link {
  type: 'graph' | 'runbook' | 'silence' | 'alertmanager' | 'other';
  title: string;
  /** http(s) only. */
  url: string;
}

// Block text is plain text: it is escaped, so no block can ping a channel or spoof a link.
export interface MarkdownBlock {
  type: 'markdown';
  text: string;
}
export interface TableBlock {
  type: 'table';
  title?: string | undefined;
  headers: string[];
  rows: string[][];
}
export interface ListBlock {
  type: 'list';
  title?: string | undefined;
  items: string[];
}
export interface JsonBlock {
  type: 'json';
  title?: string | undefined;
  data: unknown;
}
export interface LinksBlock {
  type: 'links';
  links: Link[];
}
export interface FileBlock {
  type: 'file';
  filename: string;
  title?: string | undefined;
  contentType?: string | undefined;
  content: string;
  truncated?: boolean | undefined;
}
/** What a workflow may return as blocks. */
export type WorkflowBlock = MarkdownBlock | TableBlock | ListBlock | JsonBlock | LinksBlock | FileBlock;
/** A PNG an enricher drew (enrich-metrics' graphs); shown inline in the thread. */
export interface ImageBlock {
  type: 'image';
  filename: string;
  title?: string | undefined;
  /** What the picture shows, for text-only destinations and screen readers. */
  alt: string;
  contentType: 'image/png';
  /** The PNG, base64. */
  data: string;
}
/** What an issue may already hold (the enrichers also write headers, dividers and images). */
export type Block = WorkflowBlock | ImageBlock | { type: 'header'; text: string } | { type: 'divider' };

export interface Enrichment {
  source: string;
  title?: string | undefined;
  about?: string | undefined;
  verdict?: string | undefined;
  blocks: Block[];
}

export interface Issue {
  id: string;
  /** Stable across repeats, resolution and re-fire: keys the Slack thread. */
  fingerprint: string;
  type: 'alert' | 'event' | 'change';
  source: 'prometheus' | 'kubernetes';
  title: string;
  description?: string | undefined;
  severity: Severity;
  status: 'firing' | 'resolved';
  cluster?: string | undefined;
  subject: Subject;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  links: Link[];
  startsAt: string;
  endsAt?: string | undefined;
  /** What the enrichers (and earlier workflows) found. */
  enrichments: Enrichment[];
  occurrences?:
    | {
        count: number;
        lastSeen: string;
        objects?: number | undefined;
        sample?: string[] | undefined;
      }
    | undefined;
  /** The configuration's decisions for this issue; read-only for workflows. */
  actions?: Record<string, unknown> | undefined;
  plan: string[];
}

/** The same trigger syntax as the YAML custom workflows. */
export type Trigger =
  | {
      on: 'alert';
      alertName?: string | string[] | undefined;
      status?: 'firing' | 'resolved' | undefined;
      severity?: Severity | Severity[] | undefined;
      namespace?: string | string[] | undefined;
      /** Alertmanager matchers: name="v", name!="v", name=~"re", name!~"re". */
      matchers?: string[] | undefined;
    }
  | {
      on: 'event';
      reason?: string | string[] | undefined;
      type?: 'Warning' | 'Normal' | undefined;
      kind?: string | string[] | undefined;
      namespace?: string | string[] | undefined;
    };

/** Slack user (U...) or user group (S...) IDs: only those in codeWorkflows.mentionIds are kept. */
export interface Mentions {
  users?: string[] | undefined;
  groups?: string[] | undefined;
}

export interface WorkflowOutput {
  /** The title of this workflow's section (default: its name). */
  title?: string | undefined;
  /** One line read first. */
  verdict?: string | undefined;
  blocks?: WorkflowBlock[] | undefined;
  mentions?: Mentions | undefined;
  severity?: Severity | undefined;
}

/** Nothing, "drop" (the issue is not sent), or any of blocks, mentions and a severity. */
export type WorkflowResult = WorkflowOutput | 'drop' | null | undefined;

/** Kinds ctx.k8s reads (never Secrets or ConfigMaps). */
export type ReadableKind =
  | 'Pod'
  | 'Event'
  | 'Service'
  | 'PersistentVolumeClaim'
  | 'Node'
  | 'Namespace'
  | 'Deployment'
  | 'StatefulSet'
  | 'DaemonSet'
  | 'ReplicaSet'
  | 'Job'
  | 'CronJob';

/** An API object as the API server sends it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface FetchAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
}

export interface PrometheusData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: unknown;
}

export interface Logger {
  debug(message: string, fields?: unknown): void;
  info(message: string, fields?: unknown): void;
  warn(message: string, fields?: unknown): void;
  error(message: string, fields?: unknown): void;
}

/** Everything a workflow can reach. There is no process, file system, environment or clock. */
export interface WorkflowContext {
  readonly workflow: string;
  /** When this run started (ISO 8601). */
  now(): string;
  readonly log: Logger;
  readonly k8s: {
    get(ref: { kind: ReadableKind; name: string; namespace?: string }): Promise<KubeObject>;
    list(query: {
      kind: ReadableKind;
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      /** At most 500; default 100. */
      limit?: number;
    }): Promise<{ items: KubeObject[]; more: boolean }>;
    logs(query: {
      namespace: string;
      pod: string;
      container?: string;
      previous?: boolean;
      tailLines?: number;
    }): Promise<string>;
  };
  /**
   * Present when the config file's prometheus.url (or PROMETHEUS_URL) is set; queries carry its
   * credentials, headers and label matchers, as enrich-metrics' do.
   */
  readonly prometheus?: {
    query(promql: string, opts?: { time?: string | number }): Promise<PrometheusData>;
  };
  /** Only to the hosts codeWorkflows.allowHosts lists for this workflow. Redirects are not followed. */
  fetch(
    url: string,
    init?: { method?: 'GET' | 'POST' | 'HEAD'; headers?: Record<string, string>; body?: string },
  ): Promise<FetchAnswer>;
}

export interface Workflow {
  /** Lowercase letters, digits and dashes; unique in the directory. */
  name: string;
  triggers: Trigger[];
  run(issue: Issue, ctx: WorkflowContext): WorkflowResult | Promise<WorkflowResult>;
}
