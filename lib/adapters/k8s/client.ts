// The real KubeReader: plain HTTPS GETs (rest.ts) for the service account and for kubeconfigs
// with a token or client certificate; @kubernetes/client-node for the kubeconfigs only it
// understands (exec plugins, auth providers, proxies). The library is imported lazily: it
// costs ~150 ms and ~40 MiB to load, which no cold start should pay before it must.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type {
  CallOptions,
  CoreV1Event,
  EventQuery,
  KubeReader,
  ListOptions,
  LogOptions,
  Page,
  V1Pod,
  Workload,
  WorkloadKind,
} from '../../domain/kube.ts';
import { eventFieldSelector } from '../../domain/kube.ts';
import {
  formatSeconds,
  KNOWN_STATUS_REASONS,
  KubeApiError,
  type KubeErrorReason,
  parseStatus,
  reasonForCode,
} from '../../domain/kube-errors.ts';
import { createRestKubeReader, inClusterRest, kubeconfigRest } from './rest.ts';

type ClientModule = typeof import('@kubernetes/client-node');

export const DEFAULT_KUBE_TIMEOUT_MS = 5000;
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where cluster credentials come from, in the order client-node's loadFromDefault tries them. */
export type ClusterAccess = { mode: 'kubeconfig'; path: string } | { mode: 'in-cluster' };

export interface DetectOptions {
  env?: NodeJS.ProcessEnv;
  exists?: (path: string) => boolean;
  home?: string;
}

/**
 * Tells whether any cluster is reachable in principle, without loading client-node. Without
 * this, loadFromDefault falls back to http://localhost:8080 and every call fails slowly.
 */
export function detectClusterAccess(opts: DetectOptions = {}): ClusterAccess | undefined {
  const env = opts.env ?? process.env;
  const exists = opts.exists ?? existsSync;
  const kubeconfig = env.KUBECONFIG?.split(delimiter).find((p) => p.length > 0);
  if (kubeconfig !== undefined)
    return exists(kubeconfig) ? { mode: 'kubeconfig', path: kubeconfig } : undefined;
  const home = opts.home ?? env.HOME ?? homedir();
  const defaultPath = join(home, '.kube', 'config');
  if (exists(defaultPath)) return { mode: 'kubeconfig', path: defaultPath };
  if (env.KUBERNETES_SERVICE_HOST && exists(SERVICE_ACCOUNT_TOKEN_PATH)) return { mode: 'in-cluster' };
  return undefined;
}

export interface KubeReaderOptions {
  /** Per-call timeout; default 5 s. */
  timeoutMs?: number;
  /** A kubeconfig file to use instead of KUBECONFIG / ~/.kube/config / in-cluster. */
  kubeconfigPath?: string;
  /** Use the pod's service account (in-cluster config) instead of any kubeconfig. */
  inCluster?: boolean;
}

let modulePromise: Promise<ClientModule> | undefined;
function loadClientModule(): Promise<ClientModule> {
  modulePromise ??= import('@kubernetes/client-node');
  return modulePromise;
}

/**
 * client-node 2.x builds a new undici Agent (its own connection pool and TLS handshake) for
 * every request and never closes it: an enricher's memory grew by hundreds of MiB over a few
 * thousand issues. One Agent per cluster, user and TLS settings is reused instead.
 */
function shareDispatcher(kc: KubeConfig): void {
  const target = kc as unknown as { createDispatcher?: (cluster: unknown, opts: unknown) => unknown };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return;
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster: unknown, agentOptions: unknown) => {
    const key = JSON.stringify([cluster, agentOptions], (_k, v) =>
      Buffer.isBuffer(v) ? v.toString('base64') : v,
    );
    if (!cache.has(key)) cache.set(key, original.call(kc, cluster, agentOptions));
    return cache.get(key);
  };
}

