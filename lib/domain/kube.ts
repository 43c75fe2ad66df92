// The agent's view of the Kubernetes API: the few reads the enrichers need, behind an interface
// so enrichers are tested against fakes or a stand-in server, never a real cluster.
import type * as k8s from '@kubernetes/client-node';

/**
 * An API object as the API server sends it: client-node's model of it (field names and docs)
 * with every timestamp the RFC 3339 string on the wire, where client-node's own deserializer
 * would make a Date. Every KubeReader returns this shape (lib/adapters/k8s/reader.ts).
 */
export type AsJson<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? AsJson<U>[]
    : T extends object
      ? { [K in keyof T]: AsJson<T[K]> }
      : T;

export type CoreV1Event = AsJson<k8s.CoreV1Event>;
export type V1DaemonSet = AsJson<k8s.V1DaemonSet>;
export type V1Deployment = AsJson<k8s.V1Deployment>;
export type V1Job = AsJson<k8s.V1Job>;
export type V1CronJob = AsJson<k8s.V1CronJob>;
export type V1StorageClass = AsJson<k8s.V1StorageClass>;
export type V1Node = AsJson<k8s.V1Node>;
export type V1PersistentVolumeClaim = AsJson<k8s.V1PersistentVolumeClaim>;
export type V1Pod = AsJson<k8s.V1Pod>;
export type V1ReplicaSet = AsJson<k8s.V1ReplicaSet>;
export type V1StatefulSet = AsJson<k8s.V1StatefulSet>;
export type V1Container = AsJson<k8s.V1Container>;
export type V1ContainerStatus = AsJson<k8s.V1ContainerStatus>;
export type V1ControllerRevision = AsJson<k8s.V1ControllerRevision>;
export type V1PodTemplateSpec = AsJson<k8s.V1PodTemplateSpec>;
/** An object's metadata alone (`as=PartialObjectMetadata`): a ConfigMap read without its data. */
export type PartialObjectMetadata = AsJson<{
  apiVersion?: string;
  kind?: string;
  metadata?: k8s.V1ObjectMeta;
}>;

/** Workload kinds whose pods enrich-pod finds through the selector. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
export type Workload = V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet | V1Job;

export function isWorkloadKind(kind: string): kind is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

/** Per-call options; `signal` lets a caller with a time budget abandon the request. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** One page of a list: `limit` items at most, `continue` from the previous page's token. */
export interface ListOptions extends CallOptions {
  limit?: number;
  continue?: string;
}

export interface LogOptions extends CallOptions {
  container: string;
  /** The log of the container's previous instance (the one that crashed). */
  previous?: boolean;
  tailLines?: number;
  limitBytes?: number;
}

export interface EventQuery extends ListOptions {
  /** involvedObject.name */
  name: string;
  /** involvedObject.kind (Pod, Node, ...). */
  kind?: string;
  /**
   * involvedObject.namespace. Omit it for cluster-scoped objects: a Node's events live in the
   * `default` namespace but their involvedObject.namespace is empty.
   */
  namespace?: string;
}

/** One page of a list; `continue` (and `more`) are set when the server holds items past the limit. */
export interface Page<T> {
  items: T[];
  more: boolean;
  continue?: string;
}

/**
 * Kinds a workflow's code may read (ctx.k8s), with where they live. No Secrets, ConfigMaps or
 * anything else that may hold credentials; run-workflows' Role grants get/list on these only.
 */
