// Which of enrich-metrics' graphs fit an issue: one rule, used by routing (is the stage worth a
// hop?) and by the enricher itself (what to draw). Pure: labels, verdicts and links only.
import type { Issue } from './issue.ts';

export interface MetricsParts {
  /** The pod and container whose memory to draw (OOM kills and memory alerts). */
  memory?: { namespace: string; pod: string; container?: string | undefined; killed: boolean };
  /** The pod and container whose CPU throttling to draw (CPUThrottlingHigh). */
  cpu?: { namespace: string; pod: string; container?: string | undefined };
  /** The alert's own expression, from its generatorURL's `g0.expr`. */
  expr?: string;
  /** Custom workflows' `graph` actions. */
  graphs?: NonNullable<NonNullable<Issue['actions']>['graphs']>;
  /** A PersistentVolumeClaim filling up (KubePersistentVolumeFillingUp). */
  volume?: { namespace: string; claim: string };
  /** A scrape job with targets down (TargetDown). */
  targets?: { job: string; namespace?: string | undefined };
  /** A node's memory and CPU, and the filesystem a node-exporter alert names. */
  node?: { name?: string | undefined; instance?: string | undefined; mountpoint?: string | undefined };
  /** Requests against allocatable (KubeCPUOvercommit, KubeMemoryOvercommit). */
  overcommit?: 'cpu' | 'memory';
}

const MEMORY_ALERT = /oom|memory/i;
const CPU_ALERT = /^CPUThrottlingHigh$|cputhrottl/i;

/** What enrich-metrics can draw for this issue; empty when nothing (a resolution never). */
export function metricsParts(
  issue: Pick<Issue, 'status' | 'labels' | 'subject' | 'links' | 'title' | 'enrichments'> &
    Partial<Pick<Issue, 'actions'>>,
): MetricsParts {
  if (issue.status === 'resolved') return {};
  const parts: MetricsParts = {};
  const alertname = issue.labels.alertname ?? '';
  const pod = podOf(issue);
  const oomSeen =
    /OOMKilled/.test(issue.title) ||
    issue.labels.reason === 'OOMKilled' ||
    issue.enrichments.some((e) => /OOMKilled|OOM kill/.test(e.verdict ?? ''));
  if (pod && (oomSeen || MEMORY_ALERT.test(alertname))) parts.memory = { ...pod, killed: oomSeen };
  if (pod && CPU_ALERT.test(alertname)) parts.cpu = pod;
  const expr = graphExpr(issue.links);
  if (expr) parts.expr = expr;
  if (issue.actions?.graphs?.length) parts.graphs = issue.actions.graphs;
  Object.assign(parts, clusterParts(issue, alertname));
  return parts;
}

const VOLUME_ALERT = /^KubePersistentVolume(FillingUp|InodesFillingUp)$/;
const NODE_ALERT = /^(Node|KubeNode|Kubelet)/;

/** Volumes, scrape targets, nodes and overcommit: named by the alert's labels or its subject. */
function clusterParts(issue: Pick<Issue, 'labels' | 'subject'>, alertname: string): MetricsParts {
  const { labels, subject } = issue;
  const parts: MetricsParts = {};
  const claim =
    labels.persistentvolumeclaim ?? (subject.kind === 'PersistentVolumeClaim' ? subject.name : undefined);
  const namespace = labels.namespace ?? subject.namespace;
  if (claim && namespace && (VOLUME_ALERT.test(alertname) || subject.kind === 'PersistentVolumeClaim'))
    parts.volume = { namespace, claim };
  if (alertname === 'TargetDown' && labels.job)
    parts.targets = { job: labels.job, namespace: labels.namespace };
  const nodeName = subject.kind === 'Node' ? (subject.name ?? subject.node) : labels.node;
  if ((subject.kind === 'Node' || NODE_ALERT.test(alertname)) && (nodeName || labels.instance))
    parts.node = { name: nodeName, instance: labels.instance, mountpoint: labels.mountpoint };
  if (alertname === 'KubeCPUOvercommit') parts.overcommit = 'cpu';
  if (alertname === 'KubeMemoryOvercommit') parts.overcommit = 'memory';
  return parts;
}

export function hasMetricsParts(p: MetricsParts): boolean {
  return Object.values(p).some((v) => v !== undefined);
}

function podOf(issue: Pick<Issue, 'labels' | 'subject'>) {
  const { subject, labels } = issue;
  const namespace = subject.namespace ?? labels.namespace;
  const pod = subject.kind === 'Pod' ? subject.name : labels.pod;
  if (!namespace || !pod) return undefined;
  return { namespace, pod, container: subject.container ?? labels.container };
}

/** The expression of a Prometheus graph link (`/graph?g0.expr=...`), if the issue has one. */
export function graphExpr(links: Issue['links']): string | undefined {
  for (const l of links) {
    if (l.type !== 'graph') continue;
    try {
      const expr = new URL(l.url).searchParams.get('g0.expr');
      if (expr?.trim()) return expr.trim();
    } catch {}
  }
  return undefined;
}
