// The real KubeReader: plain HTTPS GETs (reader.ts) with credentials from rest.ts for the
// service account and kubeconfigs with a token or client certificate, or from
// @kubernetes/client-node for the kubeconfigs only it understands (exec plugins, auth providers,
// proxies). The library is imported lazily: it costs ~150 ms and ~40 MiB to load, which no cold
// start should pay before it must. Its API classes are not used: they turn timestamps into Date
// objects, where every reader returns the API server's JSON (lib/domain/kube.ts).
import { existsSync } from 'node:fs';
import { Agent } from 'node:http';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeReader } from '../../domain/kube.ts';
import { KubeApiError } from '../../domain/kube-errors.ts';
import { type Access, createKubeHttpReader } from './reader.ts';
import {
  createRestKubeReader,
  inClusterRest,
  keepAliveAgent,
  kubeconfigRest,
  type TlsSettings,
} from './rest.ts';

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

/**
 * The adapter for what rest.ts does not handle: client-node loads the kubeconfig and provides
 * each request's credentials (an exec plugin's token, refreshed as it expires) and, behind a
 * proxy, its proxy agent; the requests are reader.ts's, so objects are the API server's JSON.
 */
export async function createClientNodeReader(opts: KubeReaderOptions = {}): Promise<KubeReader> {
  const mod = await loadClientModule();
  let kc: KubeConfig;
  let server: string | undefined;
  try {
    kc = new mod.KubeConfig();
    if (opts.kubeconfigPath !== undefined) kc.loadFromFile(opts.kubeconfigPath);
    else if (opts.inCluster) kc.loadFromCluster();
    else kc.loadFromDefault();
    server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('no current cluster');
  } catch (err) {
    throw new KubeApiError(0, 'ConfigError', 'could not load the cluster configuration', { cause: err });
  }
  return createKubeHttpReader(
    server,
    clientNodeAccess(kc, server),
    opts.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS,
  );
}

/**
 * client-node's credentials for each request (applyToHTTPSOptions, what its own watches use).
 * Its agent is taken only behind a proxy: without one it would be a pool without keep-alive,
 * a TLS handshake per request, so the API server gets a keep-alive pool of ours instead.
 */
function clientNodeAccess(kc: KubeConfig, server: string): Access {
  let agent: Agent | undefined;
  return async () => {
    const o: RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(o);
    const proxied = kc.getCurrentCluster()?.proxyUrl && o.agent instanceof Agent;
    agent ??= proxied ? (o.agent as Agent) : keepAliveAgent(server, tlsOf(o));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = String(v);
    // Basic auth comes as `auth`, which node would send as its own Authorization header.
    if (o.auth) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    return { headers, agent };
  };
}

function tlsOf(o: RequestOptions): TlsSettings {
  return {
    ca: o.ca as string | Buffer | undefined,
    cert: o.cert as string | Buffer | undefined,
    key: o.key as string | Buffer | undefined,
    rejectUnauthorized: o.rejectUnauthorized !== false,
    servername: o.servername,
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
