// The agent's view of the Kubernetes API: the few reads the enrichers need, behind an interface
// so enrichers are tested against fakes or a stand-in server, never a real cluster.
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';

export type { CoreV1Event, V1Node, V1Pod };

/** Per-call options; `signal` lets a caller with a time budget abandon the request. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface LogOptions extends CallOptions {
  container: string;
  /** The log of the container's previous instance (the one that crashed). */
  previous?: boolean;
  tailLines?: number;
  limitBytes?: number;
}

export interface EventQuery extends CallOptions {
  /** involvedObject.name */
  name: string;
  /** involvedObject.kind (Pod, Node, ...). */
  kind?: string;
  /**
   * involvedObject.namespace. Omit it for cluster-scoped objects: a Node's events live in the
   * `default` namespace but their involvedObject.namespace is empty.
   */
  namespace?: string;
  limit?: number;
}

export interface PodListOptions extends CallOptions {
  limit?: number;
}

/** One page of a list; `more` is true when the server holds items past the limit. */
export interface Page<T> {
  items: T[];
  more: boolean;
}

/** Every method rejects with a KubeApiError (lib/k8s/errors.ts), never a raw client error. */
export interface KubeReader {
  readPod(namespace: string, name: string, opts?: CallOptions): Promise<V1Pod>;
  readPodLog(namespace: string, name: string, opts: LogOptions): Promise<string>;
  /** core/v1 Events whose involvedObject matches the query, in the order the server lists them. */
  listEvents(namespace: string, query: EventQuery): Promise<CoreV1Event[]>;
  readNode(name: string, opts?: CallOptions): Promise<V1Node>;
  listPodsOnNode(node: string, opts?: PodListOptions): Promise<Page<V1Pod>>;
}

/** Builds the core/v1 field selector for an object's events (exported for the adapter and fakes). */
export function eventFieldSelector(query: Pick<EventQuery, 'name' | 'kind' | 'namespace'>): string {
  const parts = [`involvedObject.name=${query.name}`];
  if (query.namespace !== undefined) parts.push(`involvedObject.namespace=${query.namespace}`);
  if (query.kind !== undefined) parts.push(`involvedObject.kind=${query.kind}`);
  return parts.join(',');
}
