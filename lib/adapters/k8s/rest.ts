// The enrichers' eight reads as plain HTTPS GETs to the API server, for the cluster access the
// agent runs with: the pod's service account, or a kubeconfig with a token or client
// certificate. @kubernetes/client-node costs ~150 ms and ~40 MiB to load, for requests this
// module makes in a few lines; kubeconfigs that need the library (exec plugins, auth providers,
// proxies, impersonation) still go through it (client.ts falls back to it).
// Objects come back as the API server's JSON: timestamps are ISO strings, which the enrichers
// read as well as client-node's Date objects (lib/domain/diagnose/describe.ts).
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type {
  CallOptions,
  CoreV1Event,
  EventQuery,
  KubeReader,
  ListOptions,
  LogOptions,
  Page,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  Workload,
  WorkloadKind,
} from '../../domain/kube.ts';
import { eventFieldSelector } from '../../domain/kube.ts';
import {
  formatSeconds,
  KNOWN_STATUS_REASONS,
  KubeApiError,
  parseStatus,
  reasonForCode,
} from '../../domain/kube-errors.ts';
import { cjsExports } from '../../platform/cjs.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Where and how to reach one API server. */
export interface RestCluster {
  /** `https://host:port`, no trailing slash. */
  server: string;
  ca?: string | Buffer | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  /** false only with `insecure-skip-tls-verify: true`. */
  rejectUnauthorized: boolean;
  servername?: string | undefined;
  /** The bearer token for the next request, if any. */
  token?: (() => string | undefined) | undefined;
  basic?: { username: string; password: string } | undefined;
}

/** Fails the way client-node does with a config it cannot use: a KubeApiError ConfigError. */
function configError(message: string, cause?: unknown): KubeApiError {
  return new KubeApiError(0, 'ConfigError', 'could not load the cluster configuration', {
    cause: cause ?? new Error(message),
  });
}

