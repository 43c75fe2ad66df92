// The KubeReader as plain GETs to the API server, whoever provides the credentials: rest.ts
// (the service account, token and certificate kubeconfigs) or client-node (client.ts: exec
// plugins, auth providers, proxies). Objects come back as the API server sends them, JSON with
// ISO timestamps (lib/domain/kube.ts), whichever provided the credentials.
import { type Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type {
  CallOptions,
  CoreV1Event,
  EventQuery,
  KubeReader,
  ListOptions,
  LogOptions,
  Page,
  PartialObjectMetadata,
  V1ControllerRevision,
  V1CronJob,
  V1Job,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  V1ReplicaSet,
  V1StorageClass,
  Workload,
  WorkloadKind,
} from '../../domain/kube.ts';
import { collectionPath, eventFieldSelector } from '../../domain/kube.ts';
import {
  formatSeconds,
  KNOWN_STATUS_REASONS,
  KubeApiError,
  parseStatus,
  reasonForCode,
} from '../../domain/kube-errors.ts';

/** What one request needs to reach the API server: its credentials (headers) and connection pool. */
export interface RequestAccess {
  headers: Record<string, string>;
  agent: Agent;
}

/** Called before every request: tokens rotate (projected tokens, exec plugins). */
export type Access = () => RequestAccess | Promise<RequestAccess>;

type Query = Record<string, string | number | boolean | undefined>;

/** GETs under one API server; every failure a KubeApiError. */
export class KubeHttp {
  private readonly base: URL;
  private readonly prefix: string;
  private readonly tls: boolean;
  private readonly access: Access;
  private readonly timeoutMs: number;

  constructor(server: string, access: Access, timeoutMs: number) {
    this.base = new URL(server);
    this.prefix = this.base.pathname.replace(/\/$/, '');
    this.tls = this.base.protocol === 'https:';
    this.access = access;
    this.timeoutMs = timeoutMs;
  }

  /** The body of a 2xx answer as text; `accept` asks for another representation (metadata only). */
  async text(
    what: string,
    path: string,
    query: Query,
    opts: CallOptions | undefined,
    accept = 'application/json, */*',
  ): Promise<string> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts?.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    const url = new URL(this.prefix + path, this.base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    let answer: { status: number; body: string };
    try {
      const { headers, agent } = await this.access();
      answer = await this.get(url, {
        agent,
        headers: { accept, ...headers },
        signal,
      });
    } catch (err) {
      throw this.failure(what, err, timeout.aborted, opts?.signal?.aborted === true);
    }
    if (answer.status < 200 || answer.status > 299) throw statusError(what, answer.status, answer.body);
    return answer.body;
  }

  async json<T>(
    what: string,
    path: string,
    query: Query,
    opts: CallOptions | undefined,
    accept?: string,
  ): Promise<T> {
    const body = await this.text(what, path, query, opts, accept);
    try {
      return JSON.parse(body) as T;
    } catch (err) {
      throw new KubeApiError(0, 'Unknown', `${what}: unexpected error`, { cause: err });
    }
  }

  /** One page of a list; the server's continue token says whether more remain. */
  async list<T>(what: string, path: string, query: Query, o: ListOptions | undefined): Promise<Page<T>> {
    const l = await this.json<{ items?: T[]; metadata?: { continue?: string } }>(
      what,
      path,
      { ...query, limit: o?.limit, continue: o?.continue },
      o,
    );
    const token = l.metadata?.continue;
    const items = l.items ?? [];
    return token ? { items, more: true, continue: token } : { items, more: false };
  }

  /**
   * One GET. A keep-alive socket the server closed while it sat idle fails the next request sent on
   * it before any answer (ECONNRESET, EPIPE): that GET is sent once more, on a fresh socket, as
   * Node's documentation advises for idempotent requests.
   */
  private get(
    url: URL,
    options: { agent: Agent; headers: Record<string, string>; signal: AbortSignal },
    retried = false,
  ): Promise<{ status: number; body: string }> {
    return new Promise((done, fail) => {
      let answered = false;
      const req = (this.tls ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', fail);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && !answered && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        if (stale && !retried && !options.signal.aborted) this.get(url, options, true).then(done, fail);
        else fail(err);
      });
      req.end();
    });
  }

  /** A request that got no answer: timed out, abandoned by the caller, or a network failure. */
  private failure(what: string, err: unknown, timedOut: boolean, abandoned: boolean): KubeApiError {
    if (err instanceof KubeApiError) return err;
    if (timedOut) {
      return new KubeApiError(0, 'Timeout', `timed out after ${formatSeconds(this.timeoutMs)}`, {
        cause: err,
      });
    }
    if (abandoned) return new KubeApiError(0, 'Timeout', 'time budget spent', { cause: err });
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string') {
      return new KubeApiError(0, 'NetworkError', `network error (${code})`, { cause: err });
    }
    return new KubeApiError(0, 'Unknown', `${what}: unexpected error`, { cause: err });
  }
}

