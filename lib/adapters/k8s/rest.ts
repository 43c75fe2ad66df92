// Cluster access without @kubernetes/client-node, for what the agent runs with: the pod's
// service account, or a kubeconfig with a token, basic auth or a client certificate. The
// library costs ~150 ms and ~40 MiB to load, for what this module does in a few lines;
// kubeconfigs that need it (exec plugins, auth providers, proxies, impersonation) still get
// their credentials from it (client.ts). Either way the reads are reader.ts's GETs.
import { readFileSync } from 'node:fs';
import { type Agent, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KubeReader } from '../../domain/kube.ts';
import { KubeApiError } from '../../domain/kube-errors.ts';
import { cjsExports } from '../../platform/cjs.ts';
import { type Access, createKubeHttpReader } from './reader.ts';

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

/** TLS settings for the API server's connections, from a kubeconfig or the service account. */
export type TlsSettings = Pick<RestCluster, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

/** One keep-alive pool per API server: one TLS handshake, not one per request. */
export function keepAliveAgent(server: string, tls: TlsSettings): Agent {
  if (new URL(server).protocol !== 'https:') return new HttpAgent({ keepAlive: true });
  return new HttpsAgent({
    keepAlive: true,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  });
}

/** The bearer token (read again as it rotates) or basic credentials, on one keep-alive agent. */
export function restAccess(cluster: RestCluster): Access {
  const agent = keepAliveAgent(cluster.server, cluster);
  const basic = cluster.basic
    ? `Basic ${Buffer.from(`${cluster.basic.username}:${cluster.basic.password}`).toString('base64')}`
    : undefined;
  const none = { headers: {}, agent };
  return () => {
    const token = cluster.token?.();
    if (token) return { headers: { authorization: `Bearer ${token}` }, agent };
    return basic === undefined ? none : { headers: { authorization: basic }, agent };
  };
}

/** The KubeReader over one RestCluster. */
export function createRestKubeReader(cluster: RestCluster, timeoutMs: number): KubeReader {
  return createKubeHttpReader(cluster.server, restAccess(cluster), timeoutMs);
}