export const READABLE_KINDS = {
  Pod: { group: '/api/v1', plural: 'pods', namespaced: true },
  Event: { group: '/api/v1', plural: 'events', namespaced: true },
  Service: { group: '/api/v1', plural: 'services', namespaced: true },
  PersistentVolumeClaim: { group: '/api/v1', plural: 'persistentvolumeclaims', namespaced: true },
  Node: { group: '/api/v1', plural: 'nodes', namespaced: false },
  Namespace: { group: '/api/v1', plural: 'namespaces', namespaced: false },
  Deployment: { group: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  StatefulSet: { group: '/apis/apps/v1', plural: 'statefulsets', namespaced: true },
  DaemonSet: { group: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
  ReplicaSet: { group: '/apis/apps/v1', plural: 'replicasets', namespaced: true },
  Job: { group: '/apis/batch/v1', plural: 'jobs', namespaced: true },
  CronJob: { group: '/apis/batch/v1', plural: 'cronjobs', namespaced: true },
} as const;
export type ReadableKind = keyof typeof READABLE_KINDS;

export function isReadableKind(kind: unknown): kind is ReadableKind {
  return typeof kind === 'string' && Object.hasOwn(READABLE_KINDS, kind);
}

/** The API path of a readable kind's collection (namespace ignored for cluster-scoped kinds). */
export function collectionPath(kind: ReadableKind, namespace: string | undefined): string {
  const k = READABLE_KINDS[kind];
  const ns = k.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${k.group}${ns}/${k.plural}`;
}

export interface ObjectQuery extends ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Every method rejects with a KubeApiError (lib/domain/kube-errors.ts), never a raw client error. */
export interface KubeReader {
  /** Any readable kind by name (ctx.k8s.get of a workflow). */
  getObject(kind: ReadableKind, name: string, namespace?: string, opts?: CallOptions): Promise<unknown>;
  /** One page of a readable kind, across namespaces when none is given. */
  listObjects(kind: ReadableKind, namespace: string | undefined, query: ObjectQuery): Promise<Page<unknown>>;
  readPod(namespace: string, name: string, opts?: CallOptions): Promise<V1Pod>;
  readPodLog(namespace: string, name: string, opts: LogOptions): Promise<string>;
  /** core/v1 Events whose involvedObject matches the query, in the order the server lists them. */
  listEvents(namespace: string, query: EventQuery): Promise<Page<CoreV1Event>>;
  readNode(name: string, opts?: CallOptions): Promise<V1Node>;
  listPodsOnNode(node: string, opts?: ListOptions): Promise<Page<V1Pod>>;
  /** Pods of one namespace matching a label selector (a workload's pods). */
  listPods(namespace: string, labelSelector: string, opts?: ListOptions): Promise<Page<V1Pod>>;
  readWorkload(kind: WorkloadKind, namespace: string, name: string, opts?: CallOptions): Promise<Workload>;
  readPersistentVolumeClaim(
    namespace: string,
    name: string,
    opts?: CallOptions,
  ): Promise<V1PersistentVolumeClaim>;
  /** ReplicaSets of one namespace matching a label selector (a Deployment's revisions). */
  listReplicaSets(namespace: string, labelSelector: string, opts?: ListOptions): Promise<Page<V1ReplicaSet>>;
  /** ControllerRevisions matching a label selector (a StatefulSet's or DaemonSet's revisions). */
  listControllerRevisions(
    namespace: string,
    labelSelector: string,
    opts?: ListOptions,
  ): Promise<Page<V1ControllerRevision>>;
  readCronJob(namespace: string, name: string, opts?: CallOptions): Promise<V1CronJob>;
  /** Jobs of one namespace (a CronJob's runs are told apart by their ownerReferences). */
  listJobs(namespace: string, opts?: ListOptions): Promise<Page<V1Job>>;
  readStorageClass(name: string, opts?: CallOptions): Promise<V1StorageClass>;
  /** Nodes of the cluster, page by page (where a DaemonSet should run). */
  listNodes(opts?: ListOptions): Promise<Page<V1Node>>;
  /** A ConfigMap's metadata only: when it changed, never what it holds. */
  readConfigMapMetadata(namespace: string, name: string, opts?: CallOptions): Promise<PartialObjectMetadata>;
}

/** Builds the core/v1 field selector for an object's events (exported for the adapter and fakes). */
export function eventFieldSelector(query: Pick<EventQuery, 'name' | 'kind' | 'namespace'>): string {
  const parts = [`involvedObject.name=${query.name}`];
  if (query.namespace !== undefined) parts.push(`involvedObject.namespace=${query.namespace}`);
  if (query.kind !== undefined) parts.push(`involvedObject.kind=${query.kind}`);
  return parts.join(',');
}

interface LabelSelectorLike {
  matchLabels?: Record<string, string> | undefined;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | undefined }> | undefined;
}

/**
 * A metav1.LabelSelector as the `labelSelector` query string (what kubectl sends). Undefined when
 * the selector selects nothing usable (empty or an unknown operator): listing every pod of the
 * namespace instead would be wrong and costly.
 */
export function labelSelectorString(sel: LabelSelectorLike | undefined): string | undefined {
  const parts = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else return undefined;
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}
