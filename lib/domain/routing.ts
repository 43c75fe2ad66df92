// Which stages an issue goes through: the one routing rule that alert ingest, Kubernetes Event
// ingest and the configuration's workflows all plan with. A subject goes to an enricher only when
// that enricher can read it (the same test the enricher itself applies), so nothing reaches
// enrich-pod only to come back "Not enriched"; a subject no enricher handles goes straight to
// dispatch. Also what an enricher hands back besides its enrichment.
import {
  type Actions,
  type Enrichment,
  type Issue,
  type IssueStatus,
  POD_DIAGNOSES,
  type Stage,
  type Subject,
} from './issue.ts';
import { isWorkloadKind, type WorkloadKind } from './kube.ts';
import { metricsParts } from './metrics.ts';

export interface EnrichResult {
  enrichment: Enrichment;
  /** The subject with what the enricher learned (e.g. `node` from pod.spec.nodeName). */
  subject?: Subject;
  /** A node found NotReady or under pressure: enrich-node adds a short section on it. */
  unhealthyNode?: string;
}

export type RoutedSubject = Pick<Subject, 'kind' | 'name' | 'namespace' | 'node'>;

/** Kinds enrich-pod reads besides pods and workloads (docs/workloads.md). */
export const OTHER_POD_TARGETS = ['CronJob', 'PersistentVolumeClaim'] as const;

/**
 * What enrich-pod reads: a pod, a workload whose pods it finds through the selector, a CronJob
 * (its Jobs) or a PersistentVolumeClaim (the pods that use it).
 */
export interface PodTarget {
  kind: 'Pod' | WorkloadKind | (typeof OTHER_POD_TARGETS)[number];
  name: string;
  namespace: string;
}

/**
 * The object enrich-pod reads for this subject, or undefined when it reads none: other kinds
 * (HorizontalPodAutoscaler, Service, ...) have no reader there, and without a name and namespace
 * there is nothing to read.
 */
export function podTarget(subject: RoutedSubject): PodTarget | undefined {
  const { kind, name, namespace } = subject;
  if (!name || !namespace) return undefined;
  if (kind === 'Pod' || isWorkloadKind(kind)) return { kind, name, namespace };
  const other = OTHER_POD_TARGETS.find((k) => k === kind);
  if (other) return { kind: other, name, namespace };
  return undefined;
}

/** The node enrich-node reads: the subject itself, or the node a pod subject runs on. */
export function nodeOf(subject: RoutedSubject): string | undefined {
  return subject.kind === 'Node' ? (subject.name ?? subject.node) : subject.node;
}

/** Whether each enricher has a part left to run for this issue. */
export interface EnricherWork {
  pod: boolean;
  node: boolean;
}

/**
 * The work Issue.actions leaves each enricher. Ingest wrote them from the configuration: its
 * built-in switches, then the custom workflows' podLogs, podInvestigator and nodeStatus, which
 * turn a part back on for the issues they match. enrich-pod has nothing to do with its
 * investigator, logs, events and every diagnosis off; enrich-node with nodeStatus off. No
 * actions: the defaults, everything on.
 */
export function enricherWork(actions: Actions | undefined): EnricherWork {
  if (!actions) return { pod: true, node: true };
  const pod =
    actions.podInvestigator !== false ||
    actions.podLogs !== false ||
    actions.podEvents !== false ||
    (actions.disabledDiagnoses?.length ?? 0) < POD_DIAGNOSES.length;
  return { pod, node: actions.nodeStatus !== false };
}

export interface PlanOptions {
  /** A resolution only edits the thread its firing started: no fresh diagnosis. */
  status?: IssueStatus;
  /** The configuration's decisions for this issue (absent: the defaults). */
  actions?: Actions | undefined;
  /** Prometheus is configured and enrich-metrics can draw something for the issue. */
  metrics?: boolean;
  /** Workflows written in TypeScript are configured (codeWorkflows.directory): run-workflows runs them. */
  workflows?: boolean;
}

/**
 * The stages an issue about this subject runs through. enrich-pod for a named pod or workload
 * in a namespace, enrich-node for a named node, each only when the configuration left it work;
 * dispatch always, last. A pod's unhealthy node is added later by enrich-pod (nextStagesAfterPod).
 */
export function planFor(subject: RoutedSubject, opts: PlanOptions = {}): Stage[] {
  if (opts.status === 'resolved') return ['dispatch'];
  const work = enricherWork(opts.actions);
  const stages: Stage[] = [];
  if (work.pod && podTarget(subject)) stages.push('enrichpod');
  if (work.node && subject.kind === 'Node' && nodeOf(subject)) stages.push('enrichnode');
  if (opts.metrics) stages.push('enrichmetrics');
  if (opts.workflows) stages.push('workflows');
  stages.push('dispatch');
  return stages;
}

/**
 * enrich-pod's follow-up: enrich-node, only when the pod's node is unhealthy and node work is on;
 * enrich-metrics when Prometheus is configured and the pod turned out OOM-killed (its memory graph).
 */
export function nextStagesAfterPod(
  issue: Pick<Issue, 'actions'> &
    Partial<Pick<Issue, 'status' | 'labels' | 'subject' | 'links' | 'title' | 'enrichments'>>,
  result: Pick<EnrichResult, 'unhealthyNode'> & Partial<Pick<EnrichResult, 'enrichment'>>,
): Stage[] {
  const stages: Stage[] = [];
  if (result.unhealthyNode !== undefined && enricherWork(issue.actions).node) stages.push('enrichnode');
  if (issue.actions?.metrics && issue.subject && result.enrichment) {
    const seen = metricsParts({
      status: issue.status ?? 'firing',
      labels: issue.labels ?? {},
      subject: issue.subject,
      links: issue.links ?? [],
      title: issue.title ?? '',
      enrichments: [...(issue.enrichments ?? []), result.enrichment],
    });
    if (seen.memory) stages.push('enrichmetrics');
  }
  return stages;
}