/** A token file read again once a minute, as client-node does: projected tokens rotate. */
function tokenFile(path: string): () => string {
  let token = '';
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > 60_000) {
      token = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

/** The pod's service account, as client-node's loadFromCluster sets it up. */
export function inClusterRest(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): RestCluster {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const serverHost = host && isIPv6(host) ? `[${host}]` : host;
  try {
    return {
      server: `${scheme}://${serverHost}:${port}`,
      ca: readFileSync(`${dir}/ca.crt`),
      rejectUnauthorized: true,
      token: tokenFile(`${dir}/token`),
    };
  } catch (err) {
    throw configError('cannot read the service account', err);
  }
}

type Entry = Record<string, unknown>;
const named = (list: unknown, name: unknown): Entry | undefined =>
  Array.isArray(list) ? (list as Entry[]).find((e) => e?.name === name) : undefined;
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** User settings only client-node implements; a kubeconfig using any of them goes through it. */
const LIBRARY_ONLY_USER = ['exec', 'auth-provider', 'as', 'as-groups', 'as-user-extra', 'tokenFile'];

/**
 * The current context of a kubeconfig file as a RestCluster; undefined when it needs client-node
 * (see LIBRARY_ONLY_USER, or a proxy). Rejects with a ConfigError when it is unusable.
 */
export async function kubeconfigRest(path: string): Promise<RestCluster | undefined> {
  let doc: Entry;
  try {
    const { parse } = cjsExports(await import('yaml'));
    doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Entry;
  } catch (err) {
    throw configError(`cannot read ${path}`, err);
  }
  const context = named(doc.contexts, doc['current-context'])?.context as Entry | undefined;
  const cluster = named(doc.clusters, context?.cluster)?.cluster as Entry | undefined;
  const userEntry = named(doc.users, context?.user);
  const user = (userEntry?.user ?? {}) as Entry;
  const server = str(cluster?.server);
  if (!context || !cluster || !server) throw configError(`${path}: no usable current context`);
  if (cluster['proxy-url'] !== undefined || LIBRARY_ONLY_USER.some((k) => user[k] !== undefined)) {
    return undefined;
  }
  // Relative file paths are relative to the kubeconfig, as kubectl and client-node read them.
  const file = (p: unknown) => {
    const s = str(p);
    return s === undefined ? undefined : readFileSync(isAbsolute(s) ? s : resolve(dirname(path), s));
  };
  const data = (d: unknown) => (str(d) === undefined ? undefined : Buffer.from(d as string, 'base64'));
  try {
    const token = str(user.token);
    const username = str(user.username);
    return {
      server: server.replace(/\/$/, ''),
      ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
      cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
      key: data(user['client-key-data']) ?? file(user['client-key']),
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
      servername: str(cluster['tls-server-name']),
      token: token === undefined ? undefined : () => token,
      basic: username === undefined ? undefined : { username, password: String(user.password ?? '') },
    };
  } catch (err) {
    throw configError(`${path}: cannot read a certificate or key file`, err);
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** The KubeReader over one RestCluster: one keep-alive agent, every failure a KubeApiError. */
export function createRestKubeReader(cluster: RestCluster, timeoutMs: number): KubeReader {
  const base = new URL(cluster.server);
  const tls = base.protocol === 'https:';
  const agent = tls
    ? new HttpsAgent({
        keepAlive: true,
        ca: cluster.ca,
        cert: cluster.cert,
        key: cluster.key,
        rejectUnauthorized: cluster.rejectUnauthorized,
        ...(cluster.servername === undefined ? {} : { servername: cluster.servername }),
      })
    : new HttpAgent({ keepAlive: true });
  const prefix = base.pathname.replace(/\/$/, '');

  async function get(what: string, path: string, query: Query, opts: CallOptions | undefined) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts?.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    const url = new URL(prefix + path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json, */*' };
    const token = cluster.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    else if (cluster.basic) {
      headers.authorization = `Basic ${Buffer.from(`${cluster.basic.username}:${cluster.basic.password}`).toString('base64')}`;
    }
    let status: number;
    let body: string;
    try {
      ({ status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
        const req = (tls ? httpsRequest : httpRequest)(
          url,
          { agent, headers, signal },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
            );
            res.on('error', fail);
          },
        );
        req.on('error', fail);
        req.end();
      }));
    } catch (err) {
      if (timeout.aborted) {
        throw new KubeApiError(0, 'Timeout', `timed out after ${formatSeconds(timeoutMs)}`, { cause: err });
      }
      if (opts?.signal?.aborted) throw new KubeApiError(0, 'Timeout', 'time budget spent', { cause: err });
      const code = (err as { code?: unknown })?.code;
      if (typeof code === 'string') {
        throw new KubeApiError(0, 'NetworkError', `network error (${code})`, { cause: err });
      }
      throw new KubeApiError(0, 'Unknown', `${what}: unexpected error`, { cause: err });
    }
    if (status < 200 || status > 299) {
      const s = parseStatus(body);
      const reason =
        s?.reason !== undefined && KNOWN_STATUS_REASONS.has(s.reason)
          ? (s.reason as KubeApiError['reason'])
          : reasonForCode(status);
      throw new KubeApiError(status, reason, `${what}: ${reason} (${status})`, {
        cause: new Error(`HTTP ${status}`),
        ...(s?.message === undefined ? {} : { detail: s.message }),
      });
    }
    return body;
  }

  const json = async <T>(what: string, path: string, query: Query, opts: CallOptions | undefined) => {
    const body = await get(what, path, query, opts);
    try {
      return JSON.parse(body) as T;
    } catch (err) {
      throw new KubeApiError(0, 'Unknown', `${what}: unexpected error`, { cause: err });
    }
  };
  const list = async <T>(what: string, path: string, query: Query, o: ListOptions | undefined) => {
    const l = await json<{ items?: T[]; metadata?: { continue?: string } }>(
      what,
      path,
      { ...query, limit: o?.limit, continue: o?.continue },
      o,
    );
    const token = l.metadata?.continue;
    const items = l.items ?? [];
    return (token ? { items, more: true, continue: token } : { items, more: false }) as Page<T>;
  };
  const ns = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  const seg = encodeURIComponent;

  return {
    readPod: (namespace, name, o) =>
      json<V1Pod>(`read pod ${namespace}/${name}`, `${ns(namespace)}/pods/${seg(name)}`, {}, o),
    readPodLog: (namespace, name, o: LogOptions) =>
      get(
        `read logs of ${namespace}/${name}`,
        `${ns(namespace)}/pods/${seg(name)}/log`,
        { container: o.container, previous: o.previous, tailLines: o.tailLines, limitBytes: o.limitBytes },
        o,
      ),
    listEvents: (namespace, q: EventQuery) =>
      list<CoreV1Event>(
        `list events of ${q.kind ?? 'object'} ${q.name}`,
        `${ns(namespace)}/events`,
        { fieldSelector: eventFieldSelector(q) },
        q,
      ),
    readNode: (name, o) => json<V1Node>(`read node ${name}`, `/api/v1/nodes/${seg(name)}`, {}, o),
    listPodsOnNode: (node, o?: ListOptions) =>
      list<V1Pod>(`list pods on node ${node}`, '/api/v1/pods', { fieldSelector: `spec.nodeName=${node}` }, o),
    listPods: (namespace, labelSelector, o?: ListOptions) =>
      list<V1Pod>(`list pods in ${namespace}`, `${ns(namespace)}/pods`, { labelSelector }, o),
    readWorkload: (kind: WorkloadKind, namespace, name, o) => {
      const group = kind === 'Job' ? '/apis/batch/v1' : '/apis/apps/v1';
      const path = `${group}/namespaces/${seg(namespace)}/${kind.toLowerCase()}s/${seg(name)}`;
      return json<Workload>(`read ${kind.toLowerCase()} ${namespace}/${name}`, path, {}, o);
    },
    readPersistentVolumeClaim: (namespace, name, o) =>
      json<V1PersistentVolumeClaim>(
        `read persistentvolumeclaim ${namespace}/${name}`,
        `${ns(namespace)}/persistentvolumeclaims/${seg(name)}`,
        {},
        o,
      ),
  };
}