/** Builds the real adapter; rejects with a KubeApiError (ConfigError) when the config is unusable. */
export async function createKubeReader(
  opts: KubeReaderOptions & { env?: NodeJS.ProcessEnv } = {},
): Promise<KubeReader> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  const rest =
    opts.kubeconfigPath !== undefined
      ? await kubeconfigRest(opts.kubeconfigPath)
      : opts.inCluster
        ? inClusterRest(opts.env ?? process.env)
        : undefined;
  return rest ? createRestKubeReader(rest, timeoutMs) : createClientNodeReader(opts);
}

/** The adapter over @kubernetes/client-node, for what rest.ts does not handle. */
export async function createClientNodeReader(opts: KubeReaderOptions = {}): Promise<KubeReader> {
  const mod = await loadClientModule();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  let api: CoreV1Api;
  let apps: AppsV1Api;
  let batch: BatchV1Api;
  try {
    const kc: KubeConfig = new mod.KubeConfig();
    if (opts.kubeconfigPath !== undefined) kc.loadFromFile(opts.kubeconfigPath);
    else if (opts.inCluster) kc.loadFromCluster();
    else kc.loadFromDefault();
    shareDispatcher(kc);
    api = kc.makeApiClient(mod.CoreV1Api);
    apps = kc.makeApiClient(mod.AppsV1Api);
    batch = kc.makeApiClient(mod.BatchV1Api);
  } catch (err) {
    throw new KubeApiError(0, 'ConfigError', 'could not load the cluster configuration', { cause: err });
  }

  async function call<T>(what: string, callOpts: CallOptions | undefined, fn: (o: object) => Promise<T>) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = callOpts?.signal ? AbortSignal.any([timeout, callOpts.signal]) : timeout;
    // client-node has no per-call timeout option; a middleware hands the signal to undici fetch.
    const options = {
      middleware: [
        {
          pre: (ctx: { setSignal(s: AbortSignal): void }) => {
            ctx.setSignal(signal);
            return new mod.Observable(Promise.resolve(ctx));
          },
          post: <R>(ctx: R) => new mod.Observable(Promise.resolve(ctx)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
    try {
      return await fn(options);
    } catch (err) {
      throw toKubeApiError(err, what, {
        timedOut: timeout.aborted,
        abandoned: callOpts?.signal?.aborted === true,
        timeoutMs,
      });
    }
  }

  return {
    readPod: (namespace, name, o) =>
      call(`read pod ${namespace}/${name}`, o, (options) =>
        api.readNamespacedPod({ namespace, name }, options),
      ),
    readPodLog: (namespace, name, o: LogOptions) =>
      call(`read logs of ${namespace}/${name}`, o, (options) =>
        api.readNamespacedPodLog(
          {
            namespace,
            name,
            container: o.container,
            ...(o.previous === undefined ? {} : { previous: o.previous }),
            ...(o.tailLines === undefined ? {} : { tailLines: o.tailLines }),
            ...(o.limitBytes === undefined ? {} : { limitBytes: o.limitBytes }),
          },
          options,
        ),
      ),
    listEvents: (namespace, q: EventQuery) =>
      call(
        `list events of ${q.kind ?? 'object'} ${q.name}`,
        q,
        async (options): Promise<Page<CoreV1Event>> =>
          page(
            await api.listNamespacedEvent(
              { namespace, fieldSelector: eventFieldSelector(q), ...pageParams(q) },
              options,
            ),
          ),
      ),
    readNode: (name, o) => call(`read node ${name}`, o, (options) => api.readNode({ name }, options)),
    listPodsOnNode: (node, o?: ListOptions) =>
      call(
        `list pods on node ${node}`,
        o,
        async (options): Promise<Page<V1Pod>> =>
          page(
            await api.listPodForAllNamespaces(
              { fieldSelector: `spec.nodeName=${node}`, ...pageParams(o) },
              options,
            ),
          ),
      ),
    listPods: (namespace, labelSelector, o?: ListOptions) =>
      call(
        `list pods in ${namespace}`,
        o,
        async (options): Promise<Page<V1Pod>> =>
          page(await api.listNamespacedPod({ namespace, labelSelector, ...pageParams(o) }, options)),
      ),
    readWorkload: (kind: WorkloadKind, namespace, name, o) =>
      call(`read ${kind.toLowerCase()} ${namespace}/${name}`, o, (options): Promise<Workload> => {
        const req = { namespace, name };
        switch (kind) {
          case 'Deployment':
            return apps.readNamespacedDeployment(req, options);
          case 'StatefulSet':
            return apps.readNamespacedStatefulSet(req, options);
          case 'DaemonSet':
            return apps.readNamespacedDaemonSet(req, options);
          case 'ReplicaSet':
            return apps.readNamespacedReplicaSet(req, options);
          case 'Job':
            return batch.readNamespacedJob(req, options);
        }
      }),
    readPersistentVolumeClaim: (namespace, name, o) =>
      call(`read persistentvolumeclaim ${namespace}/${name}`, o, (options) =>
        api.readNamespacedPersistentVolumeClaim({ namespace, name }, options),
      ),
  };
}

/** The adapter when a cluster is configured, undefined when there is none ("no cluster access"). */
export async function createKubeReaderFromEnv(
  opts: KubeReaderOptions & DetectOptions = {},
): Promise<KubeReader | undefined> {
  if (opts.kubeconfigPath !== undefined) return createKubeReader(opts);
  // Load what was detected from the given env, not whatever process.env says (tests pass their own).
  const access = detectClusterAccess(opts);
  if (access === undefined) return undefined;
  const base = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
  return access.mode === 'kubeconfig'
    ? createKubeReader({ ...base, kubeconfigPath: access.path })
    : createKubeReader({ ...base, inCluster: true, ...(opts.env ? { env: opts.env } : {}) });
}

function pageParams(o: ListOptions | undefined): { limit?: number; _continue?: string } {
  return {
    ...(o?.limit === undefined ? {} : { limit: o.limit }),
    ...(o?.continue === undefined ? {} : { _continue: o.continue }),
  };
}

function page<T>(list: { items: T[]; metadata?: { _continue?: string } }): Page<T> {
  const token = list.metadata?._continue;
  return token ? { items: list.items, more: true, continue: token } : { items: list.items, more: false };
}

/** Maps whatever client-node or undici threw into a KubeApiError; the original stays as `cause`. */
export function toKubeApiError(
  err: unknown,
  what: string,
  ctx: { timedOut: boolean; abandoned: boolean; timeoutMs: number },
): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (ctx.timedOut) {
    return new KubeApiError(0, 'Timeout', `timed out after ${formatSeconds(ctx.timeoutMs)}`, { cause: err });
  }
  if (ctx.abandoned) return new KubeApiError(0, 'Timeout', 'time budget spent', { cause: err });
  // client-node 2.x throws ApiException { code, body } where body is the raw Status JSON text.
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err) {
    const code = (err as unknown as { code: number }).code;
    const status = parseStatus((err as { body: unknown }).body);
    const reason: KubeErrorReason =
      status?.reason !== undefined && KNOWN_STATUS_REASONS.has(status.reason)
        ? (status.reason as KubeErrorReason)
        : reasonForCode(code);
    return new KubeApiError(code, reason, `${what}: ${reason} (${code})`, {
      cause: err,
      ...(status?.message === undefined ? {} : { detail: status.message }),
    });
  }
  const netCode = networkCode(err);
  if (netCode !== undefined)
    return new KubeApiError(0, 'NetworkError', `network error (${netCode})`, { cause: err });
  return new KubeApiError(0, 'Unknown', `${what}: unexpected error`, { cause: err });
}

/** undici reports "fetch failed" with the socket or TLS error as its cause. */
function networkCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return err instanceof TypeError && err.message === 'fetch failed' ? 'fetch failed' : undefined;
}