/** A non-2xx answer, with the reason of the API server's Status when it is one we know. */
function statusError(what: string, status: number, body: string): KubeApiError {
  const s = parseStatus(body);
  const reason =
    s?.reason !== undefined && KNOWN_STATUS_REASONS.has(s.reason)
      ? (s.reason as KubeApiError['reason'])
      : reasonForCode(status);
  return new KubeApiError(status, reason, `${what}: ${reason} (${status})`, {
    cause: new Error(`HTTP ${status}`),
    ...(s?.message === undefined ? {} : { detail: s.message }),
  });
}

const seg = encodeURIComponent;
const ns = (namespace: string) => `/api/v1/namespaces/${seg(namespace)}`;

/**
 * Metadata only (the API server's server-side conversion): a ConfigMap's managedFields and
 * timestamps without its data, so no value it holds ever reaches this process.
 */
const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** The enrichers' reads and the workflows' generic get and list, against one API server. */
export function createKubeHttpReader(server: string, access: Access, timeoutMs: number): KubeReader {
  const http = new KubeHttp(server, access, timeoutMs);
  return {
    getObject: (kind, name, namespace, o) =>
      http.json<unknown>(
        `read ${kind.toLowerCase()} ${name}`,
        `${collectionPath(kind, namespace)}/${seg(name)}`,
        {},
        o,
      ),
    listObjects: (kind, namespace, q) =>
      http.list<unknown>(
        `list ${kind.toLowerCase()}`,
        collectionPath(kind, namespace),
        { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector },
        q,
      ),
    readPod: (namespace, name, o) =>
      http.json<V1Pod>(`read pod ${namespace}/${name}`, `${ns(namespace)}/pods/${seg(name)}`, {}, o),
    readPodLog: (namespace, name, o: LogOptions) =>
      http.text(
        `read logs of ${namespace}/${name}`,
        `${ns(namespace)}/pods/${seg(name)}/log`,
        { container: o.container, previous: o.previous, tailLines: o.tailLines, limitBytes: o.limitBytes },
        o,
      ),
    listEvents: (namespace, q: EventQuery) =>
      http.list<CoreV1Event>(
        `list events of ${q.kind ?? 'object'} ${q.name}`,
        `${ns(namespace)}/events`,
        { fieldSelector: eventFieldSelector(q) },
        q,
      ),
    readNode: (name, o) => http.json<V1Node>(`read node ${name}`, `/api/v1/nodes/${seg(name)}`, {}, o),
    listPodsOnNode: (node, o?: ListOptions) =>
      http.list<V1Pod>(
        `list pods on node ${node}`,
        '/api/v1/pods',
        { fieldSelector: `spec.nodeName=${node}` },
        o,
      ),
    listPods: (namespace, labelSelector, o?: ListOptions) =>
      http.list<V1Pod>(`list pods in ${namespace}`, `${ns(namespace)}/pods`, { labelSelector }, o),
    readWorkload: (kind: WorkloadKind, namespace, name, o) => {
      const group = kind === 'Job' ? '/apis/batch/v1' : '/apis/apps/v1';
      const path = `${group}/namespaces/${seg(namespace)}/${kind.toLowerCase()}s/${seg(name)}`;
      return http.json<Workload>(`read ${kind.toLowerCase()} ${namespace}/${name}`, path, {}, o);
    },
    readPersistentVolumeClaim: (namespace, name, o) =>
      http.json<V1PersistentVolumeClaim>(
        `read persistentvolumeclaim ${namespace}/${name}`,
        `${ns(namespace)}/persistentvolumeclaims/${seg(name)}`,
        {},
        o,
      ),
    listReplicaSets: (namespace, labelSelector, o?: ListOptions) =>
      http.list<V1ReplicaSet>(
        `list replicasets in ${namespace}`,
        `/apis/apps/v1/namespaces/${seg(namespace)}/replicasets`,
        { labelSelector },
        o,
      ),
    listControllerRevisions: (namespace, labelSelector, o?: ListOptions) =>
      http.list<V1ControllerRevision>(
        `list controllerrevisions in ${namespace}`,
        `/apis/apps/v1/namespaces/${seg(namespace)}/controllerrevisions`,
        { labelSelector },
        o,
      ),
    readCronJob: (namespace, name, o) =>
      http.json<V1CronJob>(
        `read cronjob ${namespace}/${name}`,
        `/apis/batch/v1/namespaces/${seg(namespace)}/cronjobs/${seg(name)}`,
        {},
        o,
      ),
    listJobs: (namespace, o?: ListOptions) =>
      http.list<V1Job>(
        `list jobs in ${namespace}`,
        `/apis/batch/v1/namespaces/${seg(namespace)}/jobs`,
        {},
        o,
      ),
    readStorageClass: (name, o) =>
      http.json<V1StorageClass>(
        `read storageclass ${name}`,
        `/apis/storage.k8s.io/v1/storageclasses/${seg(name)}`,
        {},
        o,
      ),
    listNodes: (o?: ListOptions) => http.list<V1Node>('list nodes', '/api/v1/nodes', {}, o),
    readConfigMapMetadata: (namespace, name, o) =>
      http.json<PartialObjectMetadata>(
        `read configmap ${namespace}/${name}`,
        `${ns(namespace)}/configmaps/${seg(name)}`,
        {},
        o,
        METADATA_ONLY,
      ),
  };
}
